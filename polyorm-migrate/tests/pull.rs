//! `pull` against the real servers: a hand-written schema of 13 tables and a view with every feature the
//! derive can express (keys, composite keys, auto-increment, unique constraints, indexes,
//! foreign keys with actions, defaults, enum checks, unsigned ranges, collations, names that are
//! not Rust identifiers), plus parts it cannot (a table without a primary key, a view, an
//! unsupported column type, an expression index). The models pulled from it are
//! `tests/pulled/<dialect>.rs`, compiled into this test: the test asserts that a pull writes
//! exactly that code (stable across runs; `ORM_PULL_BLESS=1` rewrites it after a reviewed
//! change), that `verify` finds zero drift between the pulled models and the database, and that
//! typed reads through the pulled models return what the database returns for the same rows.

mod common;

use polyorm::prelude::*;
use polyorm::{Compiled, Dialect, Executor, FieldType};
use polyorm_migrate::files::GenerateOptions;
use polyorm_migrate::introspect::{self, Owned, Ownership};
use polyorm_migrate::pull::{PullOptions, code, pull};
use polyorm_migrate::runner::State;
use polyorm_migrate::{Error, Migrator, generate};

#[allow(dead_code)] // not every relation accessor is called here
#[rustfmt::skip] // as `pull` formats it
#[path = "pulled/mysql.rs"]
mod pulled_mysql;
#[allow(dead_code)] // not every relation accessor is called here
#[rustfmt::skip] // as `pull` formats it
#[path = "pulled/postgres.rs"]
mod pulled_postgres;
#[allow(dead_code)] // not every relation accessor is called here
#[rustfmt::skip] // as `pull` formats it
#[path = "pulled/sqlite.rs"]
mod pulled_sqlite;

/// The schema, with `{NAME}` placeholders for what each dialect spells its own way.
const SCHEMA: &str = r#"
CREATE TABLE authors (
  id {ID},
  name varchar(100) NOT NULL,
  email varchar(120) NOT NULL,
  bio {TEXT},
  active {BOOL} NOT NULL DEFAULT TRUE,
  rating {DOUBLE} NOT NULL DEFAULT 2.5,
  joined {TS} NOT NULL,
  CONSTRAINT uq_authors_email UNIQUE (email){LEN:authors.name:100}{LEN:authors.email:120}
){TABLE};
CREATE TABLE posts (
  id {ID},
  author_id bigint NOT NULL,
  title varchar(200) NOT NULL,
  status varchar(9){ENUM} NOT NULL DEFAULT 'Draft',
  views integer NOT NULL DEFAULT 0,
  CONSTRAINT ck_posts_status CHECK (status IN ('Draft', 'Published', 'Archived')),
  CONSTRAINT fk_posts_author_id FOREIGN KEY (author_id) REFERENCES authors (id) ON DELETE CASCADE{LEN:posts.title:200}
){TABLE};
CREATE INDEX idx_posts_title ON posts (title);
CREATE TABLE tags (
  code varchar(30) NOT NULL PRIMARY KEY,
  label {TEXT}{LEN:tags.code:30}
){TABLE};
CREATE TABLE post_tags (
  post_id bigint NOT NULL,
  tag_code varchar(30) NOT NULL,
  PRIMARY KEY (post_id, tag_code),
  CONSTRAINT fk_post_tags_post_id FOREIGN KEY (post_id) REFERENCES posts (id) ON DELETE CASCADE,
  CONSTRAINT fk_post_tags_tag_code FOREIGN KEY (tag_code) REFERENCES tags (code) ON DELETE RESTRICT ON UPDATE CASCADE{LEN:post_tags.tag_code:30}
){TABLE};
CREATE TABLE comments (
  id {ID},
  post_id bigint,
  body {TEXT} NOT NULL,
  {Q}User Name{Q} varchar(50),
  created_on {DATE} NOT NULL,
  CONSTRAINT fk_comments_post_id FOREIGN KEY (post_id) REFERENCES posts (id) ON DELETE SET NULL{LEN:comments.User Name:50}
){TABLE};
CREATE INDEX idx_comments_post_id_created_on ON comments (post_id, created_on);
CREATE TABLE {Q}order{Q} (
  id {ID},
  {Q}type{Q} varchar(20) NOT NULL DEFAULT 'web',
  total {DECIMAL} NOT NULL{LEN:order.type:20}
){TABLE};
CREATE TABLE {Q}CustomerAccount{Q} (
  id {ID},
  {Q}FirstName{Q} {TEXT} NOT NULL,
  {Q}order_id{Q} bigint,
  CONSTRAINT {Q}fk_CustomerAccount_order_id{Q} FOREIGN KEY ({Q}order_id{Q}) REFERENCES {Q}order{Q} (id)
){TABLE};
CREATE TABLE measurements (
  id {ID},
  small smallint NOT NULL,
  medium integer,
  ratio {FLOAT} NOT NULL,
  stock {U32} NOT NULL DEFAULT 7,
  taken {NAIVE},
  at_time {TIME}{RANGE:measurements.small:-32768:32767}{RANGE:measurements.medium:-2147483648:2147483647}{RANGE:measurements.stock:0:4294967295}
){TABLE};
CREATE TABLE files (
  id {ID},
  data {BYTES} NOT NULL,
  doc {JSON},
  ref {UUID}
){TABLE};
CREATE TABLE settings (
  {Q}key{Q} varchar(50) NOT NULL PRIMARY KEY,
  value {TEXT} NOT NULL,
  enabled {BOOL} NOT NULL DEFAULT FALSE{LEN:settings.key:50}
){TABLE};
CREATE TABLE memberships (
  author_id bigint NOT NULL,
  tag_code varchar(30) NOT NULL,
  since {DATE} NOT NULL,
  PRIMARY KEY (author_id, tag_code),
  CONSTRAINT uq_memberships_tag_code_since UNIQUE (tag_code, since),
  CONSTRAINT fk_memberships_author_id FOREIGN KEY (author_id) REFERENCES authors (id){LEN:memberships.tag_code:30}
){TABLE};
CREATE TABLE categories (
  id {ID},
  name varchar(40) NOT NULL,
  parent_id bigint,
  CONSTRAINT uq_categories_name UNIQUE (name),
  CONSTRAINT fk_categories_parent_id FOREIGN KEY (parent_id) REFERENCES categories (id) ON DELETE SET NULL{LEN:categories.name:40}
){TABLE};
CREATE TABLE audit_log (
  happened {TS} NOT NULL,
  message {TEXT} NOT NULL
){TABLE};
CREATE VIEW author_names AS SELECT id, name FROM authors;
{EXTRA}
"#;

/// Rows written with the database's own SQL.
const ROWS: &str = r#"
INSERT INTO authors (name, email, bio, active, rating, joined) VALUES
  ('Ada', 'ada@example.com', 'First programmer', TRUE, 4.75, {TSV}),
  ('Alan', 'alan@example.com', NULL, FALSE, 2.5, {TSV});
INSERT INTO posts (author_id, title, status, views) VALUES (1, 'Notes', 'Published', 42),
  (1, 'Draft it''s', 'Draft', 0), (2, 'Machines', 'Archived', 7);
INSERT INTO tags (code, label) VALUES ('rust', 'Rust'), ('sql', NULL);
INSERT INTO post_tags (post_id, tag_code) VALUES (1, 'rust'), (1, 'sql'), (3, 'sql');
INSERT INTO comments (post_id, body, {Q}User Name{Q}, created_on) VALUES
  (1, 'Great', 'Grace H', '2024-02-29'), (NULL, 'Orphan', NULL, '1999-12-31');
INSERT INTO {Q}order{Q} ({Q}type{Q}, total) VALUES ('web', '12.50'), ('shop', '-0.05');
INSERT INTO {Q}CustomerAccount{Q} ({Q}FirstName{Q}, order_id) VALUES ('Émile', 1), ('Zoë', NULL);
INSERT INTO measurements (small, medium, ratio, stock) VALUES (-32768, 2147483647, 0.5, 4294967295),
  (12, NULL, -1.25, 0);
INSERT INTO files (data, doc) VALUES ({BLOB}, {DOC});
INSERT INTO settings ({Q}key{Q}, value, enabled) VALUES ('theme', 'dark', TRUE), ('lang', 'fr', FALSE);
INSERT INTO memberships (author_id, tag_code, since) VALUES (1, 'rust', '2020-01-01');
INSERT INTO categories (name, parent_id) VALUES ('root', NULL), ('child', 1);
INSERT INTO audit_log (happened, message) VALUES ({TSV}, 'created')
"#;

/// The dialect's spellings of the placeholders of [`SCHEMA`] and [`ROWS`].
fn spelling(dialect: Dialect, name: &str) -> &'static str {
    use Dialect::*;
    match (name, dialect) {
        ("ID", Postgres) => "bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        ("ID", MySql) => "bigint NOT NULL AUTO_INCREMENT PRIMARY KEY",
        ("ID", Sqlite) => "integer PRIMARY KEY AUTOINCREMENT",
        ("TEXT", MySql) => "longtext",
        ("TEXT", _) => "text",
        ("BOOL", Postgres) => "boolean",
        ("BOOL", _) => "bool",
        ("DOUBLE", Postgres) => "double precision",
        ("DOUBLE", _) => "double",
        ("FLOAT", Postgres) => "real",
        ("FLOAT", _) => "float",
        ("TS", Postgres) => "timestamptz",
        ("TS", MySql) => "DATETIME(6)",
        ("NAIVE", Postgres) => "timestamp",
        ("NAIVE", MySql) => "DATETIME(6)",
        ("TIME", Postgres) => "time",
        ("TIME", MySql) => "TIME(6)",
        ("DATE", Sqlite) | ("TS", Sqlite) | ("NAIVE", Sqlite) | ("TIME", Sqlite) => "TEXT",
        ("DATE", _) => "date",
        ("DECIMAL", Postgres) => "numeric(10, 2)",
        ("DECIMAL", MySql) => "DECIMAL(10, 2)",
        ("DECIMAL", Sqlite) => "TEXT",
        ("U32", MySql) => "int unsigned",
        ("U32", Postgres) => "bigint",
        ("U32", Sqlite) => "integer",
        ("BYTES", Postgres) => "bytea",
        ("BYTES", MySql) => "longblob",
        ("BYTES", Sqlite) => "blob",
        ("JSON", Postgres) => "jsonb",
        ("JSON", MySql) => "JSON",
        ("JSON", Sqlite) => "TEXT",
        ("UUID", Postgres) => "uuid",
        ("UUID", MySql) => "BINARY(16)",
        ("UUID", Sqlite) => "BLOB",
        ("Q", MySql) => "`",
        ("Q", _) => "\"",
        ("TABLE", MySql) => " ENGINE=InnoDB",
        ("TSV", Postgres) => "'2024-01-02 03:04:05+00'",
        ("TSV", MySql) => "'2024-01-02 03:04:05'",
        ("TSV", Sqlite) => "'2024-01-02 03:04:05+00:00'",
        ("BLOB", Postgres) => "'\\x01ff'",
        ("BLOB", _) => "X'01FF'",
        ("DOC", _) => "'[1, 2]'",
        // The collation the ORM gives an enum column.
        ("ENUM", Postgres) => " COLLATE \"C\"",
        ("ENUM", MySql) => " COLLATE utf8mb4_nopad_bin",
        ("ENUM", Sqlite) => "",
        ("TABLE", _) => "",
        // What the derive cannot express: a range type and an expression index.
        ("EXTRA", Postgres) => {
            "ALTER TABLE measurements ADD COLUMN span int4range; \
             CREATE INDEX idx_authors_lower_name ON authors (lower(name));"
        }
        ("EXTRA", MySql) => {
            "ALTER TABLE measurements ADD COLUMN spot point; \
             CREATE FULLTEXT INDEX idx_authors_lower_name ON authors (name);"
        }
        ("EXTRA", Sqlite) => "CREATE INDEX idx_authors_lower_name ON authors (lower(name));",
        _ => panic!("no spelling of {name} on {dialect}"),
    }
}

/// [`SCHEMA`] spelled for `dialect`, one statement each. `{LEN:t.c:n}` and `{RANGE:t.c:a:b}`
/// are the CHECK constraints the ORM gives bounded text and narrow integers where the type does
/// not bound them (SQLite's lengths, every dialect's unsigned and SQLite's integer ranges).
fn statements(dialect: Dialect, template: &str) -> Vec<String> {
    let mut sql = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        sql.push_str(&rest[..start]);
        let end = start + rest[start..].find('}').unwrap();
        let name = &rest[start + 1..end];
        let q = spelling(dialect, "Q");
        let parts: Vec<&str> = name.split(':').collect();
        match parts[..] {
            ["LEN", target, n] if dialect == Dialect::Sqlite => {
                let (t, c) = target.split_once('.').unwrap();
                let ck = format!("ck_{t}_{c}_length");
                sql.push_str(&format!(
                    ",\n  CONSTRAINT {q}{ck}{q} CHECK ((length({q}{c}{q})) <= {n})"
                ));
            }
            ["RANGE", target, low, high] => {
                let (t, c) = target.split_once('.').unwrap();
                let needed =
                    dialect == Dialect::Sqlite || (c == "stock" && dialect == Dialect::Postgres);
                if needed {
                    sql.push_str(&format!(
                        ",\n  CONSTRAINT {q}ck_{t}_{c}_range{q} CHECK ({q}{c}{q} BETWEEN {low} AND {high})"
                    ));
                }
            }
            ["LEN", ..] => {}
            _ => sql.push_str(spelling(dialect, name)),
        }
        rest = &rest[end + 1..];
    }
    sql.push_str(rest);
    sql.split(';')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The objects of the schema that the models cannot describe (what `pull` lists as skipped).
fn not_modelled(dialect: Dialect) -> Ownership {
    let mut owned = vec!["table audit_log", "index authors.idx_authors_lower_name"];
    match dialect {
        Dialect::Postgres => owned.push("column measurements.span"),
        Dialect::MySql => owned.push("column measurements.spot"),
        Dialect::Sqlite => {}
    }
    Ownership(
        owned
            .into_iter()
            .map(|o| Owned::parse(o).unwrap())
            .collect(),
    )
}

fn golden(dialect: Dialect) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/pulled")
        .join(format!("{}.rs", dialect.name()))
}

per_backend! {
    async fn pulled_models_compile_verify_with_zero_drift_and_read_what_the_database_holds(ctx) {
        let dialect = ctx.dialect();
        for statement in statements(dialect, SCHEMA).into_iter().chain(statements(dialect, ROWS)) {
            ctx.db.execute_raw(&statement).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
        }
        let pulled = pull(&ctx.db, &PullOptions::default()).await.unwrap();
        // What the derive cannot express is listed, never dropped silently.
        let skipped = pulled.skipped.join("\n");
        for part in ["table `audit_log`", "view `author_names`", "index `idx_authors_lower_name`"] {
            assert!(skipped.contains(part), "{part} is not listed as skipped:\n{skipped}");
        }
        assert_eq!(pulled.models.len(), 12, "{:#?}", pulled.models.iter().map(|m| &m.name).collect::<Vec<_>>());

        // The code is the compiled golden file (stable across runs).
        let text = code(&pulled);
        let path = golden(dialect);
        if std::env::var("ORM_PULL_BLESS").is_ok_and(|v| v == "1") {
            std::fs::write(&path, &text).unwrap();
        }
        assert_eq!(text, std::fs::read_to_string(&path).unwrap(), "pulled code changed: review it and rerun with ORM_PULL_BLESS=1");
        assert_eq!(code(&pull(&ctx.db, &PullOptions::default()).await.unwrap()), text, "a second pull writes the same code");

        // Zero drift between the pulled models and the database (what they cannot say owned).
        let expected = introspect::expected(&pulled.schema(), dialect);
        let live = introspect::live(&ctx.db).await.unwrap();
        let drift = introspect::compare_owned(&expected, &live, &not_modelled(dialect));
        assert!(drift.is_empty(), "drift:\n{}", drift.join("\n"));

        reads_match(ctx, dialect).await;
    }

    async fn baseline_records_the_live_schema_as_applied_and_generate_diffs_from_it(ctx) {
        let dialect = ctx.dialect();
        for statement in statements(dialect, SCHEMA) {
            ctx.db.execute_raw(&statement).await.unwrap();
        }
        let pulled = pull(&ctx.db, &PullOptions::default()).await.unwrap();
        let owned = ["table audit_log", "index authors.idx_authors_lower_name", "column measurements.span", "column measurements.spot"];
        let owned: Vec<&str> = owned.into_iter()
            .filter(|o| !o.contains("measurements.s") || not_modelled(dialect).0.iter().any(|x| x.name.as_deref() == o.split('.').nth(1)))
            .collect();
        let migrator = Migrator::new(ctx.db.clone(), &ctx.dir, pulled.schema()).unwrap().owning(owned.clone()).unwrap();
        let (migration, skipped) = migrator.baseline("baseline").await.unwrap();
        assert!(skipped.iter().any(|s| s.contains("audit_log")), "{skipped:?}");
        assert!(migration.up.contains("CREATE TABLE"), "{}", migration.up);
        // Recorded as applied, nothing re-created, zero drift.
        let states: Vec<bool> = migrator.status().await.unwrap().iter()
            .map(|s| matches!(s.state, State::Applied(_))).collect();
        assert_eq!(states, [true]);
        assert!(migrator.up(None, false).await.unwrap().is_empty());
        migrator.verify().await.unwrap_or_else(|e| panic!("{e}"));
        // Refused once there is a history.
        let again = migrator.baseline("again").await.unwrap_err();
        assert!(matches!(again, Error::HistoryExists(_)), "{again}");
        assert!(again.to_string().contains("has applied 1 migration"), "{again}");
        // `generate` diffs from the baseline: the same models change nothing, a new column is
        // one operation that applies.
        let options = GenerateOptions::default();
        assert!(generate(&ctx.dir, "same", &pulled.schema(), dialect, &options).unwrap().is_none());
        let mut models = pulled.schema();
        let tags = models.tables.get_mut("tags").unwrap();
        let mut color = tags.columns.iter().find(|c| c.name == "label").unwrap().clone();
        color.name = "color".to_owned();
        tags.columns.push(color);
        let generated = generate(&ctx.dir, "color", &models, dialect, &options).unwrap().unwrap();
        assert_eq!(generated.operations.len(), 1, "{:?}", generated.operations);
        let migrator = Migrator::new(ctx.db.clone(), &ctx.dir, models).unwrap().owning(owned).unwrap();
        assert_eq!(migrator.up(None, false).await.unwrap().len(), 1);
        migrator.verify().await.unwrap_or_else(|e| panic!("{e}"));
    }
}

/// The text the database renders `column` of `table` in, as its own client shows it.
fn as_text(dialect: Dialect, column: &str) -> String {
    let q = spelling(dialect, "Q");
    match (column, dialect) {
        ("NULL", Dialect::Postgres) => "NULL::text".to_owned(),
        ("NULL", Dialect::MySql) => "CAST(NULL AS CHAR)".to_owned(),
        ("NULL", Dialect::Sqlite) => "NULL".to_owned(),
        (c, _) if c.starts_with("BOOL ") => {
            format!("CASE WHEN {q}{}{q} THEN '1' ELSE '0' END", &c[5..])
        }
        (c, Dialect::Postgres) => format!("{q}{c}{q}::text"),
        (c, Dialect::MySql) => format!("CAST({q}{c}{q} AS CHAR)"),
        (c, Dialect::Sqlite) => format!("CAST({q}{c}{q} AS TEXT)"),
    }
}

/// The rows of `table` (ordered by `id` or its first column) as the database renders
/// `columns` in text (up to six; `BOOL c` renders a boolean as `1`/`0`).
async fn db_text(ctx: &common::Ctx, table: &str, columns: &[&str]) -> Vec<Vec<Option<String>>> {
    let dialect = ctx.dialect();
    let q = spelling(dialect, "Q");
    let mut select: Vec<String> = columns.iter().map(|c| as_text(dialect, c)).collect();
    select.resize(6, as_text(dialect, "NULL"));
    let first = columns[0].trim_start_matches("BOOL ");
    let sql = format!(
        "SELECT {} FROM {q}{table}{q} ORDER BY {q}{first}{q}",
        select.join(", ")
    );
    let rows: Vec<Vec<Option<String>>> = ctx
        .db
        .fetch_compiled(
            Compiled {
                sql,
                values: vec![],
            },
            |r| (0..6).map(|i| Option::<String>::decode(r, i)).collect(),
        )
        .await
        .unwrap();
    rows.into_iter()
        .map(|mut r| {
            r.truncate(columns.len());
            r
        })
        .collect()
}

fn t(v: &impl ToString) -> Option<String> {
    Some(v.to_string())
}

fn o(v: &Option<impl ToString>) -> Option<String> {
    v.as_ref().map(ToString::to_string)
}

fn b(v: &bool) -> Option<String> {
    Some(u8::from(*v).to_string())
}

/// Asserts that the rows of `$model` read typed (projected by `$v`) equal the database's text
/// of `$col`.
macro_rules! check {
    ($ctx:ident, $model:ident, $key:ident, $table:expr, [$($col:expr),*], |$r:ident| [$($v:expr),*]) => {{
        let typed: Vec<Vec<Option<String>>> = $model::query()
            .order_by($model::$key.asc())
            .all(&$ctx.db)
            .await
            .unwrap()
            .iter()
            .map(|$r| vec![$($v),*])
            .collect();
        let text = db_text($ctx, $table, &[$($col),*]).await;
        assert!(!typed.is_empty(), "{} has rows", $table);
        assert_eq!(typed, text, "{} on {}", $table, $ctx.dialect());
    }};
}

/// Asserts that typed reads through the pulled models of module `$m` equal the database's text.
macro_rules! typed_reads_match {
    ($m:ident, $ctx:expr) => {{
        use $m::*;
        let ctx: &common::Ctx = $ctx;
        check!(
            ctx,
            Authors,
            ID,
            "authors",
            ["id", "name", "email", "bio", "BOOL active", "rating"],
            |r| [
                t(&r.id),
                t(&r.name),
                t(&r.email),
                o(&r.bio),
                b(&r.active),
                t(&r.rating)
            ]
        );
        check!(
            ctx,
            Posts,
            ID,
            "posts",
            ["id", "author_id", "title", "status", "views"],
            |r| [
                t(&r.id),
                t(&r.author_id),
                t(&r.title),
                Some(format!("{:?}", r.status)),
                t(&r.views)
            ]
        );
        check!(
            ctx,
            Comments,
            ID,
            "comments",
            ["id", "post_id", "body", "User Name", "created_on"],
            |r| [
                t(&r.id),
                o(&r.post_id),
                t(&r.body),
                o(&r.user_name),
                t(&r.created_on)
            ]
        );
        check!(ctx, Order, ID, "order", ["id", "type", "total"], |r| [
            t(&r.id),
            t(&r.type_),
            t(&r.total)
        ]);
        check!(
            ctx,
            CustomerAccount,
            ID,
            "CustomerAccount",
            ["id", "FirstName", "order_id"],
            |r| [t(&r.id), t(&r.first_name), o(&r.order_id)]
        );
        check!(
            ctx,
            Measurements,
            ID,
            "measurements",
            ["id", "small", "medium", "ratio", "stock"],
            |r| [
                t(&r.id),
                t(&r.small),
                o(&r.medium),
                t(&r.ratio),
                t(&r.stock)
            ]
        );
        check!(
            ctx,
            Settings,
            KEY,
            "settings",
            ["key", "value", "BOOL enabled"],
            |r| [t(&r.key), t(&r.value), b(&r.enabled)]
        );
        check!(ctx, Tags, CODE, "tags", ["code", "label"], |r| [
            t(&r.code),
            o(&r.label)
        ]);
        check!(
            ctx,
            Categories,
            ID,
            "categories",
            ["id", "name", "parent_id"],
            |r| [t(&r.id), t(&r.name), o(&r.parent_id)]
        );
        check!(
            ctx,
            Memberships,
            AUTHOR_ID,
            "memberships",
            ["author_id", "tag_code", "since"],
            |r| [t(&r.author_id), t(&r.tag_code), t(&r.since)]
        );
        check!(
            ctx,
            PostTags,
            POST_ID,
            "post_tags",
            ["post_id", "tag_code"],
            |r| [t(&r.post_id), t(&r.tag_code)]
        );
        check!(ctx, Files, ID, "files", ["id"], |r| [t(&r.id)]);
        let files = Files::query().all(&ctx.db).await.unwrap();
        assert_eq!(
            files[0].data,
            vec![0x01, 0xff],
            "bytes on {}",
            ctx.dialect()
        );
    }};
}

/// Rows written with the database's own SQL read back through the pulled models as the
/// database itself renders them (integers, text, decimals, dates, floats, booleans, NULLs,
/// enum values, bytes; timestamps are compared by the drift check's types only).
async fn reads_match(ctx: &common::Ctx, dialect: Dialect) {
    match dialect {
        Dialect::Postgres => typed_reads_match!(pulled_postgres, ctx),
        Dialect::MySql => typed_reads_match!(pulled_mysql, ctx),
        Dialect::Sqlite => typed_reads_match!(pulled_sqlite, ctx),
    }
}
