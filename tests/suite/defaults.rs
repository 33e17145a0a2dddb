//! Column defaults: `default = now()` and `uuid()` generated on insert when the field is unset
//! (by the database where it can: `now()` on every SQL dialect, `gen_random_uuid()` on
//! PostgreSQL; by the ORM elsewhere) and read back; `default_fn` computed by the application;
//! JSON, decimal and date literals written into the DDL and applied to rows inserted by
//! other means (raw SQL without those columns).

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use polyorm::prelude::*;
use rust_decimal::Decimal;
use uuid::Uuid;

/// Every kind of default.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "df_memories")]
pub struct Memory {
    #[orm(primary_key, default = uuid())]
    id: Uuid,
    #[orm(max_length = 40)]
    content: String,
    #[orm(default = now())]
    created_at: DateTime<Utc>,
    #[orm(default = now())]
    seen_at: Option<NaiveDateTime>,
    #[orm(default = now())]
    day: NaiveDate,
    #[orm(default = "{\"tags\": []}")]
    metadata: serde_json::Value,
    #[orm(default = "2030-01-31")]
    retention_until: NaiveDate,
    #[orm(max_length = 20, default_fn = new_token)]
    token: String,
    #[orm(default = uuid())]
    trace: Option<Uuid>,
}

/// Decimal defaults: SQLite's scaled integer (with `precision`) and its decimal text (without).
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "df_ledger")]
pub struct Ledger {
    #[orm(primary_key)]
    id: i64,
    #[orm(precision = 10, scale = 2, default = "0.50")]
    amount: Decimal,
    #[orm(default = "-3.125")]
    balance: Decimal,
    #[orm(default = 7)]
    units: Decimal,
}

fn new_token() -> String {
    "tok-generated".to_owned()
}

/// A row with every generated field unset.
fn unset(content: &str) -> Memory {
    Memory {
        id: Uuid::nil(),
        content: content.to_owned(),
        created_at: DateTime::<Utc>::UNIX_EPOCH,
        seen_at: None,
        day: DateTime::<Utc>::UNIX_EPOCH.date_naive(),
        metadata: serde_json::json!({"tags": ["a"]}),
        retention_until: NaiveDate::from_ymd_opt(2031, 1, 1).unwrap(),
        token: String::new(),
        trace: None,
    }
}

/// Whether `t` is within two minutes of this process's clock (the database's clock is another
/// machine's in general; here the same host).
fn recent(t: DateTime<Utc>) -> bool {
    (Utc::now() - t).num_seconds().abs() < 120
}

crate::suite! {
    async fn generated_defaults_fill_unset_fields_on_insert_and_read_back(db) {
        db.create_table::<Memory>().await?;
        let before = Utc::now();
        let stored = unset("first").insert(db).await?;
        assert!(!stored.id.is_nil(), "a generated key: {stored:?}");
        assert!(recent(stored.created_at), "created_at is now: {stored:?}");
        let seen = stored.seen_at.expect("seen_at generated");
        assert!(recent(seen.and_utc()), "seen_at is now, in UTC: {seen}");
        assert!(stored.day >= before.date_naive() && stored.day <= Utc::now().date_naive());
        assert_eq!(stored.token, "tok-generated");
        assert!(stored.trace.is_some_and(|t| !t.is_nil()));
        // Written values are kept, not replaced.
        assert_eq!(stored.content, "first");
        assert_eq!(stored.metadata, serde_json::json!({"tags": ["a"]}));
        // Read back (by content: the nx-27017 test server does not compare binary values, such
        // as a UUID key): what the insert returned is what is stored.
        let read = Memory::query().filter(Memory::CONTENT.eq("first")).one(db).await?;
        assert_eq!(read, stored);

        // Set values are written as given.
        let given = Memory {
            id: Uuid::from_u128(42),
            created_at: "2020-05-06T07:08:09.123Z".parse().unwrap(),
            seen_at: Some(NaiveDate::from_ymd_opt(2021, 1, 2).unwrap().and_hms_opt(3, 4, 5).unwrap()),
            day: NaiveDate::from_ymd_opt(2022, 2, 3).unwrap(),
            token: "mine".to_owned(),
            trace: Some(Uuid::from_u128(7)),
            ..unset("second")
        };
        assert_eq!(given.clone().insert(db).await?, given);

        // Many rows in one statement: each gets its own generated values.
        Memory::insert_many(db, &[unset("m1"), unset("m2"), unset("m3")]).await?;
        let rows = Memory::query()
            .filter(Memory::CONTENT.like("m%"))
            .all(db)
            .await?;
        assert_eq!(rows.len(), 3);
        let mut ids: Vec<Uuid> = rows.iter().map(|m| m.id).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 3, "three distinct generated keys: {rows:?}");
        assert!(rows.iter().all(|m| recent(m.created_at) && m.token == "tok-generated"));
        assert_eq!(Memory::query().count(db).await?, 5);
        Ok(())
    }

    #[requires(sql)]
    async fn literal_defaults_apply_to_rows_inserted_without_those_columns(db) {
        db.create_table::<Memory>().await?;
        // Another writer (raw SQL) names only the columns without a database default. The
        // key and `trace` have one only on PostgreSQL (`gen_random_uuid()`); elsewhere the
        // writer supplies them, as the ORM does.
        let sql = if db.backend() == polyorm::Dialect::Postgres {
            "INSERT INTO df_memories (content, token) VALUES ('raw', 't')".to_owned()
        } else {
            let id = if db.backend() == polyorm::Dialect::MySql {
                "X'0000000000000000000000000000000A'"
            } else {
                "X'0000000000000000000000000000000a'"
            };
            format!("INSERT INTO df_memories (id, content, token) VALUES ({id}, 'raw', 't')")
        };
        db.execute_raw(&sql).await?;
        let read = Memory::query().one(db).await?;
        assert_eq!(read.content, "raw");
        assert_eq!(read.metadata, serde_json::json!({"tags": []}));
        assert_eq!(read.retention_until, NaiveDate::from_ymd_opt(2030, 1, 31).unwrap());
        assert!(recent(read.created_at), "created_at from the database's clock: {read:?}");
        assert!(recent(read.seen_at.expect("seen_at").and_utc()));
        assert!(!read.id.is_nil());
        assert_eq!(read.trace.is_some(), db.backend() == polyorm::Dialect::Postgres);

        db.create_table::<Ledger>().await?;
        db.execute_raw("INSERT INTO df_ledger (id) VALUES (1)").await?;
        let ledger = Ledger::find(db, 1).await?.expect("inserted");
        assert_eq!(
            ledger,
            Ledger { id: 1, amount: Decimal::new(50, 2), balance: Decimal::new(-3125, 3), units: Decimal::from(7) }
        );
        Ok(())
    }
}
