//! Private PostgreSQL servers configured for logical decoding, and the CLI helpers the tests
//! write with (the database's own client, not the ORM).

#![allow(dead_code)]

#[path = "../../../tests/support/servers.rs"]
pub mod servers;

use std::process::Command;
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use polyorm::Model;
use polyorm_changes::{Change, ChangeSource, ChangeStream, ModelChanges, Position};
use rust_decimal::Decimal;

pub use servers::{Kind, PrivateServer};

/// Settings a logical-decoding server needs; `output_plugin_libraries` only where the server
/// has that setting (some builds allow only listed output plugins).
pub fn logical_settings() -> Vec<&'static str> {
    let mut settings = vec![
        "wal_level=logical",
        "max_replication_slots=4",
        "max_wal_senders=4",
    ];
    let described = Command::new("/usr/lib/postgresql/15/bin/postgres")
        .arg("--describe-config")
        .output()
        .expect("run postgres --describe-config");
    if String::from_utf8_lossy(&described.stdout).contains("output_plugin_libraries") {
        settings.push("output_plugin_libraries=pgoutput,test_decoding,wal2json");
    }
    settings
}

/// A private PostgreSQL with `wal_level=logical`.
pub async fn logical_postgres() -> PrivateServer {
    PrivateServer::start_with(Kind::Postgres, &logical_settings()).await
}

/// Runs `sql` through `psql` against the server's `test` database; panics on failure.
pub fn psql(server: &PrivateServer, sql: &str) -> String {
    let out = Command::new("psql")
        .args(["-v", "ON_ERROR_STOP=1", "-X", "-q", "-t", "-A"])
        .args(["-h", "127.0.0.1", "-U", "postgres", "-d", "test"])
        .args(["-p", &server.port.to_string()])
        .args(["-c", sql])
        .env("PGPASSWORD", servers::PASSWORD)
        .output()
        .expect("run psql");
    assert!(
        out.status.success(),
        "psql failed on {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The model every source test streams.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "cdc_orders")]
pub struct Order {
    #[orm(primary_key, auto_increment)]
    pub id: i64,
    #[orm(max_length = 40)]
    pub customer: String,
    #[orm(precision = 10, scale = 2)]
    pub total: Decimal,
    pub placed_at: DateTime<Utc>,
    pub note: Option<String>,
    pub paid: bool,
    pub ref_id: uuid::Uuid,
    pub tags: serde_json::Value,
    pub blob: Vec<u8>,
}

pub fn order(customer: &str, cents: i64) -> Order {
    Order {
        id: 0,
        customer: customer.into(),
        total: Decimal::new(cents, 2),
        placed_at: Utc.with_ymd_and_hms(2024, 5, 1, 10, 30, 0).unwrap()
            + chrono::Duration::microseconds(123_456),
        note: None,
        paid: false,
        ref_id: uuid::Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
        tags: serde_json::json!({"rush": true, "n": [1, 2]}),
        blob: vec![0, 1, 254, 255],
    }
}

/// The next item, which must come within 20 s and decode.
pub async fn next_event<T>(stream: &mut ChangeStream<T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), stream.next())
        .await
        .expect("an event within 20 s")
        .expect("the stream is open")
        .expect("the event decodes")
}

/// Nothing more arrives within `wait`.
pub async fn assert_quiet<T: std::fmt::Debug>(stream: &mut ChangeStream<T>, wait: Duration) {
    if let Ok(item) = tokio::time::timeout(wait, stream.next()).await {
        panic!("expected no event, got {item:?}");
    }
}

/// Binlog settings for row-based change capture.
pub const BINLOG_SETTINGS: &[&str] = &[
    "--log-bin=binlog",
    "--binlog-format=ROW",
    "--binlog-row-image=FULL",
    "--binlog-row-metadata=FULL",
    "--server-id=1",
];

/// A private MariaDB writing a row-based binlog.
pub async fn binlog_mariadb() -> PrivateServer {
    PrivateServer::start_with(Kind::MariaDb, BINLOG_SETTINGS).await
}

/// Runs `sql` through the `mariadb` client against the server's `test` database.
pub fn mariadb(server: &PrivateServer, sql: &str) -> String {
    let out = Command::new("mariadb")
        .args(["-h", "127.0.0.1", "-u", "root", "-N", "-B", "test"])
        .args(["-P", &server.port.to_string()])
        .args(["-e", sql])
        .output()
        .expect("run mariadb");
    assert!(
        out.status.success(),
        "mariadb failed on {sql}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The body of a test binary's `consumer_child` test (started as a process of its own by
/// [`kill_and_resume_consumer`]): reads `source`, writes `E <position> <id>` for each event it
/// receives and `A <position>` once an acknowledgement returned, to `CDC_CHILD_OUT`, one
/// unbuffered write per line (so a kill loses nothing written).
pub async fn run_consumer(source: &dyn ChangeSource) {
    use std::io::Write;
    let out = std::env::var("CDC_CHILD_OUT").expect("started by the parent test");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(out)
        .unwrap();
    let mut stream = Order::changes(source)
        .buffer(4)
        .batch(16)
        .start()
        .await
        .unwrap();
    let mut received = 0;
    while let Some(event) = stream.next().await {
        let event = event.unwrap();
        let Change::Insert(row) = &event.change else {
            panic!("only inserts")
        };
        file.write_all(format!("E {} {}\n", event.meta.position, row.id).as_bytes())
            .unwrap();
        received += 1;
        // Slow, and acknowledging every 7th event only.
        tokio::time::sleep(Duration::from_millis(3)).await;
        if received % 7 == 0 {
            stream.ack(event.position()).await.unwrap();
            file.write_all(format!("A {}\n", event.meta.position).as_bytes())
                .unwrap();
        }
    }
}

fn spawn_consumer(url: &str, out: &std::path::Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "consumer_child",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("CDC_CHILD_URL", url)
        .env("CDC_CHILD_OUT", out)
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("start the consumer process")
}

/// `E` lines as (position, id) and the last `A` position of a consumer's output.
fn read_output(path: &std::path::Path) -> (Vec<(Position, i64)>, Option<Position>) {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let mut events = Vec::new();
    let mut acked = None;
    for line in text.lines() {
        let mut fields = line.split(' ');
        match fields.next() {
            Some("E") => events.push((
                fields.next().unwrap().parse().unwrap(),
                fields.next().unwrap().parse().unwrap(),
            )),
            Some("A") => acked = Some(fields.next().unwrap().parse().unwrap()),
            _ => panic!("unexpected line {line:?}"),
        }
    }
    (events, acked)
}

/// Starts the test binary's `consumer_child` as a process, SIGKILLs it mid-stream (after 100
/// of the inserted rows, whose ids are `ids`), starts another, and checks at-least-once
/// delivery: no row lost, nothing up to the last acknowledgement delivered again, duplicates
/// only after it, each run in order.
pub async fn kill_and_resume_consumer(server: &PrivateServer, ids: std::ops::RangeInclusive<i64>) {
    let rows = ids.clone().count();
    let dir = server.dir().to_owned();
    let (first_out, second_out) = (dir.join("consumer-1.log"), dir.join("consumer-2.log"));

    let mut first = spawn_consumer(&server.url(), &first_out);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while read_output(&first_out).0.len() < 100 {
        assert!(
            std::time::Instant::now() < deadline,
            "the consumer made no progress"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    first.kill().unwrap(); // SIGKILL, mid-stream
    first.wait().unwrap();
    let (first_events, acked) = read_output(&first_out);
    let acked = acked.expect("the consumer acknowledged before it was killed");
    assert!(
        first_events.len() < rows,
        "killed mid-stream: {}",
        first_events.len()
    );

    let mut second = spawn_consumer(&server.url(), &second_out);
    let all: std::collections::BTreeSet<i64> = ids.collect();
    loop {
        let (events, _) = read_output(&second_out);
        let seen: std::collections::BTreeSet<i64> = first_events
            .iter()
            .chain(&events)
            .map(|(_, id)| *id)
            .collect();
        if seen == all {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "events lost: {:?}",
            all.difference(&seen).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    second.kill().unwrap();
    second.wait().unwrap();
    let (second_events, _) = read_output(&second_out);
    // Nothing up to the acknowledged position comes again; the restart starts right after it.
    assert!(
        second_events.iter().all(|(p, _)| *p > acked),
        "re-delivered before {acked}"
    );
    // Duplicates are only changes after the acknowledgement that the first consumer had
    // received; each change arrives once per run, in order.
    let first_ids: std::collections::BTreeSet<i64> =
        first_events.iter().map(|(_, id)| *id).collect();
    let duplicates: Vec<&(Position, i64)> = second_events
        .iter()
        .filter(|(_, id)| first_ids.contains(id))
        .collect();
    assert!(duplicates.iter().all(|(p, _)| *p > acked));
    assert!(second_events.windows(2).all(|w| w[0].0 < w[1].0));
    assert_eq!(
        first_events.len() + second_events.len() - duplicates.len(),
        rows
    );
    eprintln!(
        "killed after {} events (acknowledged up to {acked}); {} redelivered",
        first_events.len(),
        duplicates.len()
    );
}
