//! `pull` on a database written by hand the way people write them, not by the ORM: names the
//! database chose (`orders_customer_id_fkey`, `customers_email_key`, MariaDB's `orders_ibfk_1`
//! and the index InnoDB adds for it, SQLite's unnamed UNIQUE constraints), `serial` keys,
//! plain `varchar(n)`/`text`/`int`/`date` columns without the ORM's CHECKs. The pulled models
//! (`tests/pulled/hand_made_<dialect>.rs`, compiled here) verify with zero drift, read the rows
//! the database's own SQL wrote, write rows the database reads back, keep the database's names
//! when they create the schema again, and a baseline from them leaves nothing to generate.

mod common;

use polyorm::prelude::*;
use polyorm::{Compiled, Dialect, Executor, FieldType};
use polyorm_migrate::files::GenerateOptions;
use polyorm_migrate::introspect;
use polyorm_migrate::pull::{PullOptions, code, pull};
use polyorm_migrate::schema::Schema;
use polyorm_migrate::{Migrator, generate};

#[allow(dead_code)] // not every relation accessor is called here
#[rustfmt::skip] // as `pull` formats it
#[path = "pulled/hand_made_mysql.rs"]
mod pulled_mysql;
#[allow(dead_code)]
#[rustfmt::skip]
#[path = "pulled/hand_made_postgres.rs"]
mod pulled_postgres;
#[allow(dead_code)]
#[rustfmt::skip]
#[path = "pulled/hand_made_sqlite.rs"]
mod pulled_sqlite;

/// Rows written with the database's own SQL (the same text on every dialect).
const ROWS: &str = "INSERT INTO customers (email, name) VALUES ('ada@example.com', 'Ada'), \
    ('alan@example.com', 'Alan Turing, it''s');
    INSERT INTO orders (id, customer_id, placed_on, note) VALUES (1, 1, '2024-02-29', 'gift'), \
    (2, 2, '1999-12-31', NULL);
    INSERT INTO order_lines (order_id, line_no, sku, qty) VALUES (1, 1, 'SKU-1', 2), \
    (2, 1, 'SKU-1', 5);
    INSERT INTO order_lines (order_id, line_no, sku) VALUES (1, 2, 'SKU-2')";

fn schema(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::Postgres => {
            "CREATE TABLE customers (
               id serial PRIMARY KEY,
               email varchar(120) NOT NULL UNIQUE,
               name text NOT NULL
             );
             CREATE TABLE orders (
               id bigserial PRIMARY KEY,
               customer_id integer NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
               placed_on date NOT NULL,
               note text
             );
             CREATE INDEX orders_placed_on_idx ON orders (placed_on);
             CREATE TABLE order_lines (
               order_id bigint NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
               line_no integer NOT NULL,
               sku varchar(40) NOT NULL,
               qty integer NOT NULL DEFAULT 1,
               PRIMARY KEY (order_id, line_no),
               UNIQUE (order_id, sku)
             )"
        }
        Dialect::MySql => {
            "CREATE TABLE customers (
               id int NOT NULL AUTO_INCREMENT PRIMARY KEY,
               email varchar(120) NOT NULL UNIQUE,
               name text NOT NULL
             );
             CREATE TABLE orders (
               id bigint NOT NULL AUTO_INCREMENT PRIMARY KEY,
               customer_id int NOT NULL,
               placed_on date NOT NULL,
               note text,
               FOREIGN KEY (customer_id) REFERENCES customers (id) ON DELETE CASCADE
             );
             CREATE INDEX orders_placed_on_idx ON orders (placed_on);
             CREATE TABLE order_lines (
               order_id bigint NOT NULL,
               line_no int NOT NULL,
               sku varchar(40) NOT NULL,
               qty int NOT NULL DEFAULT 1,
               PRIMARY KEY (order_id, line_no),
               UNIQUE (order_id, sku),
               FOREIGN KEY (order_id) REFERENCES orders (id) ON DELETE CASCADE
             )"
        }
        Dialect::Sqlite => {
            "CREATE TABLE customers (
               id INTEGER PRIMARY KEY AUTOINCREMENT,
               email varchar(120) NOT NULL UNIQUE,
               name TEXT NOT NULL
             );
             CREATE TABLE orders (
               id INTEGER PRIMARY KEY,
               customer_id INTEGER NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
               placed_on date NOT NULL,
               note TEXT
             );
             CREATE INDEX orders_placed_on_idx ON orders (placed_on);
             CREATE TABLE order_lines (
               order_id INTEGER NOT NULL REFERENCES orders (id) ON DELETE CASCADE,
               line_no INTEGER NOT NULL,
               sku varchar(40) NOT NULL,
               qty INTEGER NOT NULL DEFAULT 1,
               PRIMARY KEY (order_id, line_no),
               UNIQUE (order_id, sku)
             )"
        }
    }
}

fn golden(dialect: Dialect) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/pulled")
        .join(format!("hand_made_{}.rs", dialect.name()))
}

per_backend! {
    async fn a_hand_made_schema_pulls_with_zero_drift(ctx) {
        let dialect = ctx.dialect();
        for statement in schema(dialect).split(';') {
            ctx.db.execute_raw(statement).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
        let pulled = pull(&ctx.db, &PullOptions::default()).await.unwrap();
        let text = code(&pulled);
        let path = golden(dialect);
        if std::env::var("ORM_PULL_BLESS").is_ok_and(|v| v == "1") {
            std::fs::write(&path, &text).unwrap();
        }
        assert_eq!(text, std::fs::read_to_string(&path).unwrap_or_default(), "pulled code changed: review it and rerun with ORM_PULL_BLESS=1");
        assert!(pulled.skipped.is_empty(), "{:?}", pulled.skipped);
        let expected = introspect::expected(&pulled.schema(), dialect);
        let live = introspect::live(&ctx.db).await.unwrap();
        let drift = introspect::compare(&expected, &live);
        assert!(drift.is_empty(), "drift on {dialect}:\n{}", drift.join("\n"));

        for statement in ROWS.split(';') {
            ctx.db.execute_raw(statement).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
        match dialect {
            Dialect::Postgres => reads_and_writes!(pulled_postgres, ctx),
            Dialect::MySql => reads_and_writes!(pulled_mysql, ctx),
            Dialect::Sqlite => reads_and_writes!(pulled_sqlite, ctx),
        }

        // A baseline from the pulled models records the database as it is: nothing to
        // generate, nothing to apply, zero drift.
        let migrator = Migrator::new(ctx.db.clone(), &ctx.dir, pulled.schema()).unwrap();
        migrator.baseline("baseline").await.unwrap();
        let options = GenerateOptions::default();
        assert!(generate(&ctx.dir, "same", &pulled.schema(), dialect, &options).unwrap().is_none());
        assert!(migrator.up(None, false).await.unwrap().is_empty());
        migrator.verify().await.unwrap_or_else(|e| panic!("{e}"));
    }

    async fn models_pulled_from_a_hand_made_schema_create_it_again_with_its_names(ctx) {
        let dialect = ctx.dialect();
        for statement in schema(dialect).split(';') {
            ctx.db.execute_raw(statement).await.unwrap();
        }
        let pulled = pull(&ctx.db, &PullOptions::default()).await.unwrap();
        for table in ["order_lines", "orders", "customers"] {
            ctx.db.execute_raw(&format!("DROP TABLE {table}")).await.unwrap();
        }
        let options = GenerateOptions::default();
        let created = generate(&ctx.dir, "create", &pulled.schema(), dialect, &options).unwrap().unwrap();
        let up = std::fs::read_to_string(created.dir.join("up.sql")).unwrap();
        for name in ["orders_placed_on_idx", "customers_email_key", "orders_customer_id_fkey", "orders_ibfk_1"] {
            let expected = matches!(
                (name, dialect),
                ("orders_customer_id_fkey" | "customers_email_key", Dialect::Postgres)
                    | ("orders_ibfk_1", Dialect::MySql)
                    | ("orders_placed_on_idx", _)
            );
            assert_eq!(up.contains(name), expected, "{name} in:\n{up}");
        }
        let migrator = Migrator::new(ctx.db.clone(), &ctx.dir, pulled.schema()).unwrap();
        assert_eq!(migrator.up(None, false).await.unwrap().len(), 1);
        migrator.verify().await.unwrap_or_else(|e| panic!("{e}"));
    }

    async fn the_schemas_the_test_suite_creates_pull_back_to_the_same_models(ctx) {
        let dialect = ctx.dialect();
        let (_, mut models) = common::versions().pop().unwrap();
        models.tables.extend(Schema::from_models([common::rich::Rich::SCHEMA, common::tickets::v2::Ticket::SCHEMA]).tables);
        generate(&ctx.dir, "suite", &models, dialect, &GenerateOptions::default()).unwrap().unwrap();
        Migrator::new(ctx.db.clone(), &ctx.dir, models.clone()).unwrap().up(None, false).await.unwrap();

        let pulled = pull(&ctx.db, &PullOptions::default()).await.unwrap();
        assert!(pulled.skipped.is_empty(), "{:?}", pulled.skipped);
        let drift = introspect::compare(&introspect::expected(&pulled.schema(), dialect), &introspect::live(&ctx.db).await.unwrap());
        assert!(drift.is_empty(), "drift on {dialect}:\n{}", drift.join("\n"));
        // The pulled models describe what the suite's models describe: the same physical
        // schema (storage types, nullability, defaults, keys, indexes and foreign keys under
        // the ORM's names, CHECKs). Rust types can differ only where two types share a storage
        // type on the dialect (SQLite keeps dates and UUIDs as text and blobs, MariaDB JSON as
        // longtext): those pull as the plainer type.
        let pulled = introspect::expected(&pulled.schema(), dialect);
        let wanted = introspect::expected(&models, dialect);
        assert_eq!(pulled.keys().collect::<Vec<_>>(), wanted.keys().collect::<Vec<_>>());
        for (name, want) in &wanted {
            assert_eq!(&pulled[name], want, "{name} on {dialect}");
        }
    }
}

/// The rows of `sql` (a one-column text query) as the database renders them.
async fn texts(ctx: &common::Ctx, sql: &str) -> Vec<Option<String>> {
    let statement = Compiled {
        sql: sql.to_owned(),
        values: vec![],
    };
    ctx.db
        .fetch_compiled(statement, |r| Option::<String>::decode(r, 0))
        .await
        .unwrap()
}

/// Typed reads through the pulled models of `$m` return what the database's SQL wrote, and a
/// typed insert is what the database then holds (checked with its own SQL).
macro_rules! reads_and_writes {
    ($m:ident, $ctx:expr) => {{
        use $m::*;
        let ctx: &common::Ctx = $ctx;
        let customers = Customers::query()
            .order_by(Customers::ID.asc())
            .all(&ctx.db)
            .await
            .unwrap();
        let seen: Vec<(String, String)> = customers
            .iter()
            .map(|c| (c.email.clone(), c.name.clone()))
            .collect();
        assert_eq!(
            seen,
            [
                ("ada@example.com".to_owned(), "Ada".to_owned()),
                (
                    "alan@example.com".to_owned(),
                    "Alan Turing, it's".to_owned()
                ),
            ]
        );
        let orders = Orders::query()
            .order_by(Orders::ID.asc())
            .all(&ctx.db)
            .await
            .unwrap();
        let seen: Vec<(String, Option<String>)> = orders
            .iter()
            .map(|o| (o.placed_on.to_string(), o.note.clone()))
            .collect();
        assert_eq!(
            seen,
            [
                ("2024-02-29".to_owned(), Some("gift".to_owned())),
                ("1999-12-31".to_owned(), None)
            ]
        );
        assert_eq!(orders[1].customer_id, customers[1].id);
        let lines = OrderLines::query()
            .order_by(OrderLines::ORDER_ID.asc())
            .order_by(OrderLines::LINE_NO.asc())
            .all(&ctx.db)
            .await
            .unwrap();
        let seen: Vec<(String, i64)> = lines
            .iter()
            .map(|l| (l.sku.clone(), i64::from(l.qty)))
            .collect();
        assert_eq!(
            seen,
            [
                ("SKU-1".to_owned(), 2),
                ("SKU-2".to_owned(), 1),
                ("SKU-1".to_owned(), 5)
            ]
        );

        // A row written through the models, read back with the database's own SQL.
        OrderLines {
            order_id: orders[1].id,
            line_no: 2,
            sku: "SKU-9".to_owned(),
            qty: 7,
        }
        .insert(&ctx.db)
        .await
        .unwrap();
        let written = texts(
            ctx,
            "SELECT sku FROM order_lines WHERE order_id = 2 AND line_no = 2",
        )
        .await;
        assert_eq!(written, [Some("SKU-9".to_owned())]);
        // The database's own unique constraint, under its own name, refuses a duplicate.
        let duplicate = OrderLines {
            order_id: orders[1].id,
            line_no: 3,
            sku: "SKU-9".to_owned(),
            qty: 1,
        }
        .insert(&ctx.db)
        .await
        .unwrap_err();
        assert!(
            matches!(duplicate, polyorm::Error::UniqueViolation { .. }),
            "{duplicate:?}"
        );
    }};
}
use reads_and_writes;
