//! User CHECK constraints (`#[orm(check = ...)]`) through migrations on the real servers:
//! added with a table, changed (dropped and added again), added on a new column and as a
//! table check, then removed; `verify` finds no drift after each step up and down, and the
//! database enforces exactly the checks of the version applied.

mod common;

use polyorm::Executor;
use polyorm_migrate::files::GenerateOptions;
use polyorm_migrate::{Migrator, Schema, generate};

mod v1 {
    use polyorm::prelude::*;

    #[derive(Model, Debug)]
    #[orm(table = "gauges")]
    pub struct Gauge {
        #[orm(primary_key)]
        id: i64,
        #[orm(check = Self::LEVEL.ge(0))]
        level: i32,
        #[orm(max_length = 20)]
        name: String,
    }
}

/// The level's check narrows, a new column brings its own check, and a table check appears.
mod v2 {
    use polyorm::prelude::*;

    #[derive(Model, Debug)]
    #[orm(table = "gauges", check(named = Self::NAME.ne("")))]
    pub struct Gauge {
        #[orm(primary_key)]
        id: i64,
        #[orm(check = Self::LEVEL.between(0, 100))]
        level: i32,
        #[orm(max_length = 20)]
        name: String,
        #[orm(check = Self::LIMIT.gt(0))]
        limit: Option<i32>,
    }
}

/// Every check removed.
mod v3 {
    use polyorm::prelude::*;

    #[derive(Model, Debug)]
    #[orm(table = "gauges")]
    pub struct Gauge {
        #[orm(primary_key)]
        id: i64,
        level: i32,
        #[orm(max_length = 20)]
        name: String,
        limit: Option<i32>,
    }
}

fn versions() -> Vec<(&'static str, Schema)> {
    use polyorm::Model;
    vec![
        ("gauges", Schema::from_models([v1::Gauge::SCHEMA])),
        ("gauge_checks", Schema::from_models([v2::Gauge::SCHEMA])),
        ("no_gauge_checks", Schema::from_models([v3::Gauge::SCHEMA])),
    ]
}

fn options(i: usize) -> GenerateOptions {
    GenerateOptions {
        allow: vec![],
        allow_destructive: true,
        version: Some(format!("202602010000{i:02}")),
    }
}

fn migrator(ctx: &common::Ctx, schema: &Schema) -> Migrator {
    Migrator::new(ctx.db.clone(), &ctx.dir, schema.clone()).expect("a SQL database")
}

/// Whether the database accepts `values` into `gauges` (the row is removed again).
async fn accepts(ctx: &common::Ctx, columns: &str, values: &str) -> bool {
    let insert = format!("INSERT INTO gauges ({columns}) VALUES ({values})");
    match ctx.db.execute_raw(&insert).await {
        Ok(_) => {
            ctx.db.execute_raw("DELETE FROM gauges").await.unwrap();
            true
        }
        Err(polyorm::Error::CheckViolation { .. }) => false,
        Err(other) => panic!("{insert}: expected success or CheckViolation, got {other:?}"),
    }
}

/// What the table accepts: (a negative level, level 101, an empty name, limit 0); the last
/// only where the version has the `limit` column (`None`: accepted, there is no such value).
async fn enforced(ctx: &common::Ctx, has_limit: bool) -> [bool; 4] {
    // `limit` is a keyword: quoted as the dialect quotes identifiers.
    let limit = polyorm_migrate::render::quote("limit", ctx.dialect());
    [
        accepts(ctx, "id, level, name", "1, -1, 'x'").await,
        accepts(ctx, "id, level, name", "2, 101, 'x'").await,
        accepts(ctx, "id, level, name", "3, 1, ''").await,
        !has_limit || accepts(ctx, &format!("id, level, name, {limit}"), "4, 1, 'x', 0").await,
    ]
}

per_backend! {
    async fn checks_are_added_changed_and_removed_by_migrations_without_drift(ctx) {
        let versions = versions();
        // Accepted: a negative level, level 101, an empty name, limit 0.
        let expected = [
            [false, true, true, true],
            [false, false, false, false],
            [true, true, true, true],
        ];
        for (i, (name, schema)) in versions.iter().enumerate() {
            generate(&ctx.dir, name, schema, ctx.dialect(), &options(i)).unwrap().unwrap();
            let m = migrator(ctx, schema);
            assert_eq!(m.up(None, false).await.unwrap().len(), 1, "{name} applies");
            m.verify().await.unwrap_or_else(|e| panic!("drift after {name}: {e}"));
            assert_eq!(enforced(ctx, i > 0).await, expected[i], "checks enforced after {name}");
        }
        // Down, one step at a time: each leaves the previous version's checks, without drift.
        let last = &versions[2].1;
        for i in (1..versions.len()).rev() {
            assert_eq!(migrator(ctx, last).down(1, false).await.unwrap().len(), 1);
            migrator(ctx, &versions[i - 1].1)
                .verify()
                .await
                .unwrap_or_else(|e| panic!("drift after down to version {i}: {e}"));
            assert_eq!(enforced(ctx, i > 1).await, expected[i - 1], "checks enforced after down to version {i}");
        }
    }
}

/// The up and down SQL of each version's migration, per dialect (PostgreSQL and MySQL alter
/// the table in place; SQLite, which adds and drops no constraint, rebuilds it).
#[test]
fn check_migrations_render_per_dialect() {
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
