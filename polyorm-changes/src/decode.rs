//! From a source's row image to a model: each column's [`RawValue`] becomes the [`Value`] its
//! declared [`ColumnType`] reads, and the model's generated decoder reads the row through
//! [`RowRef::Cached`] (the path the query cache replays rows on), so no model needs code of
//! its own here.

use polyorm_core::exec::Backend;
use polyorm_core::exec::cached::{CachedRow, Slot};
use polyorm_core::schema::{ColumnSchema, ColumnType, ModelSchema};
use polyorm_core::{Model, RowRef, Value};

use crate::error::{Error, Result};
use crate::event::{Change, ChangeKind, Event, Key};
use crate::raw::{RawChange, RawRow, RawValue};

/// Which crate's types a temporal column is decoded into: a model's field may be a chrono or a
/// `time` type for the same column type, so decoding tries chrono first, then `time`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Temporal {
    #[cfg(feature = "chrono")]
    Chrono,
    #[cfg(feature = "time")]
    Time,
}

const TEMPORALS: &[Temporal] = &[
    #[cfg(feature = "chrono")]
    Temporal::Chrono,
    #[cfg(feature = "time")]
    Temporal::Time,
];

/// Decodes `raw` into an event of `M`, or `None` when the change is on another table.
///
/// `backend` is the source's database (it selects the decoding path of types stored
/// differently per backend, e.g. `u64`).
pub fn decode_change<M: Model>(backend: Backend, raw: &RawChange) -> Option<Result<Event<M>>> {
    let schema = M::schema();
    if raw.meta.table != schema.table {
        return None;
    }
    Some(decode_matching::<M>(backend, raw))
}

fn decode_matching<M: Model>(backend: Backend, raw: &RawChange) -> Result<Event<M>> {
    let schema = M::schema();
    let error = |message: String| Error::Decode {
        table: raw.meta.table.clone(),
        model: schema.name,
        message,
    };
    let missing = |what: &str| error(format!("the change has no {what} row image"));
    // An image holds every column only with full row images; a partial `before` is a key.
    let full = |row: &RawRow| {
        schema
            .columns
            .iter()
            .all(|c| column_of(schema, row, c, backend).is_some())
    };
    let change = match raw.kind {
        ChangeKind::Insert => {
            let after = raw.after.as_ref().ok_or_else(|| missing("new"))?;
            Change::Insert(decode_row::<M>(backend, after, None).map_err(error)?)
        }
        ChangeKind::Update => {
            let after_row = raw.after.as_ref().ok_or_else(|| missing("new"))?;
            let before = match &raw.before {
                Some(row) if full(row) => Some(decode_row::<M>(backend, row, None).map_err(error)?),
                _ => None,
            };
            // Unchanged large (TOASTed) values are left out of PostgreSQL's new image; the old
            // image has them under REPLICA IDENTITY FULL.
            let after = decode_row::<M>(backend, after_row, raw.before.as_ref()).map_err(error)?;
            Change::Update {
                key: key_of(schema, after_row, backend).map_err(error)?,
                before,
                after,
            }
        }
        ChangeKind::Delete => {
            let row = raw.before.as_ref().ok_or_else(|| missing("old"))?;
            Change::Delete {
                key: key_of(schema, row, backend).map_err(error)?,
                before: if full(row) {
                    Some(decode_row::<M>(backend, row, None).map_err(error)?)
                } else {
                    None
                },
            }
        }
        ChangeKind::Truncate => Change::Truncate,
    };
    Ok(Event {
        meta: raw.meta.clone(),
        change,
    })
}

/// The primary-key values of `row`.
fn key_of(
    schema: &ModelSchema,
    row: &RawRow,
    backend: Backend,
) -> std::result::Result<Key, String> {
    schema
        .primary_key_columns()
        .map(|column| {
            let raw =
                column_of(schema, row, column, backend).ok_or_else(|| missing_column(column))?;
            Ok(to_value(raw, column, backend, TEMPORALS.first().copied())?
                .unwrap_or(Value::Null(column.ty)))
        })
        .collect()
}

/// The value of `column` in `row`; on MongoDB a single-column primary key is `_id`.
fn column_of<'r>(
    schema: &ModelSchema,
    row: &'r RawRow,
    column: &ColumnSchema,
    backend: Backend,
) -> Option<&'r RawValue> {
    row.get(column.name).or_else(|| {
        (backend == Backend::MongoDb && column.primary_key && schema.primary_key.len() == 1)
            .then(|| row.get("_id"))
            .flatten()
    })
}

fn missing_column(column: &ColumnSchema) -> String {
    format!(
        "column `{}` is not in the change: the table has no such column (dropped or renamed), \
         or the source leaves unchanged values out (PostgreSQL: set `REPLICA IDENTITY FULL` on \
         the table; MariaDB: `binlog_row_image=FULL`)",
        column.name
    )
}

/// Decodes a full row image with `M`'s decoder; columns missing from `row` are taken from
/// `fallback`.
fn decode_row<M: Model>(
    backend: Backend,
    row: &RawRow,
    fallback: Option<&RawRow>,
) -> std::result::Result<M, String> {
    let schema = M::schema();
    let mut last_error = String::new();
    // Without temporal features there is one way to build the row.
    let flavours: Vec<Option<Temporal>> = if TEMPORALS.is_empty() {
        vec![None]
    } else {
        TEMPORALS.iter().copied().map(Some).collect()
    };
    let has_temporal = schema.columns.iter().any(|c| is_temporal(c.ty));
    for (attempt, temporal) in flavours.into_iter().enumerate() {
        if attempt > 0 && !has_temporal {
            break;
        }
        let mut slots = Vec::with_capacity(schema.columns.len());
        for column in schema.columns {
            let raw = column_of(schema, row, column, backend)
                .or_else(|| fallback.and_then(|f| column_of(schema, f, column, backend)))
                .ok_or_else(|| missing_column(column))?;
            slots.push(match to_value(raw, column, backend, temporal)? {
                None => Slot::Null,
                Some(value) => Slot::Value(value),
            });
        }
        let cached = CachedRow::new(backend, slots);
        match M::decode_row(&RowRef::Cached(&cached), 0) {
            Ok(model) => return Ok(model),
            Err(e) => last_error = e.to_string(),
        }
    }
    Err(last_error)
}

fn is_temporal(ty: ColumnType) -> bool {
    matches!(
        ty,
        ColumnType::TimestampTz | ColumnType::Timestamp | ColumnType::Date | ColumnType::Time
    )
}

/// The value a `column` of this type reads from a cached row, or `None` for NULL.
#[allow(unused_variables)]
fn to_value(
    raw: &RawValue,
    column: &ColumnSchema,
    backend: Backend,
    temporal: Option<Temporal>,
) -> std::result::Result<Option<Value>, String> {
    let bad = || {
        format!(
            "column `{}`: {raw:?} is not a {:?} value",
            column.name, column.ty
        )
    };
    if *raw == RawValue::Null {
        return Ok(None);
    }
    let int = || -> std::result::Result<i64, String> {
        match raw {
            RawValue::Int(i) => Ok(*i),
            RawValue::UInt(u) => i64::try_from(*u).map_err(|_| bad()),
            RawValue::Bool(b) => Ok(i64::from(*b)),
            RawValue::Text(t) => t.trim().parse().map_err(|_| bad()),
            RawValue::Float(f) if f.fract() == 0.0 => Ok(*f as i64),
            _ => Err(bad()),
        }
    };
    let text = || -> std::result::Result<String, String> {
        match raw {
            RawValue::Text(t) => Ok(t.clone()),
            RawValue::Bytes(b) => String::from_utf8(b.clone()).map_err(|_| bad()),
            RawValue::Int(i) => Ok(i.to_string()),
            RawValue::UInt(u) => Ok(u.to_string()),
            RawValue::Float(f) => Ok(f.to_string()),
            _ => Err(bad()),
        }
    };
    let narrow = |wide: i64, lo: i64, hi: i64| {
        if (lo..=hi).contains(&wide) {
            Ok(wide)
        } else {
            Err(format!(
                "column `{}`: {wide} is out of range for {:?}",
                column.name, column.ty
            ))
        }
    };
    let value = match column.ty {
        ColumnType::Bool => Value::Bool(match raw {
            RawValue::Bool(b) => *b,
            RawValue::Text(t) => match t.as_str() {
                "t" | "true" | "1" => true,
                "f" | "false" | "0" => false,
                _ => return Err(bad()),
            },
            _ => int()? != 0,
        }),
        ColumnType::SmallInt => {
            Value::SmallInt(narrow(int()?, i16::MIN.into(), i16::MAX.into())? as i16)
        }
        ColumnType::Int => Value::Int(narrow(int()?, i32::MIN.into(), i32::MAX.into())? as i32),
        ColumnType::BigInt => Value::BigInt(int()?),
        // Unsigned columns are read as the widest signed integer (see `RowRef::get_integer`).
        ColumnType::U8 | ColumnType::U16 | ColumnType::U32 => Value::BigInt(int()?),
        ColumnType::U64 => match raw {
            RawValue::UInt(u) => i64::try_from(*u).map_or(Value::BigUnsigned(*u), Value::BigInt),
            RawValue::Text(t) => {
                let u: u64 = t.trim().parse().map_err(|_| bad())?;
                i64::try_from(u).map_or(Value::BigUnsigned(u), Value::BigInt)
            }
            _ => Value::BigInt(int()?),
        },
        ColumnType::Float => Value::Float(float(raw).ok_or_else(bad)? as f32),
        ColumnType::Double => Value::Double(float(raw).ok_or_else(bad)?),
        ColumnType::Text => Value::Text(text()?),
        ColumnType::Bytes => Value::Bytes(match raw {
            RawValue::Bytes(b) => b.clone(),
            RawValue::Text(t) => t.clone().into_bytes(),
            RawValue::ObjectId(b) => b.to_vec(),
            _ => return Err(bad()),
        }),
        ColumnType::Json => {
            #[cfg(feature = "json")]
            {
                Value::Json(Box::new(match raw {
                    RawValue::Json(j) => j.clone(),
                    RawValue::Text(t) => serde_json::from_str(t).map_err(|e| {
                        format!("column `{}`: stored JSON does not parse: {e}", column.name)
                    })?,
                    RawValue::Bytes(b) => serde_json::from_slice(b).map_err(|e| {
                        format!("column `{}`: stored JSON does not parse: {e}", column.name)
                    })?,
                    _ => return Err(bad()),
                }))
            }
            #[cfg(not(feature = "json"))]
            return Err(feature_needed(column, "json"));
        }
        ColumnType::Uuid => {
            #[cfg(feature = "uuid")]
            {
                Value::Uuid(match raw {
                    RawValue::Text(t) => t.parse().map_err(|_| bad())?,
                    RawValue::Bytes(b) => uuid::Uuid::from_slice(b).map_err(|_| bad())?,
                    _ => return Err(bad()),
                })
            }
            #[cfg(not(feature = "uuid"))]
            return Err(feature_needed(column, "uuid"));
        }
        ColumnType::Decimal => {
            #[cfg(feature = "decimal")]
            {
                Value::Decimal(text()?.trim().parse().map_err(|_| bad())?)
            }
            #[cfg(not(feature = "decimal"))]
            return Err(feature_needed(column, "decimal"));
        }
        ColumnType::ObjectId => match raw {
            #[cfg(feature = "bson-fields")]
            RawValue::ObjectId(b) if backend == Backend::MongoDb => {
                Value::ObjectId(bson::oid::ObjectId::from_bytes(*b))
            }
            RawValue::ObjectId(b) => Value::Bytes(b.to_vec()),
            RawValue::Bytes(b) => Value::Bytes(b.clone()),
            _ => return Err(bad()),
        },
        ColumnType::TimestampTz | ColumnType::Timestamp | ColumnType::Date | ColumnType::Time => {
            let parts = match raw {
                RawValue::Instant(micros) => Temporal::from_micros(*micros),
                RawValue::Text(t) => parse_temporal(t),
                _ => None,
            }
            .ok_or_else(bad)?;
            let temporal = temporal.ok_or_else(|| {
                format!(
                    "column `{}` is a date/time: enable the `chrono` or `time` feature of \
                     polyorm-changes",
                    column.name
                )
            })?;
            temporal.value(column.ty, &parts).ok_or_else(bad)?
        }
        _ => {
            return Err(format!(
                "column `{}`: unsupported type {:?}",
                column.name, column.ty
            ));
        }
    };
    Ok(Some(value))
}

#[allow(dead_code)]
fn feature_needed(column: &ColumnSchema, feature: &str) -> String {
    format!(
        "column `{}` is a {:?}: enable the `{feature}` feature of polyorm-changes",
        column.name, column.ty
    )
}

fn float(raw: &RawValue) -> Option<f64> {
    match raw {
        RawValue::Float(f) => Some(*f),
        RawValue::Int(i) => Some(*i as f64),
        RawValue::Text(t) => match t.as_str() {
            "NaN" => Some(f64::NAN),
            "Infinity" => Some(f64::INFINITY),
            "-Infinity" => Some(f64::NEG_INFINITY),
            t => t.trim().parse().ok(),
        },
        _ => None,
    }
}

/// A date and/or time read from text, before choosing the crate to hold it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Parts {
    date: Option<(i32, u32, u32)>,
    /// Hour, minute, second, microsecond.
    time: Option<(u32, u32, u32, u32)>,
    /// Offset from UTC in seconds, when the text has one.
    offset: Option<i32>,
}

/// `YYYY-MM-DD`, `HH:MM:SS[.ffffff]`, or both separated by a space or `T`, optionally followed
/// by `Z` or `±HH[:MM[:SS]]` (PostgreSQL's and MariaDB's text forms).
fn parse_temporal(text: &str) -> Option<Parts> {
    let text = text.trim();
    let mut parts = Parts::default();
    let rest = if text.len() >= 10 && text.as_bytes().get(4) == Some(&b'-') {
        let (y, m, d) = (
            text[0..4].parse().ok()?,
            text[5..7].parse().ok()?,
            text[8..10].parse().ok()?,
        );
        parts.date = Some((y, m, d));
        text[10..].trim_start_matches([' ', 'T'])
    } else {
        text
    };
    if rest.is_empty() {
        return Some(parts);
    }
    // Time: up to the offset sign or `Z`.
    let end = rest.find(['+', '-', 'Z']).unwrap_or(rest.len());
    let (clock, zone) = rest.split_at(end);
    let mut fields = clock.split(':');
    let hour = fields.next()?.parse().ok()?;
    let minute = fields.next()?.parse().ok()?;
    let (second, micros) = match fields.next() {
        Some(s) => match s.split_once('.') {
            Some((whole, frac)) => {
                let digits: String = frac.chars().chain("000000".chars()).take(6).collect();
                (whole.parse().ok()?, digits.parse().ok()?)
            }
            None => (s.parse().ok()?, 0),
        },
        None => (0, 0),
    };
    parts.time = Some((hour, minute, second, micros));
    if zone == "Z" {
        parts.offset = Some(0);
    } else if !zone.is_empty() {
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let mut units = zone[1..].split(':');
        let h: i32 = units.next()?.parse().ok()?;
        let m: i32 = units.next().map_or(Some(0), |m| m.parse().ok())?;
        let s: i32 = units.next().map_or(Some(0), |s| s.parse().ok())?;
        parts.offset = Some(sign * (h * 3600 + m * 60 + s));
    }
    Some(parts)
}

impl Temporal {
    /// An instant as UTC parts.
    fn from_micros(micros: i64) -> Option<Parts> {
        let seconds = micros.div_euclid(1_000_000);
        let sub = micros.rem_euclid(1_000_000) as u32;
        let days = seconds.div_euclid(86_400);
        let secs = seconds.rem_euclid(86_400) as u32;
        let (y, m, d) = civil_from_days(days);
        Some(Parts {
            date: Some((y, m, d)),
            time: Some((secs / 3600, secs / 60 % 60, secs % 60, sub)),
            offset: Some(0),
        })
    }

    #[allow(unused_variables, unreachable_code)]
    fn value(self, ty: ColumnType, p: &Parts) -> Option<Value> {
        match self {
            #[cfg(feature = "chrono")]
            Temporal::Chrono => {
                use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
                let date = || {
                    let (y, m, d) = p.date?;
                    NaiveDate::from_ymd_opt(y, m, d)
                };
                let time = || {
                    let (h, mi, s, us) = p.time.unwrap_or_default();
                    NaiveTime::from_hms_micro_opt(h, mi, s, us)
                };
                Some(match ty {
                    ColumnType::TimestampTz => {
                        let local = NaiveDateTime::new(date()?, time()?);
                        let utc = local - chrono::Duration::seconds(p.offset.unwrap_or(0).into());
                        Value::ChronoDateTimeUtc(Utc.from_utc_datetime(&utc))
                    }
                    ColumnType::Timestamp => {
                        Value::ChronoDateTime(NaiveDateTime::new(date()?, time()?))
                    }
                    ColumnType::Date => Value::ChronoDate(date()?),
                    ColumnType::Time => Value::ChronoTime(time()?),
                    _ => return None,
                })
            }
            #[cfg(feature = "time")]
            Temporal::Time => {
                let date = || {
                    let (y, m, d) = p.date?;
                    time::Date::from_calendar_date(y, time::Month::try_from(m as u8).ok()?, d as u8)
                        .ok()
                };
                let clock = || {
                    let (h, mi, s, us) = p.time.unwrap_or_default();
                    time::Time::from_hms_micro(h as u8, mi as u8, s as u8, us).ok()
                };
                Some(match ty {
                    ColumnType::TimestampTz => {
                        let offset =
                            time::UtcOffset::from_whole_seconds(p.offset.unwrap_or(0)).ok()?;
                        Value::TimeOffsetDateTime(
                            time::PrimitiveDateTime::new(date()?, clock()?)
                                .assume_offset(offset)
                                .to_offset(time::UtcOffset::UTC),
                        )
                    }
                    ColumnType::Timestamp => Value::TimePrimitiveDateTime(
                        time::PrimitiveDateTime::new(date()?, clock()?),
                    ),
                    ColumnType::Date => Value::TimeDate(date()?),
                    ColumnType::Time => Value::TimeTime(clock()?),
                    _ => return None,
                })
            }
        }
    }
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Howard Hinnant's algorithm).
fn civil_from_days(days: i64) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y as i32, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporal_text_forms_of_postgres_and_mariadb_parse() {
        let p = parse_temporal("2026-12-06 06:57:32.411514+00").unwrap();
        assert_eq!(p.date, Some((2026, 12, 6)));
        assert_eq!(p.time, Some((6, 57, 32, 411_514)));
        assert_eq!(p.offset, Some(0));
        let p = parse_temporal("2024-01-02T03:04:05.5-05:30").unwrap();
        assert_eq!(p.time, Some((3, 4, 5, 500_000)));
        assert_eq!(p.offset, Some(-(5 * 3600 + 30 * 60)));
        let p = parse_temporal("2024-01-02").unwrap();
        assert_eq!((p.date, p.time), (Some((2024, 1, 2)), None));
        let p = parse_temporal("23:59:58").unwrap();
        assert_eq!((p.date, p.time), (None, Some((23, 59, 58, 0))));
        assert!(parse_temporal("yesterday").is_none());
    }

    #[test]
    fn instants_become_utc_calendar_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        let p = Temporal::from_micros(1_704_067_200_000_001).unwrap();
        assert_eq!(p.date, Some((2024, 1, 1)));
        assert_eq!(p.time, Some((0, 0, 0, 1)));
    }
}

/// Microseconds since the Unix epoch of a timestamp text with an offset (commit times).
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) fn text_to_micros(text: &str) -> Option<i64> {
    let p = parse_temporal(text)?;
    let (y, m, d) = p.date?;
    let (h, mi, s, us) = p.time.unwrap_or_default();
    let days = days_from_civil(y, m, d);
    let seconds =
        days * 86_400 + i64::from(h * 3600 + mi * 60 + s) - i64::from(p.offset.unwrap_or(0));
    Some(seconds * 1_000_000 + i64::from(us))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
fn days_from_civil(y: i32, m: u32, d: u32) -> i64 {
    let y = i64::from(y) - i64::from(m <= 2);
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod micros_tests {
    #[test]
    fn commit_times_become_epoch_micros() {
        assert_eq!(super::text_to_micros("1970-01-01 00:00:00+00"), Some(0));
        assert_eq!(
            super::text_to_micros("2024-01-01 01:00:00.000001+01"),
            Some(1_704_067_200_000_001)
        );
        for days in [-800_000, -1, 0, 19_723, 2_000_000] {
            let (y, m, d) = super::civil_from_days(days);
            assert_eq!(super::days_from_civil(y, m, d), days);
        }
    }
}
