//! The two MariaDB/MySQL drivers side by side on one database: sqlx's (`MySqlDriver::Sqlx`)
//! and the native one on mysql_async (`MySqlDriver::Native`, feature `mysql-native`, the
//! default). Where they could differ: every column type and NULL (written by one, read by
//! both), decimal parameters in expressions and comparisons, the typed errors of the same
//! server errors (key and column names included), deadlocks and lock timeouts, a connection
//! the server kills, a statement abandoned mid-flight, the session each starts (SQL mode,
//! time zone, character set), the URL's parameters (tests/tls.rs checks certificates).
//!
//! Needs the MariaDB of `ORM_TEST_MYSQL_URL` (default `mysql://root@127.0.0.1:3306/test`;
//! skipped, as in the suite, when `mysql` is not in `ORM_TEST_BACKENDS`); each test works in a
//! database of its own (the suite's harness).

use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use polyorm::prelude::*;
use polyorm::{Error, MySqlDriver};
use rust_decimal::Decimal;
use uuid::Uuid;

#[path = "suite/harness.rs"]
#[allow(dead_code)]
mod harness;

/// A database private to one test (the suite's), with a pool on each driver; `None` when
/// MariaDB is not in `ORM_TEST_BACKENDS`.
struct Both {
    sqlx: Db,
    native: Db,
    /// The suite's database: its pool serves as the test's admin connection.
    database: harness::TestDb,
}

impl Both {
    async fn new(test: &str) -> Option<Both> {
        let database = harness::setup(harness::Backend::MySql, test).await?;
        let pool = |driver| {
            let url = database.url.clone();
            async move {
                PoolOptions::new()
                    .max_connections(3)
                    .mysql_driver(driver)
                    .connect(&url)
                    .await
                    .unwrap_or_else(|e| panic!("{driver:?} cannot connect to {url}: {e}"))
            }
        };
        Some(Both {
            sqlx: pool(MySqlDriver::Sqlx).await,
            native: pool(MySqlDriver::Native).await,
            database,
        })
    }

    /// The two pools, named.
    fn drivers(&self) -> [(&'static str, &Db); 2] {
        [("sqlx", &self.sqlx), ("native", &self.native)]
    }

    async fn teardown(self) {
        self.sqlx.close().await;
        self.native.close().await;
        self.database.teardown().await;
    }
}

/// A column of every type the ORM maps on MariaDB.
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
    huge_unsigned: u64,
    real: f32,
    double: f64,
    #[orm(max_length = 200)]
    text: String,
    long_text: String,
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
    big: Option<i64>,
    tiny_unsigned: Option<u8>,
    huge_unsigned: Option<u64>,
    real: Option<f32>,
    double: Option<f64>,
    text: Option<String>,
    bytes: Option<Vec<u8>>,
    at: Option<DateTime<Utc>>,
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
        huge_unsigned: u64::MAX - id as u64,
        real: 1.5e-7,
        double: -0.1 + f64::from(i32::try_from(id).unwrap()),
        text: format!("naïve ☃ 'quoted' \"double\" \\ ? {id}"),
        long_text: "x".repeat(70_000),
        bytes: vec![0, 1, 0xFE, 0xFF, id as u8],
        at,
        naive_at: at.naive_utc(),
        day: NaiveDate::from_ymd_opt(1000, 1, 1).unwrap(),
        clock: NaiveTime::from_hms_micro_opt(23, 59, 59, 999_999).unwrap(),
        offset_at: time::macros::datetime!(2038-01-19 03:14:08.5 UTC),
        primitive_at: time::macros::datetime!(1969-12-31 23:59:59.000001),
        time_day: time::macros::date!(9999 - 12 - 31),
        time_clock: time::macros::time!(00:00:00.000001),
        uuid: Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef ^ id as u128),
        amount: Decimal::new(-1_234_567_890, 2),
        doc: serde_json::json!({"a": [1, 2.5, null, true], "s": "x\"y", "n": {"id": id}}),
    }
}

#[tokio::test]
async fn every_type_written_by_either_driver_reads_back_the_same_through_both() {
    let Some(t) = Both::new("my_types").await else {
        return;
    };
    t.sqlx.create_table::<EveryType>().await.unwrap();
    every_type(1).insert(&t.sqlx).await.unwrap();
    every_type(2).insert(&t.native).await.unwrap();
    for (name, db) in t.drivers() {
        let mut read = EveryType::query().all(db).await.unwrap();
        read.sort_by_key(|r| r.id);
        assert_eq!(read, vec![every_type(1), every_type(2)], "read by {name}");
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
        // Filtered by each kind of value: the parameters compare as the columns' types.
        let found = EveryType::query()
            .filter(EveryType::AMOUNT.eq(Decimal::new(-1_234_567_890, 2)))
            .filter(EveryType::HUGE_UNSIGNED.eq(u64::MAX - 2))
            .filter(EveryType::UUID.eq(every_type(2).uuid))
            .filter(EveryType::DAY.eq(every_type(2).day))
            .filter(EveryType::AT.eq(every_type(2).at))
            .filter(EveryType::TEXT.eq(every_type(2).text))
            .all(db)
            .await
            .unwrap();
        assert_eq!(found, vec![every_type(2)], "{name}");
    }
    t.teardown().await;
}

#[tokio::test]
async fn nulls_of_every_type_round_trip_through_both_drivers() {
    let Some(t) = Both::new("my_nulls").await else {
        return;
    };
    t.native.create_table::<EveryNull>().await.unwrap();
    let empty = |id| EveryNull {
        id,
        flag: None,
        small: None,
        big: None,
        tiny_unsigned: None,
        huge_unsigned: None,
        real: None,
        double: None,
        text: None,
        bytes: None,
        at: None,
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
        let row: (Option<i64>, Option<String>) = polyorm::raw("SELECT NULL, ?")
            .bind(None::<String>)
            .fetch_one(db)
            .await
            .unwrap();
        assert_eq!(row, (None, None), "{name}");
    }
    t.teardown().await;
}

#[tokio::test]
async fn decimal_parameters_stay_exact_in_expressions_and_comparisons() {
    let Some(t) = Both::new("my_decimals").await else {
        return;
    };
    t.sqlx
        .execute_raw("CREATE TABLE prices (id BIGINT PRIMARY KEY, price DECIMAL(30, 2) NOT NULL)")
        .await
        .unwrap();
    // 27 significant digits: a `DOUBLE` holds 15 to 17.
    t.sqlx
        .execute_raw("INSERT INTO prices VALUES (1, 1234567890123456789012345.67)")
        .await
        .unwrap();
    let exact: Decimal = "1234567890123456789012345.67".parse().unwrap();
    let near: Decimal = "1234567890123456789012345.68".parse().unwrap();
    for (name, db) in t.drivers() {
        let (sum,): (Decimal,) = polyorm::raw("SELECT price + ? FROM prices WHERE id = 1")
            .bind("0.005".parse::<Decimal>().unwrap())
            .fetch_one(db)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(sum.to_string(), "1234567890123456789012345.675", "{name}");
        let equal: Vec<(i64,)> = polyorm::raw("SELECT id FROM prices WHERE price = ?")
            .bind(exact)
            .fetch_all(db)
            .await
            .unwrap();
        assert_eq!(equal, vec![(1,)], "{name}");
        let none: Vec<(i64,)> = polyorm::raw("SELECT id FROM prices WHERE price = ?")
            .bind(near)
            .fetch_all(db)
            .await
            .unwrap();
        assert!(none.is_empty(), "{name}: {near} matched {exact}");
        // A `?` inside a string literal is no placeholder.
        let (text, value): (String, Decimal) = polyorm::raw("SELECT 'a ? b', ?")
            .bind(Decimal::new(105, 1))
            .fetch_one(db)
            .await
            .unwrap();
        assert_eq!(
            (text.as_str(), value.to_string().as_str()),
            ("a ? b", "10.5"),
            "{name}"
        );
    }
    t.teardown().await;
}

#[tokio::test]
async fn integers_and_mismatched_types_decode_alike() {
    let Some(t) = Both::new("my_integers").await else {
        return;
    };
    for (name, db) in t.drivers() {
        let (small, unsigned): (u8, u64) =
            polyorm::raw("SELECT CAST(200 AS UNSIGNED), CAST(18446744073709551615 AS UNSIGNED)")
                .fetch_one(db)
                .await
                .unwrap();
        assert_eq!((small, unsigned), (200, u64::MAX), "{name}");
        let err = polyorm::raw("SELECT 300")
            .fetch_one::<(u8,), _>(db)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{name}: {err:?}");
        let err = polyorm::raw("SELECT 'x'")
            .fetch_one::<(i64,), _>(db)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{name}: {err:?}");
    }
    t.teardown().await;
}

#[tokio::test]
async fn constraint_violations_are_the_same_typed_errors_with_the_same_names() {
    let Some(t) = Both::new("my_constraints").await else {
        return;
    };
    for sql in [
        "CREATE TABLE parents (id BIGINT PRIMARY KEY) ENGINE = InnoDB",
        "CREATE TABLE kids (
             id BIGINT PRIMARY KEY,
             parent_id BIGINT,
             email VARCHAR(100) NOT NULL,
             age INT,
             CONSTRAINT kids_parent_fk FOREIGN KEY (parent_id) REFERENCES parents (id),
             CONSTRAINT kids_email_key UNIQUE (email),
             CONSTRAINT kids_age_check CHECK (age >= 0)
         ) ENGINE = InnoDB",
        "INSERT INTO parents VALUES (1)",
        "INSERT INTO kids VALUES (1, 1, 'a@x', 3)",
    ] {
        t.sqlx.execute_raw(sql).await.unwrap();
    }
    let insert = |id: i64, parent: i64, email: Option<&str>, age: i32| {
        polyorm::raw("INSERT INTO kids (id, parent_id, email, age) VALUES (?, ?, ?, ?)")
            .bind(id)
            .bind(parent)
            .bind(email.map(str::to_owned))
            .bind(age)
    };
    let mut messages = Vec::new();
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
        let syntax = db.execute_raw("SELEC 1").await.unwrap_err();
        assert_eq!(syntax.kind(), "database", "{name}: {syntax:?}");
        messages.push(unique.to_string());
    }
    // The server's words, alike.
    assert_eq!(messages[0], messages[1]);
    assert!(
        messages[1].contains("error returned from database: 1062 (23000): Duplicate entry"),
        "{}",
        messages[1]
    );
    t.teardown().await;
}

#[tokio::test]
async fn lock_timeouts_and_deadlocks_are_typed() {
    let Some(t) = Both::new("my_conflicts").await else {
        return;
    };
    for sql in [
        "CREATE TABLE accounts (id BIGINT PRIMARY KEY, balance BIGINT NOT NULL) ENGINE = InnoDB",
        "INSERT INTO accounts VALUES (1, 100), (2, 100)",
    ] {
        t.sqlx.execute_raw(sql).await.unwrap();
    }
    for (name, db) in t.drivers() {
        let holder = db.begin().await.unwrap();
        holder
            .execute_raw("SELECT * FROM accounts WHERE id = 1 FOR UPDATE")
            .await
            .unwrap();
        let waiter = db.begin().await.unwrap();
        waiter
            .execute_raw("SET SESSION innodb_lock_wait_timeout = 1")
            .await
            .unwrap();
        let err = waiter
            .execute_raw("UPDATE accounts SET balance = 0 WHERE id = 1")
            .await
            .unwrap_err();
        assert!(matches!(err, Error::LockTimeout { .. }), "{name}: {err:?}");
        waiter.rollback().await.unwrap();
        holder.rollback().await.unwrap();

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
        assert!(
            ra.as_ref()
                .err()
                .or(rb.as_ref().err())
                .unwrap()
                .is_retryable()
        );
        a.rollback().await.unwrap();
        b.rollback().await.unwrap();
    }
    t.teardown().await;
}

#[tokio::test]
async fn a_connection_the_server_kills_is_lost_and_the_pool_replaces_it() {
    let Some(t) = Both::new("my_lost").await else {
        return;
    };
    for (name, db) in t.drivers() {
        let conn = db.acquire().await.unwrap();
        let (id,): (u64,) = polyorm::raw("SELECT CONNECTION_ID()")
            .fetch_one(&conn)
            .await
            .unwrap();
        t.database
            .db
            .execute_raw(&format!("KILL {id}"))
            .await
            .unwrap();
        let err = polyorm::raw("SELECT 1")
            .fetch_one::<(i64,), _>(&conn)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::ConnectionLost { .. }),
            "{name}: {err:?}"
        );
        drop(conn);
        let (one,): (i64,) = polyorm::raw("SELECT 1").fetch_one(db).await.unwrap();
        assert_eq!(one, 1, "{name}: the pool opened another connection");
    }
    t.teardown().await;
}

#[tokio::test]
async fn a_statement_abandoned_mid_flight_leaves_the_connection_usable() {
    let Some(t) = Both::new("my_abandoned").await else {
        return;
    };
    for (name, db) in t.drivers() {
        let conn = db.acquire().await.unwrap();
        let slow = polyorm::raw("SELECT SLEEP(0.3)").fetch_one::<(i64,), _>(&conn);
        let timed_out = tokio::time::timeout(Duration::from_millis(50), slow).await;
        assert!(timed_out.is_err(), "{name}: the sleep ended within 50 ms");
        // The next statement on the same connection never gets the old one's answer: sqlx's
        // connection reads that answer first; the native driver's cannot tell the two apart,
        // so it reports the connection lost.
        let next = polyorm::raw("SELECT ? + 1")
            .bind(41_i64)
            .fetch_one::<(i64,), _>(&conn)
            .await;
        match (name, next) {
            ("sqlx", Ok((n,))) => assert_eq!(n, 42),
            ("native", Err(Error::ConnectionLost { source })) => {
                assert!(source.to_string().contains("abandoned"), "{source}");
            }
            (_, other) => panic!("{name}: {other:?}"),
        }
        drop(conn);
        // And through the pool, a statement dropped mid-flight leaves no answer behind.
        let slow = polyorm::raw("SELECT SLEEP(0.3)").fetch_one::<(i64,), _>(db);
        assert!(
            tokio::time::timeout(Duration::from_millis(50), slow)
                .await
                .is_err()
        );
        for i in 0..5_i64 {
            let (n,): (i64,) = polyorm::raw("SELECT ?")
                .bind(i)
                .fetch_one(db)
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(n, i, "{name}");
        }
    }
    t.teardown().await;
}

#[tokio::test]
async fn sessions_start_alike() {
    let Some(t) = Both::new("my_session").await else {
        return;
    };
    let mut seen = Vec::new();
    for (name, db) in t.drivers() {
        let (mode, zone, charset, concat, updated): (String, String, String, String, i64) =
            polyorm::raw("SELECT @@sql_mode, @@time_zone, @@character_set_client, 'a' || 'b', 0")
                .fetch_one(db)
                .await
                .unwrap();
        for flag in [
            "PIPES_AS_CONCAT",
            "NO_ENGINE_SUBSTITUTION",
            "IGNORE_SPACE",
            "STRICT_ALL_TABLES",
        ] {
            assert!(mode.contains(flag), "{name}: {mode}");
        }
        assert_eq!(zone, "+00:00", "{name}");
        assert_eq!(charset, "utf8mb4", "{name}");
        assert_eq!(concat, "ab", "{name}");
        seen.push((mode, zone, charset, updated));
    }
    assert_eq!(seen[0], seen[1]);
    // `UPDATE` counts the rows it matched, not only those it changed (CLIENT_FOUND_ROWS).
    t.sqlx
        .execute_raw("CREATE TABLE counted (id INT PRIMARY KEY, v INT)")
        .await
        .unwrap();
    t.sqlx
        .execute_raw("INSERT INTO counted VALUES (1, 5), (2, 5)")
        .await
        .unwrap();
    for (name, db) in t.drivers() {
        let done = db.execute_raw("UPDATE counted SET v = 5").await.unwrap();
        assert_eq!(done.rows_affected, 2, "{name}");
    }
    t.teardown().await;
}

#[tokio::test]
async fn the_default_driver_is_the_native_one_and_reads_the_url_as_sqlx_does() {
    let Some(t) = Both::new("my_default").await else {
        return;
    };
    assert_eq!(MySqlDriver::default(), MySqlDriver::Native);
    let db = PoolOptions::new()
        .max_connections(1)
        .connect(&t.database.url)
        .await
        .unwrap();
    let pool = format!("{db:?}");
    assert!(pool.contains("MySqlNative"), "{pool}");
    db.close().await;
    // The URL's own settings: a time zone, a collation.
    let sep = if t.database.url.contains('?') {
        '&'
    } else {
        '?'
    };
    let url = format!(
        "{}{sep}timezone=%2B02:00&collation=utf8mb4_bin",
        t.database.url
    );
    let db = PoolOptions::new().connect(&url).await.unwrap();
    let (zone, collation): (String, String) =
        polyorm::raw("SELECT @@time_zone, @@collation_connection")
            .fetch_one(&db)
            .await
            .unwrap();
    assert_eq!(
        (zone.as_str(), collation.as_str()),
        ("+02:00", "utf8mb4_bin")
    );
    db.close().await;
    // A parameter neither driver reads is refused by the native one before connecting.
    let err = PoolOptions::new()
        .connect(&format!("{}{sep}pool-size=3", t.database.url))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Config(m) if m.contains("`pool-size`")),
        "{err:?}"
    );
    // A refused server is named as on the sqlx driver.
    let err = PoolOptions::new()
        .acquire_timeout(Duration::from_secs(2))
        .connect("mysql://root@127.0.0.1:1/test")
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("connection refused by 127.0.0.1:1 (nothing listens there)"),
        "{err}"
    );
    t.teardown().await;
}
