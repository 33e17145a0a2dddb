//! Index options through migrations on the real servers, with rows present: descending keys
//! with included columns, partial indexes over a typed filter, GIN and hash indexes added to a
//! table holding rows, then changed and removed; `verify` finds no drift after each step up
//! and down. Function keys and unique partial indexes are enforced where the dialect has them
//! (PostgreSQL, SQLite) and refused, with a message saying what to do, on MySQL/MariaDB.

mod common;

use polyorm::Executor;
use polyorm_migrate::files::GenerateOptions;
use polyorm_migrate::{Migrator, Schema, generate};

mod v1 {
    use chrono::{DateTime, Utc};
    use polyorm::prelude::*;

    #[derive(Model, Debug)]
    #[orm(table = "ix_tickets")]
    pub struct Ticket {
        #[orm(primary_key)]
        pub id: i64,
        #[orm(max_length = 10)]
        pub tier: String,
        pub tags: serde_json::Value,
        pub confidence: f64,
        pub created_at: DateTime<Utc>,
        pub closed_at: Option<DateTime<Utc>>,
    }
}

/// Indexes with options, added to a table that holds rows.
mod v2 {
    use chrono::{DateTime, Utc};
    use polyorm::prelude::*;

    // Two indexes start with `tier`: clippy reads the derive's options as repeated attributes.
    #[allow(clippy::duplicated_attributes)]
    #[derive(Model, Debug)]
    #[orm(table = "ix_tickets")]
    #[orm(index(tier, desc(created_at), include(confidence)))]
    #[orm(index(closed_at, where = Self::CLOSED_AT.is_not_null()))]
    #[orm(index(tags, method = "gin"))]
    #[orm(index(tier, method = "hash", name = "idx_ix_tickets_tier_hash"))]
    pub struct Ticket {
        #[orm(primary_key)]
        pub id: i64,
        #[orm(max_length = 10)]
        pub tier: String,
        pub tags: serde_json::Value,
        pub confidence: f64,
        pub created_at: DateTime<Utc>,
        pub closed_at: Option<DateTime<Utc>>,
    }
}

/// The partial index's condition changed, the descending key made ascending (the same names:
/// each is dropped and created again), the GIN index removed.
mod v3 {
    use chrono::{DateTime, Utc};
    use polyorm::prelude::*;

    // Two indexes start with `tier`: clippy reads the derive's options as repeated attributes.
    #[allow(clippy::duplicated_attributes)]
    #[derive(Model, Debug)]
    #[orm(table = "ix_tickets")]
    #[orm(index(
        tier,
        created_at,
        include(confidence),
        name = "idx_ix_tickets_tier_created_at_desc"
    ))]
    #[orm(index(closed_at, where = Self::CLOSED_AT.is_not_null().and(Self::CONFIDENCE.ge(0.5))))]
    #[orm(index(tier, method = "hash", name = "idx_ix_tickets_tier_hash"))]
    pub struct Ticket {
        #[orm(primary_key)]
        pub id: i64,
        #[orm(max_length = 10)]
        pub tier: String,
        pub tags: serde_json::Value,
        pub confidence: f64,
        pub created_at: DateTime<Utc>,
        pub closed_at: Option<DateTime<Utc>>,
    }
}

/// A case-insensitive unique key and a unique partial index (one open account per email).
mod accounts {
    use chrono::{DateTime, Utc};
    use polyorm::prelude::*;

    #[derive(Model, Debug, Clone)]
    #[orm(table = "ix_accounts")]
    #[orm(unique(lower(handle)))]
    #[orm(unique(email, name = "uq_ix_accounts_open_email", where = Self::CLOSED_AT.is_null()))]
    pub struct Account {
        #[orm(primary_key)]
        pub id: i64,
        #[orm(max_length = 40)]
        pub handle: String,
        #[orm(max_length = 120)]
        pub email: String,
        pub closed_at: Option<DateTime<Utc>>,
    }
}

fn versions() -> Vec<(&'static str, Schema)> {
    use polyorm::Model;
    vec![
        ("tickets", Schema::from_models([v1::Ticket::SCHEMA])),
        ("ticket_indexes", Schema::from_models([v2::Ticket::SCHEMA])),
        (
            "ticket_indexes_changed",
            Schema::from_models([v3::Ticket::SCHEMA]),
        ),
    ]
}

fn options(i: usize) -> GenerateOptions {
    GenerateOptions {
        allow: vec![],
        allow_destructive: true,
        version: Some(format!("202603020000{i:02}")),
    }
}

fn migrator(ctx: &common::Ctx, schema: &Schema) -> Migrator {
    Migrator::new(ctx.db.clone(), &ctx.dir, schema.clone()).expect("a SQL database")
}

/// The live definition of `table`'s index `name`: (key columns, descending flags, method,
/// whether it is partial).
async fn live_index(
    ctx: &common::Ctx,
    table: &str,
    name: &str,
) -> Option<(Vec<Option<String>>, Vec<bool>, Option<String>, bool)> {
    let live = polyorm_migrate::introspect::live_schema(&ctx.db)
        .await
        .unwrap();
    let ix = live
        .tables
        .get(table)?
        .indexes
        .iter()
        .find(|i| i.name == name)?
        .clone();
    Some((ix.columns, ix.descending, ix.method, ix.predicate.is_some()))
}

per_backend! {
    async fn index_options_are_added_changed_and_removed_by_migrations_without_drift(ctx) {
        let dialect = ctx.dialect();
        let versions = versions();
        for (i, (name, schema)) in versions.iter().enumerate() {
            generate(&ctx.dir, name, schema, dialect, &options(i)).unwrap().unwrap();
            let m = migrator(ctx, schema);
            assert_eq!(m.up(None, false).await.unwrap().len(), 1, "{name} applies");
            m.verify().await.unwrap_or_else(|e| panic!("drift after {name}: {e}"));
            match i {
                0 => {
                    ctx.db.execute_raw(
                        "INSERT INTO ix_tickets (id, tier, tags, confidence, created_at, closed_at) \
                         VALUES (1, 'hot', '{\"a\": 1}', 0.9, '2024-01-02 03:04:05', NULL), \
                         (2, 'cold', '[]', 0.2, '2024-01-03 03:04:05', '2024-02-01 00:00:00')",
                    ).await.unwrap();
                }
                1 => {
                    let key = live_index(ctx, "ix_tickets", "idx_ix_tickets_tier_created_at_desc").await;
                    let (columns, descending, _, partial) = key.expect("the descending index exists");
                    assert_eq!(columns, [Some("tier".to_owned()), Some("created_at".to_owned())]);
                    assert_eq!(descending, [false, true], "created_at is descending");
                    assert!(!partial);
                    let (_, _, _, partial) = live_index(ctx, "ix_tickets", "idx_ix_tickets_closed_at")
                        .await
                        .expect("the partial index exists");
                    // MySQL/MariaDB have no partial indexes: a full one there.
                    assert_eq!(partial, dialect != polyorm::Dialect::MySql);
                    let gin = live_index(ctx, "ix_tickets", "idx_ix_tickets_tags").await;
                    let hash = live_index(ctx, "ix_tickets", "idx_ix_tickets_tier_hash").await;
                    if dialect == polyorm::Dialect::Postgres {
                        assert_eq!(gin.expect("a GIN index").2.as_deref(), Some("gin"));
                        assert_eq!(hash.expect("a hash index").2.as_deref(), Some("hash"));
                    } else {
                        assert!(gin.is_none(), "GIN indexes are PostgreSQL's alone");
                        assert_eq!(hash.expect("a b-tree in the hash index's place").2, None);
                    }
                    // The rows were kept and are found through the new indexes' columns.
                    use polyorm::Model;
                    let closed = v2::Ticket::query()
                        .filter(v2::Ticket::CLOSED_AT.is_not_null())
                        .all(&ctx.db)
                        .await
                        .unwrap();
                    assert_eq!(closed.iter().map(|t| t.id).collect::<Vec<_>>(), [2]);
                    assert_eq!(v2::Ticket::query().count(&ctx.db).await.unwrap(), 2);
                }
                _ => {
                    let (_, descending, _, _) = live_index(ctx, "ix_tickets", "idx_ix_tickets_tier_created_at_desc")
                        .await
                        .expect("the index was created again");
                    assert_eq!(descending, [false, false]);
                    assert!(live_index(ctx, "ix_tickets", "idx_ix_tickets_tags").await.is_none());
                    use polyorm::Model;
                    assert_eq!(v3::Ticket::query().count(&ctx.db).await.unwrap(), 2);
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
        assert!(live_index(ctx, "ix_tickets", "idx_ix_tickets_closed_at").await.is_none());
    }

    async fn function_keys_and_unique_partial_indexes_are_enforced_or_refused(ctx) {
        use polyorm::Model;
        use accounts::Account;
        let dialect = ctx.dialect();
        let schema = Schema::from_models([Account::SCHEMA]);
        let generated = generate(&ctx.dir, "accounts", &schema, dialect, &options(0));
        if dialect == polyorm::Dialect::MySql {
            let err = generated.unwrap_err().to_string();
            assert!(err.contains("lower(handle)") && err.contains("MySQL/MariaDB"), "{err}");
            return;
        }
        generated.unwrap().unwrap();
        let m = migrator(ctx, &schema);
        assert_eq!(m.up(None, false).await.unwrap().len(), 1);
        m.verify().await.unwrap_or_else(|e| panic!("drift: {e}"));
        let account = |id, handle: &str, email: &str| Account {
            id,
            handle: handle.to_owned(),
            email: email.to_owned(),
            closed_at: None,
        };
        account(1, "Ada", "ada@x.io").insert(&ctx.db).await.unwrap();
        // `lower(handle)` is unique: another case of the same handle is a unique violation.
        let err = account(2, "ADA", "other@x.io").insert(&ctx.db).await.unwrap_err();
        assert!(matches!(err, polyorm::Error::UniqueViolation { .. }), "{err:?}");
        // One open account per email: a second open one is refused...
        let err = account(3, "ada2", "ada@x.io").insert(&ctx.db).await.unwrap_err();
        assert!(matches!(err, polyorm::Error::UniqueViolation { .. }), "{err:?}");
        // ...a closed one is outside the partial index, and so is the first once closed.
        let mut closed = account(4, "ada3", "ada@x.io");
        closed.closed_at = Some(chrono::Utc::now());
        closed.insert(&ctx.db).await.unwrap();
        let mut first = Account::find(&ctx.db, 1).await.unwrap().unwrap();
        first.closed_at = Some(chrono::Utc::now());
        first.update(&ctx.db).await.unwrap();
        account(5, "ada4", "ada@x.io").insert(&ctx.db).await.unwrap();
        let mut ids: Vec<i64> = Account::query().all(&ctx.db).await.unwrap().iter().map(|a| a.id).collect();
        ids.sort_unstable();
        assert_eq!(ids, [1, 4, 5], "nothing else was written");
    }
}

/// The up and down SQL of each version's migration, per dialect.
#[test]
fn index_migrations_render_per_dialect() {
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
