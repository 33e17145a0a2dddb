//! Spans and metrics of a few statements: `cargo run --example observability --features
//! tracing,metrics`. Prints the spans as `tracing-subscriber`'s fmt output and the metrics as
//! Prometheus text (`metrics-exporter-prometheus`).

use std::time::Duration;

use metrics_exporter_prometheus::PrometheusBuilder;
use polyorm::exec::{Begin, Finish};
use polyorm::observe::{Metrics, Tracing};
use polyorm::prelude::*;

#[derive(Model, Debug, Clone)]
#[orm(table = "users")]
struct User {
    #[orm(primary_key, auto_increment)]
    id: i64,
    #[orm(unique, max_length = 120)]
    email: String,
}

#[tokio::main]
async fn main() -> polyorm::Result<()> {
    tracing_subscriber::fmt()
        .with_max_level(tracing::Level::INFO)
        .with_target(true)
        .without_time()
        .init();
    let prometheus = PrometheusBuilder::new()
        .install_recorder()
        .expect("the only metrics recorder");

    let metrics = Metrics::new();
    let plain = Db::connect("sqlite::memory:").await?;
    plain.create_table::<User>().await?;
    // Pool acquires reported (span, gauges, histogram); spans name the database.
    let db = plain.observe_pool().layer(metrics.clone()).layer(
        Tracing::new()
            .server(plain.server())
            .slow_query_threshold(Duration::from_micros(1)),
    );

    let ada = User {
        id: 0,
        email: "ada@example.com".into(),
    }
    .insert(&db)
    .await?;
    let found = User::find(&db, ada.id).await?;
    assert!(found.is_some());
    let duplicate = User {
        id: 0,
        email: "ada@example.com".into(),
    }
    .insert(&db)
    .await;
    assert!(duplicate.is_err());
    let tx = Begin::begin(&db).await?;
    User {
        id: 0,
        email: "bob@example.com".into(),
    }
    .insert(&tx)
    .await?;
    tx.commit().await?;

    println!("\n{:?}\n", metrics.stats());
    println!("{}", prometheus.render());
    Ok(())
}
