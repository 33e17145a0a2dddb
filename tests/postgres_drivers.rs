//! The two PostgreSQL drivers side by side on one database: sqlx's (`PostgresDriver::Sqlx`)
//! and the native one on tokio-postgres (`PostgresDriver::Native`, feature `postgres-native`).
//! Where they could differ: every column type and NULL (written by one, read by both), the
//! typed errors of the same server errors (constraint and column names included), the
//! conflicts a retry resolves (40001, 40P01, 55P03), a connection the server ends, a statement
//! abandoned mid-flight, `sslmode` read alike (tests/tls.rs checks certificates on both
//! drivers).
//!
//! Needs the PostgreSQL of `ORM_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`; skipped, as in the suite, when `postgres` is not
//! in `ORM_TEST_BACKENDS`); each test works in a schema of its own (the suite's harness).

use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use polyorm::prelude::*;
use polyorm::tls::{SslMode, Tls};
use polyorm::{Error, IsolationLevel, PostgresDriver, TxOptions};
use rust_decimal::Decimal;
use uuid::Uuid;

#[path = "suite/harness.rs"]
#[allow(dead_code)]
mod harness;

/// A schema private to one test (the suite's), with a pool on each driver whose
/// `search_path` is it; `None` when PostgreSQL is not in `ORM_TEST_BACKENDS`.
struct Both {
    sqlx: Db,
    native: Db,
    /// The suite's database: its pool serves as the test's admin connection.
    schema: harness::TestDb,
}

impl Both {
    async fn new(test: &str) -> Option<Both> {
        let schema = harness::setup(harness::Backend::Postgres, test).await?;
        let pool = |driver| {
            let url = schema.url.clone();
            async move {
                PoolOptions::new()
                    .max_connections(3)
                    .postgres_driver(driver)
                    .connect(&url)
                    .await
                    .unwrap_or_else(|e| panic!("{driver:?} cannot connect to {url}: {e}"))
            }
        };
        Some(Both {
            sqlx: pool(PostgresDriver::Sqlx).await,
            native: pool(PostgresDriver::Native).await,
            schema,
        })
    }

    /// The two pools, named.
    fn drivers(&self) -> [(&'static str, &Db); 2] {
        [("sqlx", &self.sqlx), ("native", &self.native)]
    }

    async fn teardown(self) {
        self.sqlx.close().await;
        self.native.close().await;
        self.schema.teardown().await;
    }
}

/// A column of every type the ORM maps on PostgreSQL.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "every_type")]
pub struct EveryType {
    #[orm(primary_key)]
    id: i64,
    flag: bool,
    small: i16,
    int: i32,
    big: i64,
    tiny_unsigned: u8,
    short_unsigned: u16,
    unsigned: u32,
    real: f32,
    double: f64,
    #[orm(max_length = 200)]
    text: String,
    bytes: Vec<u8>,
    at: DateTime<Utc>,
    naive_at: NaiveDateTime,
    day: NaiveDate,
    clock: NaiveTime,
    offset_at: time::OffsetDateTime,
    primitive_at: time::PrimitiveDateTime,
    time_day: time::Date,
    time_clock: time::Time,
    uuid: Uuid,
    #[orm(precision = 12, scale = 2)]
    amount: Decimal,
    doc: serde_json::Value,
}

/// Every type again, each nullable.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "every_null")]
pub struct EveryNull {
    #[orm(primary_key)]
    id: i64,
    flag: Option<bool>,
    small: Option<i16>,
    int: Option<i32>,
    big: Option<i64>,
    tiny_unsigned: Option<u8>,
    unsigned: Option<u32>,
    real: Option<f32>,
    double: Option<f64>,
    text: Option<String>,
    bytes: Option<Vec<u8>>,
    at: Option<DateTime<Utc>>,
    naive_at: Option<NaiveDateTime>,
    day: Option<NaiveDate>,
    clock: Option<NaiveTime>,
    offset_at: Option<time::OffsetDateTime>,
    uuid: Option<Uuid>,
    #[orm(precision = 12, scale = 2)]
    amount: Option<Decimal>,
    doc: Option<serde_json::Value>,
}

fn every_type(id: i64) -> EveryType {
    let at = DateTime::parse_from_rfc3339("2026-02-28T23:59:58.123456Z")
        .unwrap()
        .with_timezone(&Utc);
    EveryType {
        id,
        flag: id % 2 == 0,
        small: -32768,
        int: i32::MAX,
        big: i64::MIN + id,
        tiny_unsigned: u8::MAX,
        short_unsigned: u16::MAX,
        unsigned: u32::MAX,
        real: 1.5e-7,
        double: -0.1 + f64::from(i32::try_from(id).unwrap()),
        text: format!("naïve ☃ 'quoted' \"double\" \\ {id}"),
        bytes: vec![0, 1, 0xFE, 0xFF, id as u8],
        at,
        naive_at: at.naive_utc(),
        day: NaiveDate::from_ymd_opt(1, 1, 1).unwrap(),
        clock: NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999).unwrap(),
        offset_at: time::macros::datetime!(2038-01-19 03:14:08.5 UTC),
        primitive_at: time::macros::datetime!(1969-12-31 23:59:59.000001),
        time_day: time::macros::date!(9999 - 12 - 31),
        time_clock: time::macros::time!(00:00:00.000001),
        uuid: Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef ^ id as u128),
        amount: Decimal::new(-1_234_567_890, 2),
        doc: serde_json::json!({"a": [1, 2.5, 1e16, null, true], "s": "x\"y", "n": {"id": id}}),
    }
}

#[tokio::test]
async fn every_type_written_by_either_driver_reads_back_the_same_through_both() {
    let Some(t) = Both::new("types").await else {
        return;
    };
    t.sqlx.create_table::<EveryType>().await.unwrap();
    every_type(1).insert(&t.sqlx).await.unwrap();
    every_type(2).insert(&t.native).await.unwrap();
    for (name, db) in t.drivers() {
        let mut read = EveryType::query().all(db).await.unwrap();
        read.sort_by_key(|r| r.id);
        assert_eq!(read, vec![every_type(1), every_type(2)], "read by {name}");
        // By key, and streamed.
        assert_eq!(
            EveryType::find(db, 2).await.unwrap(),
            Some(every_type(2)),
            "{name}"
        );
        let mut streamed: Vec<EveryType> = {
            use futures::TryStreamExt;
            EveryType::query().stream(db).try_collect().await.unwrap()
        };
        streamed.sort_by_key(|r| r.id);
        assert_eq!(streamed, read, "streamed by {name}");
    }
    t.teardown().await;
}

#[tokio::test]
async fn decimal_zero_keeps_its_scale_on_both_drivers() {
    let Some(t) = Both::new("decimal").await else {
        return;
    };
    for (name, db) in t.drivers() {
        let (zero,): (Decimal,) = polyorm::raw("SELECT CAST(0 AS NUMERIC(12, 2))")
            .fetch_one(db)
            .await
            .unwrap();
        assert_eq!(zero.to_string(), "0.00", "{name}");
        let (back,): (Decimal,) = polyorm::raw("SELECT CAST(? AS NUMERIC(12, 3))")
            .bind(Decimal::new(-5, 1))
            .fetch_one(db)
            .await
            .unwrap();
        assert_eq!(back.to_string(), "-0.500", "{name}");
    }
    t.teardown().await;
}

#[tokio::test]
async fn nulls_of_every_type_round_trip_through_both_drivers() {
    let Some(t) = Both::new("nulls").await else {
        return;
    };
    t.native.create_table::<EveryNull>().await.unwrap();
    let empty = |id| EveryNull {
        id,
        flag: None,
        small: None,
        int: None,
        big: None,
        tiny_unsigned: None,
        unsigned: None,
        real: None,
        double: None,
        text: None,
        bytes: None,
        at: None,
        naive_at: None,
        day: None,
        clock: None,
        offset_at: None,
        uuid: None,
        amount: None,
        doc: None,
    };
    empty(1).insert(&t.sqlx).await.unwrap();
    empty(2).insert(&t.native).await.unwrap();
    for (name, db) in t.drivers() {
        let mut read = EveryNull::query().all(db).await.unwrap();
        read.sort_by_key(|r| r.id);
        assert_eq!(read, vec![empty(1), empty(2)], "read by {name}");
        // An untyped NULL of a raw query, and a NULL bound as a parameter.
        let row: (Option<i64>, Option<String>) = polyorm::raw("SELECT NULL::int8, ?")
            .bind(None::<String>)
            .fetch_one(db)
            .await
            .unwrap();
        assert_eq!(row, (None, None), "{name}");
    }
    t.teardown().await;
}

#[tokio::test]
async fn narrow_integers_and_mismatched_types_decode_alike() {
    let Some(t) = Both::new("integers").await else {
        return;
    };
    for (name, db) in t.drivers() {
        // `u8` reads any integer column that holds it; an `i64` from `int4` is refused alike.
        let (small,): (u8,) = polyorm::raw("SELECT CAST(200 AS int4)")
            .fetch_one(db)
            .await
            .unwrap();
        assert_eq!(small, 200, "{name}");
        let err = polyorm::raw("SELECT CAST(300 AS int2)")
            .fetch_one::<(u8,), _>(db)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{name}: {err:?}");
        let err = polyorm::raw("SELECT 'x'::text")
            .fetch_one::<(i64,), _>(db)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{name}: {err:?}");
    }
    t.teardown().await;
}

#[tokio::test]
async fn constraint_violations_are_the_same_typed_errors_with_the_same_names() {
    let Some(t) = Both::new("constraints").await else {
        return;
    };
    t.sqlx
        .execute_raw(
            "CREATE TABLE parents (id int8 PRIMARY KEY);
             CREATE TABLE kids (
                 id int8 PRIMARY KEY,
                 parent_id int8 CONSTRAINT kids_parent_fk REFERENCES parents (id),
                 email text NOT NULL CONSTRAINT kids_email_key UNIQUE,
                 age int4 CONSTRAINT kids_age_check CHECK (age >= 0)
             );
             INSERT INTO parents VALUES (1);
             INSERT INTO kids VALUES (1, 1, 'a@x', 3);",
        )
        .await
        .unwrap();
    let insert = |id: i64, parent: i64, email: Option<&str>, age: i32| {
        polyorm::raw("INSERT INTO kids (id, parent_id, email, age) VALUES (?, ?, ?, ?)")
            .bind(id)
            .bind(parent)
            .bind(email.map(str::to_owned))
            .bind(age)
    };
    for (name, db) in t.drivers() {
        let unique = insert(2, 1, Some("a@x"), 1).execute(db).await.unwrap_err();
        match &unique {
            Error::UniqueViolation { constraint, .. } => {
                assert_eq!(constraint.as_deref(), Some("kids_email_key"), "{name}");
            }
            other => panic!("{name}: expected UniqueViolation, got {other:?}"),
        }
        let foreign = insert(3, 9, Some("b@x"), 1).execute(db).await.unwrap_err();
        match &foreign {
            Error::ForeignKeyViolation { constraint, .. } => {
                assert_eq!(constraint.as_deref(), Some("kids_parent_fk"), "{name}");
            }
            other => panic!("{name}: expected ForeignKeyViolation, got {other:?}"),
        }
        let not_null = insert(4, 1, None, 1).execute(db).await.unwrap_err();
        match &not_null {
            Error::NotNullViolation { column, .. } => {
                assert_eq!(column.as_deref(), Some("email"), "{name}");
            }
            other => panic!("{name}: expected NotNullViolation, got {other:?}"),
        }
        let check = insert(5, 1, Some("c@x"), -1).execute(db).await.unwrap_err();
        match &check {
            Error::CheckViolation { constraint, .. } => {
                assert_eq!(constraint.as_deref(), Some("kids_age_check"), "{name}");
            }
            other => panic!("{name}: expected CheckViolation, got {other:?}"),
        }
        // The connection is fine after each error: the next statement runs.
        insert(
            10 + i64::from(name == "native"),
            1,
            Some(&format!("{name}@x")),
            1,
        )
        .execute(db)
        .await
        .unwrap();
        // A syntax error is a plain database error on both.
        let syntax = db.execute_raw("SELEC 1").await.unwrap_err();
        assert_eq!(syntax.kind(), "database", "{name}: {syntax:?}");
    }
    t.teardown().await;
}

#[tokio::test]
async fn lock_timeouts_serialization_failures_and_deadlocks_are_typed() {
    let Some(t) = Both::new("conflicts").await else {
        return;
    };
    t.sqlx
        .execute_raw(
            "CREATE TABLE accounts (id int8 PRIMARY KEY, balance int8 NOT NULL);
             INSERT INTO accounts VALUES (1, 100), (2, 100);",
        )
        .await
        .unwrap();
    for (name, db) in t.drivers() {
        // 55P03: a row another transaction holds, with a short lock_timeout.
        let holder = db.begin().await.unwrap();
        holder
            .execute_raw("SELECT * FROM accounts WHERE id = 1 FOR UPDATE")
            .await
            .unwrap();
        let waiter = db.begin().await.unwrap();
        waiter
            .execute_raw("SET LOCAL lock_timeout = '50ms'")
            .await
            .unwrap();
        let err = waiter
            .execute_raw("UPDATE accounts SET balance = 0 WHERE id = 1")
            .await
            .unwrap_err();
        assert!(matches!(err, Error::LockTimeout { .. }), "{name}: {err:?}");
        waiter.rollback().await.unwrap();
        holder.rollback().await.unwrap();

        // 40001: a repeatable-read transaction updating a row changed since its snapshot.
        let options = TxOptions::new().isolation(IsolationLevel::RepeatableRead);
        let reader = db.begin_with(options).await.unwrap();
        reader
            .execute_raw("SELECT balance FROM accounts WHERE id = 2")
            .await
            .unwrap();
        db.execute_raw("UPDATE accounts SET balance = balance + 1 WHERE id = 2")
            .await
            .unwrap();
        let err = reader
            .execute_raw("UPDATE accounts SET balance = balance + 1 WHERE id = 2")
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::SerializationFailure { .. }),
            "{name}: {err:?}"
        );
        assert!(err.is_retryable(), "{name}");
        reader.rollback().await.unwrap();

        // 40P01: two transactions locking the same two rows in opposite orders.
        let (a, b) = (db.begin().await.unwrap(), db.begin().await.unwrap());
        a.execute_raw("UPDATE accounts SET balance = balance - 1 WHERE id = 1")
            .await
            .unwrap();
        b.execute_raw("UPDATE accounts SET balance = balance - 1 WHERE id = 2")
            .await
            .unwrap();
        let (ra, rb) = tokio::join!(
            a.execute_raw("UPDATE accounts SET balance = balance + 1 WHERE id = 2"),
            async {
                tokio::time::sleep(Duration::from_millis(100)).await;
                b.execute_raw("UPDATE accounts SET balance = balance + 1 WHERE id = 1")
                    .await
            },
        );
        let deadlocks = [&ra, &rb]
            .into_iter()
            .filter(|r| matches!(r, Err(Error::Deadlock { .. })))
            .count();
        assert_eq!(deadlocks, 1, "{name}: {ra:?} / {rb:?}");
        a.rollback().await.unwrap();
        b.rollback().await.unwrap();
    }
    t.teardown().await;
}

#[tokio::test]
async fn a_connection_the_server_ends_is_lost_and_the_pool_replaces_it() {
    let Some(t) = Both::new("lost").await else {
        return;
    };
    for (name, db) in t.drivers() {
        let conn = db.acquire().await.unwrap();
        let (pid,): (i32,) = polyorm::raw("SELECT pg_backend_pid()")
            .fetch_one(&conn)
            .await
            .unwrap();
        let (ended,): (bool,) = polyorm::raw("SELECT pg_terminate_backend(?)")
            .bind(pid)
            .fetch_one(&t.schema.db)
            .await
            .unwrap();
        assert!(ended, "{name}");
        // The server's goodbye (57P01) or the closed socket: either way, lost.
        let err = polyorm::raw("SELECT 1")
            .fetch_one::<(i32,), _>(&conn)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::ConnectionLost { .. }),
            "{name}: {err:?}"
        );
        drop(conn);
        let (one,): (i32,) = polyorm::raw("SELECT 1").fetch_one(db).await.unwrap();
        assert_eq!(one, 1, "{name}: the pool opened another connection");
    }
    t.teardown().await;
}

#[tokio::test]
async fn a_statement_abandoned_mid_flight_leaves_the_connection_usable() {
    let Some(t) = Both::new("abandoned").await else {
        return;
    };
    for (name, db) in t.drivers() {
        let conn = db.acquire().await.unwrap();
        // Dropped while the server still works on it (the native driver reads nothing between
        // statements: its answer waits in the socket).
        let slow = polyorm::raw("SELECT pg_sleep(0.3)::text").fetch_one::<(String,), _>(&conn);
        let timed_out = tokio::time::timeout(Duration::from_millis(50), slow).await;
        assert!(timed_out.is_err(), "{name}: the sleep ended within 50 ms");
        // The next statement on the same connection gets its own answer, not the old one.
        let (n,): (i32,) = polyorm::raw("SELECT ?::int4 + 1")
            .bind(41)
            .fetch_one(&conn)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(n, 42, "{name}");
        drop(conn);
        let (n,): (i32,) = polyorm::raw("SELECT 7").fetch_one(db).await.unwrap();
        assert_eq!(n, 7, "{name}");
    }
    t.teardown().await;
}

/// Connections of this test's `application_name` still open on the server.
async fn open_connections(admin: &Db, application: &str) -> i64 {
    let (n,): (i64,) =
        polyorm::raw("SELECT count(*) FROM pg_stat_activity WHERE application_name = ?")
            .bind(application)
            .fetch_one(admin)
            .await
            .unwrap();
    n
}

#[tokio::test]
async fn native_connections_close_when_the_pool_lets_them_go() {
    if !harness::enabled(harness::Backend::Postgres) {
        eprintln!("SKIPPED: postgres not in ORM_TEST_BACKENDS");
        return;
    }
    let base = harness::postgres_url();
    let admin = Db::connect(&base).await.unwrap();
    let application = format!("pgnative_close_{}", std::process::id());
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}application_name={application}");
    let native = PoolOptions::new()
        .max_connections(2)
        .postgres_driver(PostgresDriver::Native)
        .connect(&url)
        .await
        .unwrap();
    let (a, b) = (
        native.acquire().await.unwrap(),
        native.acquire().await.unwrap(),
    );
    assert_eq!(open_connections(&admin, &application).await, 2);
    drop((a, b));
    native.close().await;
    // The client's goodbye ends the server's backend; it leaves pg_stat_activity promptly.
    let mut open = open_connections(&admin, &application).await;
    for _ in 0..50 {
        if open == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        open = open_connections(&admin, &application).await;
    }
    assert_eq!(open, 0, "connections still open after Db::close");
}

/// Whether the session of `db` is encrypted, as the server sees it.
async fn encrypted(db: &Db) -> bool {
    let (ssl,): (bool,) = polyorm::raw("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        .fetch_one(db)
        .await
        .unwrap();
    ssl
}

#[tokio::test]
async fn both_drivers_read_sslmode_from_the_url_and_from_tls_alike() {
    if !harness::enabled(harness::Backend::Postgres) {
        eprintln!("SKIPPED: postgres not in ORM_TEST_BACKENDS");
        return;
    }
    let base = harness::postgres_url();
    let sep = if base.contains('?') { '&' } else { '?' };
    let admin = Db::connect(&base).await.unwrap();
    let (ssl,): (String,) = polyorm::raw("SHOW ssl").fetch_one(&admin).await.unwrap();
    admin.close().await;
    let offers_tls = ssl == "on";
    for driver in [PostgresDriver::Sqlx, PostgresDriver::Native] {
        // (URL, `Tls` over it, TLS when the server offers it, TLS or no connection)
        let cases = [
            (format!("{base}{sep}sslmode=require"), None, true, true),
            (format!("{base}{sep}sslmode=disable"), None, false, false),
            (format!("{base}{sep}sslmode=prefer"), None, true, false),
            (base.clone(), Some(Tls::new(SslMode::Require)), true, true),
            // `Tls` is over the URL's `sslmode`.
            (
                format!("{base}{sep}sslmode=require"),
                Some(Tls::new(SslMode::Disable)),
                false,
                false,
            ),
            // No `sslmode` at all: `prefer`.
            (base.clone(), None, true, false),
        ];
        for (url, tls, encrypts, requires) in cases {
            let mut options = PoolOptions::new().postgres_driver(driver);
            if let Some(tls) = tls.clone() {
                options = options.tls(tls);
            }
            let connected = options.connect(&url).await;
            let what = format!("{driver:?}, {url}, {tls:?}");
            if requires && !offers_tls {
                let err = connected
                    .err()
                    .unwrap_or_else(|| panic!("{what} connected"));
                assert!(matches!(err, Error::Connection { .. }), "{what}: {err:?}");
                continue;
            }
            let db = connected.unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(encrypted(&db).await, encrypts && offers_tls, "{what}");
            db.close().await;
        }
    }
    // The native driver reads sqlx's other TLS parameters of the URL too; a file that is not
    // there is named when a connection opens, a half client certificate or an unknown mode
    // before.
    for (query, says) in [
        (
            "sslmode=verify-full&sslrootcert=%2Fnonexistent%2Fca.pem",
            "`/nonexistent/ca.pem`",
        ),
        ("sslcert=/tmp/client.pem", "`sslcert` and `sslkey`"),
        ("sslmode=strict", "unknown TLS mode `strict`"),
    ] {
        let err = PoolOptions::new()
            .postgres_driver(PostgresDriver::Native)
            .connect(&format!("{base}{sep}{query}"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, Error::Config(m) if m.contains(says)),
            "{query}: {err:?}"
        );
    }
}

#[tokio::test]
async fn a_server_that_refuses_connections_is_named_on_the_native_driver() {
    // A refused server is a connection error, waited for no longer than with sqlx.
    let err = PoolOptions::new()
        .postgres_driver(PostgresDriver::Native)
        .acquire_timeout(Duration::from_secs(2))
        .connect("postgres://postgres@127.0.0.1:1/test")
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("connection refused by 127.0.0.1:1 (nothing listens there)"),
        "{err}"
    );
}

#[tokio::test]
async fn sessions_start_alike_in_utc_with_iso_dates_whatever_the_server_says() {
    // The test server's own zone is `Etc/UTC`: the sqlx driver sets `UTC` at startup, and so
    // must the native one (on a server in another zone a timestamptz read as text, or cut to a
    // date, would differ between the drivers).
    let Some(t) = Both::new("session_settings").await else {
        return;
    };
    let mut seen = Vec::new();
    for (name, db) in t.drivers() {
        let settings: (String, String, String, String) = polyorm::raw(
            "SELECT current_setting('TimeZone'), current_setting('DateStyle'), \
             current_setting('extra_float_digits'), \
             CAST(CAST('2024-03-01 01:30:00+05' AS TIMESTAMPTZ) AS TEXT)",
        )
        .fetch_one(db)
        .await
        .unwrap();
        assert_eq!(settings.0, "UTC", "{name}");
        assert_eq!(settings.1, "ISO, MDY", "{name}");
        assert_eq!(settings.3, "2024-02-29 20:30:00+00", "{name}");
        seen.push(settings);
    }
    assert_eq!(seen[0], seen[1]);
    t.teardown().await;
}

#[tokio::test]
async fn the_default_driver_is_the_native_one_and_reads_errors_as_the_server_said_them() {
    let Some(t) = Both::new("default_driver").await else {
        return;
    };
    assert_eq!(PostgresDriver::default(), PostgresDriver::Native);
    let db = PoolOptions::new()
        .max_connections(1)
        .connect(&t.schema.url)
        .await
        .unwrap();
    // The pool of default options is the native driver's (`Pool::PostgresNative`).
    let pool = format!("{db:?}");
    assert!(pool.contains("PostgresNative"), "{pool}");
    // The server's message, not tokio-postgres' bare "db error".
    for (name, db) in [("default", &db), ("sqlx", &t.sqlx)] {
        let err = db
            .execute_raw("SELECT * FROM no_such_table_here")
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains(
                "error returned from database: relation \"no_such_table_here\" does not exist"
            ),
            "{name}: {err}"
        );
    }
    db.close().await;
    t.teardown().await;
}
