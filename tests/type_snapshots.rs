//! insta snapshots of the DDL and of a filter for every field type, per dialect
//! (`<case>@<dialect>`).

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use polyorm::prelude::*;
use polyorm::sql::ddl;
use polyorm::{Compiled, Dialect, Json, SqlEnum, SqlType};
use rust_decimal::Decimal;
use uuid::Uuid;

#[derive(SqlEnum, Debug, Clone, Copy, PartialEq)]
#[orm(rename_all = "snake_case")]
enum Status {
    Active,
    OnHold,
    #[orm(rename = "gone")]
    Deleted,
}

#[derive(SqlType, Debug, Clone, PartialEq)]
struct Email(String);

#[derive(serde::Serialize, serde::Deserialize, Debug, Clone, PartialEq)]
struct Prefs {
    theme: String,
}

/// Every field type of the optional features, once non-null and once nullable.
#[derive(Model, Debug, Clone)]
#[orm(table = "typed", index(status))]
struct Typed {
    #[orm(primary_key)]
    id: Uuid,
    at_utc: DateTime<Utc>,
    at: NaiveDateTime,
    day: NaiveDate,
    clock: NaiveTime,
    t_at_utc: time::OffsetDateTime,
    t_at: time::PrimitiveDateTime,
    t_day: time::Date,
    t_clock: Option<time::Time>,
    #[orm(precision = 10, scale = 2)]
    price: Decimal,
    amount: Option<Decimal>,
    doc: serde_json::Value,
    prefs: Option<Json<Prefs>>,
    status: Status,
    maybe_status: Option<Status>,
    #[orm(max_length = 80)]
    email: Email,
    tiny: u8,
    small: u16,
    medium: Option<u32>,
    short: i16,
    int: i32,
}

/// `bson::oid::ObjectId` (feature `bson`): a key, a column and a nullable one.
#[cfg(feature = "bson")]
#[path = "support/object_id_doc.rs"]
mod object_id_doc;
#[cfg(feature = "bson")]
use object_id_doc::{Doc, oid};

/// `u64`: MySQL only.
#[derive(Model, Debug, Clone)]
#[orm(table = "counters")]
struct Counter {
    #[orm(primary_key)]
    id: i64,
    hits: u64,
}

fn render(compiled: polyorm::Result<Compiled>) -> String {
    match compiled {
        Ok(c) => c.to_string(),
        Err(e) => format!("error: {e}"),
    }
}

fn check(case: &str, f: impl Fn(Dialect) -> String) {
    for dialect in Dialect::ALL {
        insta::assert_snapshot!(format!("{case}@{dialect}"), f(dialect));
    }
}

#[test]
fn ddl_of_every_type() {
    let ddl = |schema, d| match ddl::create_table(schema, d, false) {
        Ok(statements) => statements.join(";\n"),
        Err(e) => format!("error: {e}"),
    };
    check("create_table_typed", |d| ddl(Typed::schema(), d));
    check("create_table_u64", |d| ddl(Counter::schema(), d));
    #[cfg(feature = "bson")]
    check("create_table_object_id", |d| ddl(Doc::schema(), d));
}

#[test]
fn date_parts_and_decimal_sums() {
    let render = |q: polyorm::Result<Compiled>| render(q);
    check("date_parts", |d| {
        render(
            Typed::query()
                .filter(Typed::DAY.year().eq(2024) & Typed::AT_UTC.month().ge(6))
                .select((Typed::T_DAY.year(), Typed::AT.month(), Typed::DAY.day()))
                .order_by(Typed::AT_UTC.day().desc())
                .compile(d),
        )
    });
    check("group_by_year", |d| {
        render(
            Typed::query()
                .select((Typed::T_DAY.year(), count_all(), Typed::PRICE.sum()))
                .group_by(Typed::T_DAY.year())
                .order_by(Typed::T_DAY.year().desc())
                .compile(d),
        )
    });
    check("decimal_sum_and_having", |d| {
        render(
            Typed::query()
                .select((Typed::STATUS, Typed::PRICE.sum(), Typed::PRICE.max()))
                .group_by(Typed::STATUS)
                .having(Typed::PRICE.sum().gt(Decimal::new(1_050, 2)))
                .order_by(Typed::PRICE.sum().desc())
                .compile(d),
        )
    });
    check("decimal_avg", |d| {
        render(
            Typed::query()
                .select((Typed::STATUS, Typed::PRICE.avg()))
                .group_by(Typed::STATUS)
                .having(Typed::PRICE.avg().gt(Decimal::new(1_050, 2)))
                .order_by(Typed::PRICE.avg().desc())
                .compile(d),
        )
    });
    // The scale `avg` rounds to is the column's: a decimal without one is refused.
    check("decimal_avg_without_scale", |d| {
        render(Typed::query().select((Typed::AMOUNT.avg(),)).compile(d))
    });
    check("decimal_arithmetic", |d| {
        render(
            Typed::query()
                .filter((Typed::PRICE * Typed::INT).gt(Decimal::new(10_000, 2)))
                .select((
                    Typed::PRICE * Typed::INT,
                    Typed::PRICE.as_expr() + Decimal::new(5, 1),
                    Typed::PRICE.as_expr() - Typed::SHORT,
                    Typed::PRICE * Typed::PRICE,
                    Typed::PRICE.cast::<f64>(),
                    case_when(Typed::INT.gt(1), Typed::PRICE).otherwise(Decimal::new(1, 3)),
                ))
                .order_by((Typed::PRICE * 3).desc())
                .compile(d),
        )
    });
    check("decimal_sum_of_products", |d| {
        render(
            Typed::query()
                .select((Typed::STATUS, (Typed::PRICE * Typed::INT).sum()))
                .group_by(Typed::STATUS)
                .having((Typed::PRICE * Typed::INT).sum().gt(Decimal::new(1_000, 2)))
                .compile(d),
        )
    });
    // Arithmetic over a decimal SQLite keeps as text is refused there.
    check("text_decimal_arithmetic", |d| {
        render(Typed::query().select((Typed::AMOUNT * 2,)).compile(d))
    });
    // A decimal without precision is text on SQLite: ordering by it is refused there.
    check("order_by_text_decimal", |d| {
        render(Typed::query().order_by(Typed::AMOUNT.asc()).compile(d))
    });
}

#[test]
fn filter_per_type() {
    let day = NaiveDate::from_ymd_opt(2024, 2, 29).unwrap();
    let at = day.and_hms_micro_opt(12, 30, 15, 123_456).unwrap();
    let cases: Vec<(&str, Filter<Typed>)> = vec![
        (
            "filter_uuid",
            Typed::ID.eq(Uuid::from_u128(0x0123_4567_89ab_cdef)),
        ),
        ("filter_datetime_utc", Typed::AT_UTC.ge(at.and_utc())),
        ("filter_naive_datetime", Typed::AT.lt(at)),
        (
            "filter_naive_date",
            Typed::DAY.between(day, day.succ_opt().unwrap()),
        ),
        ("filter_naive_time", Typed::CLOCK.gt(at.time())),
        (
            "filter_offset_datetime",
            Typed::T_AT_UTC.le(time::OffsetDateTime::UNIX_EPOCH),
        ),
        ("filter_time_date", Typed::T_DAY.eq(time::Date::MIN)),
        ("filter_time_time", Typed::T_CLOCK.eq(None)),
        (
            "filter_decimal",
            Typed::PRICE.gt(Decimal::new(1999, 2)) & Typed::AMOUNT.is_not_null(),
        ),
        (
            "filter_json",
            Typed::DOC.eq(serde_json::json!({"a": [1, 2]})),
        ),
        (
            "filter_enum",
            Typed::STATUS.in_list([Status::Active, Status::OnHold])
                | Typed::MAYBE_STATUS.eq(Status::Deleted),
        ),
        (
            "filter_newtype",
            Typed::EMAIL.eq(Email("a@x.io".into())) | Typed::EMAIL.ends_with("@x.io"),
        ),
        (
            "filter_unsigned",
            Typed::TINY.eq(255u8) & Typed::SMALL.lt(65535u16) & Typed::MEDIUM.ge(4_000_000_000u32),
        ),
    ];
    for (case, filter) in cases {
        check(case, |d| {
            render(Typed::query().filter(filter.clone()).compile(d))
        });
    }
    #[cfg(feature = "bson")]
    check("filter_object_id", |d| {
        render(
            Doc::query()
                .filter(
                    Doc::ID.gt(oid("65f0a1b2c3d4e5f60718293a"))
                        & Doc::OWNER.in_list([oid("000000000000000000000001")])
                        & Doc::PARENT.is_null(),
                )
                .order_by(Doc::ID.desc())
                .compile(d),
        )
    });
    check("filter_u64", |d| {
        render(
            Counter::query()
                .filter(Counter::HITS.gt(u64::MAX))
                .compile(d),
        )
    });
}
