//! Column defaults through migrations on the real servers, with rows present: columns with
//! `now()`, JSON, decimal and date defaults added to a table holding rows (which take the
//! defaults), the defaults changed and then removed; `verify` finds no drift after each step
//! up and down.

mod common;

use polyorm::Executor;
use polyorm_migrate::files::GenerateOptions;
use polyorm_migrate::{Migrator, Schema, generate};

mod v1 {
    use polyorm::prelude::*;

    #[derive(Model, Debug)]
    #[orm(table = "ledgers")]
    pub struct Ledger {
        #[orm(primary_key)]
        pub id: i64,
        #[orm(max_length = 20)]
        pub name: String,
    }
}

/// New columns with defaults, on a table that holds rows.
mod v2 {
    use chrono::{DateTime, NaiveDate, Utc};
    use polyorm::prelude::*;
    use rust_decimal::Decimal;

    #[derive(Model, Debug)]
    #[orm(table = "ledgers")]
    pub struct Ledger {
        #[orm(primary_key)]
        pub id: i64,
        #[orm(max_length = 20)]
        pub name: String,
        #[orm(default = now())]
        pub created_at: DateTime<Utc>,
        #[orm(default = "{\"tags\": []}")]
        pub metadata: serde_json::Value,
        #[orm(precision = 10, scale = 2, default = "1.50")]
        pub amount: Decimal,
        #[orm(default = "2030-01-31")]
        pub until: NaiveDate,
        #[orm(default = now())]
        pub day: Option<NaiveDate>,
    }
}

/// Defaults changed (JSON, decimal, date) and removed (`now()`).
mod v3 {
    use chrono::{DateTime, NaiveDate, Utc};
    use polyorm::prelude::*;
    use rust_decimal::Decimal;

    #[derive(Model, Debug)]
    #[orm(table = "ledgers")]
    pub struct Ledger {
        #[orm(primary_key)]
        pub id: i64,
        #[orm(max_length = 20)]
        pub name: String,
        pub created_at: DateTime<Utc>,
        #[orm(default = "[]")]
        pub metadata: serde_json::Value,
        #[orm(precision = 10, scale = 2, default = 0)]
        pub amount: Decimal,
        #[orm(default = "2031-12-01")]
        pub until: NaiveDate,
        pub day: Option<NaiveDate>,
    }
}

fn versions() -> Vec<(&'static str, Schema)> {
    use polyorm::Model;
    vec![
        ("ledgers", Schema::from_models([v1::Ledger::SCHEMA])),
        ("ledger_defaults", Schema::from_models([v2::Ledger::SCHEMA])),
        (
            "ledger_defaults_changed",
            Schema::from_models([v3::Ledger::SCHEMA]),
        ),
    ]
}

fn options(i: usize) -> GenerateOptions {
    GenerateOptions {
        allow: vec![],
        allow_destructive: true,
        version: Some(format!("202603010000{i:02}")),
    }
}

fn migrator(ctx: &common::Ctx, schema: &Schema) -> Migrator {
    Migrator::new(ctx.db.clone(), &ctx.dir, schema.clone()).expect("a SQL database")
}

per_backend! {
    async fn defaults_are_added_changed_and_removed_by_migrations_without_drift(ctx) {
        let versions = versions();
        for (i, (name, schema)) in versions.iter().enumerate() {
            generate(&ctx.dir, name, schema, ctx.dialect(), &options(i)).unwrap().unwrap();
            let m = migrator(ctx, schema);
            assert_eq!(m.up(None, false).await.unwrap().len(), 1, "{name} applies");
            m.verify().await.unwrap_or_else(|e| panic!("drift after {name}: {e}"));
            match i {
                0 => {
                    ctx.db.execute_raw("INSERT INTO ledgers (id, name) VALUES (1, 'a'), (2, 'b')").await.unwrap();
                }
                1 => {
                    // The rows present took the new columns' defaults.
                    use polyorm::Model;
                    let rows = v2::Ledger::query().all(&ctx.db).await.unwrap();
                    assert_eq!(rows.len(), 2);
                    for row in &rows {
                        assert_eq!(row.metadata, serde_json::json!({"tags": []}));
                        assert_eq!(row.amount, rust_decimal::Decimal::new(150, 2));
                        assert_eq!(row.until, chrono::NaiveDate::from_ymd_opt(2030, 1, 31).unwrap());
                        assert!((chrono::Utc::now() - row.created_at).num_seconds().abs() < 120, "{row:?}");
                    }
                    // A writer naming only the old columns gets the defaults too.
                    ctx.db.execute_raw("INSERT INTO ledgers (id, name) VALUES (3, 'c')").await.unwrap();
                    let row = v2::Ledger::find(&ctx.db, 3).await.unwrap().unwrap();
                    assert!(row.day.is_some(), "{row:?}");
                }
                _ => {
                    ctx.db.execute_raw("INSERT INTO ledgers (id, name, created_at) VALUES (4, 'd', '2024-01-02 03:04:05')").await.unwrap();
                    use polyorm::Model;
                    let row = v3::Ledger::find(&ctx.db, 4).await.unwrap().unwrap();
                    assert_eq!(row.metadata, serde_json::json!([]));
                    assert_eq!(row.amount, rust_decimal::Decimal::ZERO);
                    assert_eq!(row.until, chrono::NaiveDate::from_ymd_opt(2031, 12, 1).unwrap());
                    assert_eq!(row.day, None, "no default any more");
                }
            }
        }
        // Down, one step at a time: each leaves the previous version, without drift.
        let last = &versions[2].1;
        for i in (1..versions.len()).rev() {
            assert_eq!(migrator(ctx, last).down(1, false).await.unwrap().len(), 1);
            migrator(ctx, &versions[i - 1].1)
                .verify()
                .await
                .unwrap_or_else(|e| panic!("drift after down to version {i}: {e}"));
        }
    }
}

/// The up and down SQL of each version's migration, per dialect.
#[test]
fn default_migrations_render_per_dialect() {
    for dialect in polyorm::Dialect::ALL {
        let mut before = Schema::default();
        for (name, schema) in versions() {
            let ops = polyorm_migrate::diff(&before, &schema).unwrap();
            let up = polyorm_migrate::render::render_up(&ops, &before, dialect).unwrap();
            let down = polyorm_migrate::render::render_down(&ops, &before, dialect).unwrap();
            insta::assert_snapshot!(
                format!("{name}@{dialect}"),
                format!("-- up\n{};\n-- down\n{};", up.join(";\n"), down.join(";\n"))
            );
            before = schema;
        }
    }
}
