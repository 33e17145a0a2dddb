//! Migrations against the real servers: every test runs on SQLite, PostgreSQL and
//! MariaDB/MySQL, each in its own database or schema.

mod common;

use polyorm::{Compiled, Dialect, Executor, FieldType};
use polyorm_migrate::files::GenerateOptions;
use polyorm_migrate::runner::State;
use polyorm_migrate::{Error, Migrator, Schema, generate};

use common::versions;

fn options(i: usize) -> GenerateOptions {
    GenerateOptions {
        allow: vec![],
        allow_destructive: true,
        version: Some(format!("202601010000{i:02}")),
    }
}

/// Writes the migrations of every version (or the first `n`) into the test's directory.
fn generate_all(ctx: &common::Ctx, n: usize) {
    for (i, (name, schema)) in versions().into_iter().take(n).enumerate() {
        generate(&ctx.dir, name, &schema, ctx.dialect(), &options(i))
            .unwrap()
            .expect("each version changes something");
    }
}

fn migrator(ctx: &common::Ctx, schema: &Schema) -> Migrator {
    Migrator::new(ctx.db.clone(), &ctx.dir, schema.clone()).expect("a SQL database")
}

async fn rows(ctx: &common::Ctx, sql: &str) -> Vec<(String, i64)> {
    ctx.db
        .fetch_compiled(
            Compiled {
                sql: sql.to_owned(),
                values: vec![],
            },
            |r| {
                // `score` is an `integer`, the other columns `bigint`.
                let n = match i64::decode(r, 1) {
                    Ok(n) => n,
                    Err(_) => i64::from(i32::decode(r, 1)?),
                };
                Ok((String::decode(r, 0)?, n))
            },
        )
        .await
        .unwrap()
}

mod notes {
    use polyorm::prelude::*;

    #[derive(Model, Debug)]
    #[orm(table = "notes")]
    pub struct Note {
        #[orm(primary_key)]
        pub id: i64,
        #[orm(max_length = 50)]
        pub body: String,
    }
}

/// The bodies of `notes` in `ORDER BY body` order. `when` makes each call's SQL its own: a
/// statement PostgreSQL prepared before `body` changed type cannot run after it.
async fn sorted_bodies(ctx: &common::Ctx, when: &str) -> Vec<String> {
    let sql = format!("SELECT body FROM notes ORDER BY body, id /* {when} */");
    let compiled = Compiled {
        sql,
        values: vec![],
    };
    ctx.db
        .fetch_compiled(compiled, |r| String::decode(r, 0))
        .await
        .unwrap()
}

per_backend! {
    async fn every_operation_kind_applies_with_zero_drift_and_round_trips(ctx) {
        let versions = versions();
        for (i, (name, schema)) in versions.iter().enumerate() {
            generate(&ctx.dir, name, schema, ctx.dialect(), &options(i)).unwrap().unwrap();
            let m = migrator(ctx, schema);
            assert_eq!(m.up(None, false).await.unwrap().len(), 1, "{name} applies");
            m.verify().await.unwrap_or_else(|e| panic!("drift after {name}: {e}"));
            if i == 0 {
                for sql in [
                    "INSERT INTO authors (name, age) VALUES ('Ada', 36)",
                    "INSERT INTO posts (author_id, title, score, slug) VALUES (1, 'Hello', 5, 'hello')",
                    "INSERT INTO tags (code, label) VALUES ('rust', NULL)",
                ] {
                    ctx.db.execute_raw(sql).await.unwrap();
                }
            }
            if i == 1 {
                // Renamed column and widened type keep their data.
                assert_eq!(rows(ctx, "SELECT full_name, age FROM authors").await, [("Ada".to_owned(), 36)]);
                assert_eq!(rows(ctx, "SELECT title, score FROM posts").await, [("Hello".to_owned(), 5)]);
            }
        }
        // Renamed table keeps its data; foreign keys still hold.
        assert_eq!(rows(ctx, "SELECT full_name, age FROM writers").await, [("Ada".to_owned(), 36)]);
        assert_eq!(rows(ctx, "SELECT title, author_id FROM posts").await, [("Hello".to_owned(), 1)]);

        // Down, one step at a time: each step leaves exactly the previous version's schema.
        let last = &versions[2].1;
        for i in (0..versions.len()).rev() {
            let done = migrator(ctx, last).down(1, false).await.unwrap();
            assert_eq!(done.len(), 1);
            let previous = if i == 0 { Schema::default() } else { versions[i - 1].1.clone() };
            migrator(ctx, &previous).verify().await.unwrap_or_else(|e| panic!("drift after down to {i}: {e}"));
        }
        assert!(migrator(ctx, last).down(1, false).await.unwrap().is_empty());
        // And up again.
        let m = migrator(ctx, last);
        assert_eq!(m.up(None, false).await.unwrap().len(), 3);
        m.verify().await.unwrap();
    }

    async fn up_to_a_version_dry_run_and_sql_run_nothing_extra(ctx) {
        generate_all(ctx, 3);
        let m = migrator(ctx, &versions()[2].1);
        let sql = m.pending_sql(None).await.unwrap();
        assert!(sql.contains("CREATE TABLE"), "{sql}");
        assert_eq!(m.up(None, true).await.unwrap().len(), 3);
        assert!(m.history().await.unwrap().is_empty(), "dry run applies nothing");
        let first = m.up(Some("20260101000000"), false).await.unwrap();
        assert_eq!(first, ["20260101000000_init"]);
        migrator(ctx, &versions()[0].1).verify().await.unwrap();
        let states: Vec<bool> = m.status().await.unwrap().iter()
            .map(|s| matches!(s.state, State::Applied(_))).collect();
        assert_eq!(states, [true, false, false]);
        assert!(matches!(m.verify().await, Err(Error::Drift(_))), "pending migrations are drift");
    }

    async fn ten_concurrent_runners_apply_each_migration_exactly_once(ctx) {
        generate_all(ctx, 3);
        let schema = versions()[2].1.clone();
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let (url, dir, schema) = (ctx.url.clone(), ctx.dir.clone(), schema.clone());
            tasks.push(tokio::spawn(async move {
                let db = polyorm::PoolOptions::new().max_connections(1).connect(&url).await.unwrap();
                let applied = Migrator::new(db.clone(), dir, schema).unwrap().up(None, false).await.unwrap();
                db.close().await;
                applied
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.unwrap());
        }
        all.sort();
        assert_eq!(all, ["20260101000000_init", "20260101000001_reshape", "20260101000002_rename_and_drop"]);
        let m = migrator(ctx, &schema);
        assert_eq!(m.history().await.unwrap().len(), 3);
        m.verify().await.unwrap();
    }

    async fn failing_migration_leaves_a_clear_state(ctx) {
        generate_all(ctx, 1);
        let broken = ctx.dir.join("20260101000005_backfill");
        std::fs::create_dir_all(&broken).unwrap();
        std::fs::write(broken.join("up.sql"),
            "CREATE TABLE extra (id INTEGER PRIMARY KEY);\nINSERT INTO no_such_table VALUES (1);\n").unwrap();
        std::fs::write(broken.join("down.sql"), "DROP TABLE extra;\n").unwrap();
        let schema = versions()[0].1.clone();
        let m = migrator(ctx, &schema);
        let err = m.up(None, false).await.unwrap_err();
        assert!(matches!(err, Error::Apply { .. }), "{err}");
        let history = m.history().await.unwrap();
        if ctx.db.backend() == Dialect::MySql {
            // DDL is not transactional: the failure is recorded and explained.
            assert!(err.to_string().contains("recorded as failed"), "{err}");
            assert_eq!(history.len(), 2);
            assert!(!history[1].success);
            let status = m.status().await.unwrap();
            assert!(matches!(&status[1].state, State::Failed(_, how) if how.contains("DELETE FROM orm_migrations")));
            assert!(matches!(m.up(None, false).await, Err(Error::FailedMigration { .. })));
            // Recover as the message says.
            ctx.db.execute_raw("DROP TABLE extra").await.unwrap();
            ctx.db.execute_raw("DELETE FROM orm_migrations WHERE version = '20260101000005'").await.unwrap();
        } else {
            assert!(err.to_string().contains("rolled back"), "{err}");
            assert_eq!(history.len(), 1, "only the first migration is recorded");
            m.verify().await.unwrap_or_else(|e| panic!("the failed migration left traces: {e}"));
        }
        // Fixed, the hand-written migration runs in sequence.
        std::fs::write(broken.join("up.sql"),
            "CREATE TABLE extra (id INTEGER PRIMARY KEY);\nUPDATE posts SET score = 1;\n").unwrap();
        assert_eq!(m.up(None, false).await.unwrap(), ["20260101000005_backfill"]);
        assert_eq!(m.down(1, false).await.unwrap(), ["20260101000005_backfill"]);
        m.verify().await.unwrap();
    }

    async fn a_tampered_migration_is_detected(ctx) {
        generate_all(ctx, 1);
        let m = migrator(ctx, &versions()[0].1);
        m.up(None, false).await.unwrap();
        let up = ctx.dir.join("20260101000000_init/up.sql");
        let mut text = std::fs::read_to_string(&up).unwrap();
        text.push_str("-- edited\n");
        std::fs::write(&up, text).unwrap();
        let err = m.verify().await.unwrap_err();
        assert!(matches!(&err, Error::ChecksumMismatch { actual, .. } if actual.contains("up.sql")), "{err}");
        assert!(matches!(m.up(None, false).await, Err(Error::ChecksumMismatch { .. })));
        assert!(matches!(m.status().await.unwrap()[0].state, State::Changed(_)));
    }

    async fn every_column_type_applies_with_zero_drift(ctx) {
        let schema = Schema::from_models([<common::rich::Rich as polyorm::Model>::schema()]);
        generate(&ctx.dir, "rich", &schema, ctx.dialect(), &options(0)).unwrap().unwrap();
        let m = migrator(ctx, &schema);
        assert_eq!(m.up(None, false).await.unwrap().len(), 1);
        m.verify().await.unwrap_or_else(|e| panic!("drift on the rich types: {e}"));
        // A second generate finds nothing to do: the snapshot matches the models.
        assert!(generate(&ctx.dir, "again", &schema, ctx.dialect(), &options(1)).unwrap().is_none());
    }

    async fn check_constraints_follow_the_models(ctx) {
        use common::tickets::{v1, v2};
        let insert = |id: i64, status: &str| format!("INSERT INTO tickets (id, status) VALUES ({id}, '{status}')");
        let rejected = |e: polyorm::Error| assert!(matches!(e, polyorm::Error::CheckViolation { .. }), "{e:?}");
        let first = Schema::from_models([<v1::Ticket as polyorm::Model>::schema()]);
        generate(&ctx.dir, "tickets", &first, ctx.dialect(), &options(0)).unwrap().unwrap();
        migrator(ctx, &first).up(None, false).await.unwrap();
        ctx.db.execute_raw(&insert(1, "Open")).await.unwrap();
        rejected(ctx.db.execute_raw(&insert(2, "Shut")).await.unwrap_err());

        // A new enum value and a new unsigned column: the migration replaces the CHECK.
        let second = Schema::from_models([<v2::Ticket as polyorm::Model>::schema()]);
        generate(&ctx.dir, "archived", &second, ctx.dialect(), &options(1)).unwrap().expect("the CHECK changed");
        let m = migrator(ctx, &second);
        m.up(None, false).await.unwrap();
        m.verify().await.unwrap();
        ctx.db.execute_raw(&insert(2, "Archived")).await.unwrap();
        rejected(ctx.db.execute_raw(&insert(3, "Lost")).await.unwrap_err());
        let too_big = ctx.db.execute_raw("INSERT INTO tickets (id, status, priority) VALUES (4, 'Open', 70000)").await.unwrap_err();
        assert!(matches!(too_big, polyorm::Error::CheckViolation { .. } | polyorm::Error::OutOfRange { .. }), "{too_big:?}");

        // Down restores the old CHECK, which the archived row no longer passes.
        ctx.db.execute_raw("DELETE FROM tickets WHERE id = 2").await.unwrap();
        assert_eq!(m.down(1, false).await.unwrap().len(), 1);
        rejected(ctx.db.execute_raw(&insert(2, "Shut")).await.unwrap_err());
        let archived = ctx.db.execute_raw(&insert(2, "Archived")).await.unwrap_err();
        assert!(matches!(archived, polyorm::Error::CheckViolation { .. } | polyorm::Error::ValueTooLong { .. }), "{archived:?}");
        migrator(ctx, &first).verify().await.unwrap();
    }

    async fn collation_changes_are_migrated_and_verified(ctx) {
        let code_point = Schema::from_models([<notes::Note as polyorm::Model>::schema()]);
        generate(&ctx.dir, "notes", &code_point, ctx.dialect(), &options(0)).unwrap().unwrap();
        migrator(ctx, &code_point).up(None, false).await.unwrap();
        ctx.db.execute_raw("INSERT INTO notes (id, body) VALUES (1, 'b'), (2, 'B'), (3, 'a')").await.unwrap();
        assert_eq!(sorted_bodies(ctx, "first").await, ["B", "a", "b"], "code-point order");

        // A linguistic collation the dialect ships: the diff sees it and the migration applies it.
        let (linguistic, order) = match ctx.dialect() {
            Dialect::Postgres => ("und-x-icu", ["a", "b", "B"]),
            Dialect::MySql => ("utf8mb4_unicode_ci", ["a", "b", "B"]),
            Dialect::Sqlite => ("NOCASE", ["a", "b", "B"]),
        };
        let mut folded = code_point.clone();
        let body = folded.tables.get_mut("notes").unwrap().columns.iter_mut().find(|c| c.name == "body").unwrap();
        body.collation = Some(linguistic.to_owned());
        body.max_length = Some(80);
        generate(&ctx.dir, "collate", &folded, ctx.dialect(), &options(1)).unwrap().expect("the collation changed");
        let m = migrator(ctx, &folded);
        m.up(None, false).await.unwrap();
        m.verify().await.unwrap_or_else(|e| panic!("after the collation change: {e}"));
        assert_eq!(sorted_bodies(ctx, "up").await, order, "{linguistic} order");

        // Down restores code-point order, and verify checks it against the first models.
        m.down(1, false).await.unwrap();
        migrator(ctx, &code_point).verify().await.unwrap_or_else(|e| panic!("after down: {e}"));
        assert_eq!(sorted_bodies(ctx, "down").await, ["B", "a", "b"]);

        // A collation changed by hand is drift (SQLite's catalog does not report collations).
        let by_hand = match ctx.dialect() {
            Dialect::Postgres => "ALTER TABLE notes ALTER COLUMN body TYPE varchar(50) COLLATE \"POSIX\"",
            Dialect::MySql => "ALTER TABLE notes MODIFY body varchar(50) NOT NULL COLLATE utf8mb4_bin",
            Dialect::Sqlite => return,
        };
        ctx.db.execute_raw(by_hand).await.unwrap();
        match migrator(ctx, &code_point).verify().await {
            // The second line says that the rolled-back migration is pending.
            Err(Error::Drift(lines)) => {
                assert!(lines[0].starts_with("column `notes.body` is `varchar(50) NOT NULL COLLATE"), "{lines:?}");
                assert!(lines[1..].iter().all(|l| l.contains("pending")), "{lines:?}");
            }
            other => panic!("expected drift, got {other:?}"),
        }
    }

    // An unbounded `String` is LONGTEXT on MySQL/MariaDB; a TEXT column made by an earlier
    // version (65,535 bytes) is accepted as it is: no drift, and no migration is generated.
    async fn text_columns_created_by_earlier_versions_are_accepted(ctx) {
        generate_all(ctx, 1);
        let (name, schema) = versions().remove(0);
        let m = migrator(ctx, &schema);
        m.up(None, false).await.unwrap();
        if ctx.dialect() == Dialect::MySql {
            ctx.db.execute_raw("ALTER TABLE tags MODIFY label TEXT").await.unwrap();
        }
        m.verify().await.unwrap_or_else(|e| panic!("a TEXT column is accepted: {e}"));
        let mut again = options(9);
        again.version = Some("20260101000099".to_owned());
        assert!(generate(&ctx.dir, name, &schema, ctx.dialect(), &again).unwrap().is_none(), "no churn");
    }

    async fn verify_reports_a_change_made_by_hand(ctx) {
        generate_all(ctx, 1);
        let m = migrator(ctx, &versions()[0].1);
        m.up(None, false).await.unwrap();
        ctx.db.execute_raw("ALTER TABLE tags ADD COLUMN sneaky INTEGER").await.unwrap();
        match m.verify().await {
            Err(Error::Drift(lines)) => assert_eq!(lines, ["column `tags.sneaky` is not in the models"]),
            other => panic!("expected drift, got {other:?}"),
        }
    }
}
