//! A model with a column of every supported field type (and nullable copies), shared by the
//! SQL and MongoDB round trips through the cache.

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
use polyorm::bson::oid::ObjectId;
use polyorm::prelude::*;
use polyorm::{Json, SqlEnum, SqlType};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A stored enum.
#[derive(SqlEnum, Debug, Clone, Copy, PartialEq)]
pub enum Mood {
    /// Fine.
    Calm,
    /// Not fine.
    Grumpy,
}

/// A newtype column.
#[derive(SqlType, Debug, Clone, PartialEq)]
pub struct Email(pub String);

/// A JSON document column.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Prefs {
    pub theme: String,
    pub sizes: Vec<u32>,
}

/// One column of every type (and nullable copies, set and unset).
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "everything")]
pub struct Everything {
    #[orm(primary_key)]
    pub id: i64,
    pub flag: bool,
    pub small: i16,
    pub int: i32,
    pub float: f32,
    pub double: f64,
    pub text: String,
    pub bytes: Vec<u8>,
    pub tiny_unsigned: u8,
    pub small_unsigned: u16,
    pub unsigned: u32,
    pub utc: DateTime<Utc>,
    pub naive: NaiveDateTime,
    pub date: NaiveDate,
    pub clock: NaiveTime,
    pub offset: time::OffsetDateTime,
    pub primitive: time::PrimitiveDateTime,
    pub time_date: time::Date,
    pub time_clock: time::Time,
    pub uuid: Uuid,
    #[orm(precision = 20, scale = 6)]
    pub decimal: Decimal,
    pub json: serde_json::Value,
    pub prefs: Json<Prefs>,
    pub mood: Mood,
    pub email: Email,
    pub maybe_text: Option<String>,
    pub maybe_int: Option<i32>,
    pub maybe_uuid: Option<Uuid>,
    pub maybe_utc: Option<DateTime<Utc>>,
    pub oid: ObjectId,
    pub maybe_oid: Option<ObjectId>,
}

/// The ObjectId of row `id` (distinct per row, so a filter on it picks one).
pub fn oid(id: i64) -> ObjectId {
    let mut bytes = *b"\x65\xf0\xa1\xb2\xc3\xd4\xe5\xf6\x07\x18\x29\x00";
    bytes[11] = id as u8;
    ObjectId::from_bytes(bytes)
}

pub fn sample(id: i64) -> Everything {
    let utc = DateTime::from_timestamp(1_700_000_000, 123_456_000).unwrap();
    Everything {
        id,
        flag: true,
        small: -12_345,
        int: i32::MIN + 1,
        float: 1.5e-3,
        double: -1.234_567_890_123_456_7e-300,
        text: "héllo \u{1F600} 'quoted' \\ \"x\"".to_owned(),
        bytes: vec![0, 255, 1, 254],
        tiny_unsigned: 255,
        small_unsigned: 65_535,
        unsigned: 4_000_000_000,
        utc,
        naive: utc.naive_utc(),
        date: NaiveDate::from_ymd_opt(1999, 12, 31).unwrap(),
        clock: NaiveTime::from_hms_micro_opt(23, 59, 58, 999_999).unwrap(),
        offset: time::OffsetDateTime::from_unix_timestamp_nanos(1_600_000_000_654_321_000).unwrap(),
        primitive: time::macros_free_primitive(),
        time_date: time::Date::from_calendar_date(2024, time::Month::February, 29).unwrap(),
        time_clock: time::Time::from_hms_micro(1, 2, 3, 4).unwrap(),
        uuid: Uuid::from_u128(0x0123_4567_89ab_cdef_0123_4567_89ab_cdef),
        decimal: "-12345678.901234".parse().unwrap(),
        json: serde_json::json!({"a": [1, 2.5, null, "x"], "b": {"c": true}}),
        prefs: Json(Prefs {
            theme: "dark".to_owned(),
            sizes: vec![1, 2, 3],
        }),
        mood: Mood::Grumpy,
        email: Email("a@b.c".to_owned()),
        maybe_text: Some("set".to_owned()),
        maybe_int: None,
        maybe_uuid: Some(Uuid::nil()),
        maybe_utc: None,
        oid: oid(id),
        maybe_oid: (id % 2 == 0).then(|| oid(-id)),
    }
}

/// `time` has no const constructor for a `PrimitiveDateTime` without its macros feature.
mod time {
    pub use ::time::*;

    pub fn macros_free_primitive() -> PrimitiveDateTime {
        PrimitiveDateTime::new(
            Date::from_calendar_date(2001, Month::September, 9).unwrap(),
            Time::from_hms_micro(1, 46, 40, 500_000).unwrap(),
        )
    }
}
