//! The row encoding of archive parts, version 1 (backend-neutral, exact).
//!
//! A part's content (before compression and encryption) is its rows one after the other; a
//! row is one value per column of the part, in the manifest's column order; a value is a tag
//! byte and its bytes, integers little-endian, lengths `u32`:
//!
//! | tag | value | bytes |
//! |----:|-------|-------|
//! | 0 | NULL | — |
//! | 1, 2 | `false`, `true` | — |
//! | 3, 4, 5 | `i16`, `i32`, `i64` | 2, 4, 8 |
//! | 6, 7 | `f32`, `f64` | IEEE-754 bits, 4, 8 (NaN, infinities, `-0.0` kept) |
//! | 8 | text | length, UTF-8 |
//! | 9 | bytes | length, bytes |
//! | 10 | `u64` above `i64::MAX` | 8 |
//! | 11 | timestamp with time zone (UTC) | `i64` seconds since 1970, `u32` nanoseconds |
//! | 12 | timestamp without time zone | `i64` seconds since 1970, `u32` nanoseconds |
//! | 13 | date | `i32` days since 0001-01-01 (proleptic Gregorian, day 1) |
//! | 14 | time of day | `u32` seconds since midnight, `u32` nanoseconds |
//! | 15 | UUID | 16 |
//! | 16 | ObjectId | 12 |
//! | 17 | decimal | 16, `rust_decimal`'s serialized form of the normalized value (trailing zeros of the scale dropped: `1.50` is `1.5`; the column's declared scale brings them back) |
//! | 18 | JSON | length, the document's text |
//!
//! The digest of a set of rows ([`RowDigest`]) is the sum modulo 2^128 of the first 16 bytes
//! (little-endian) of each row's SHA-256: it does not depend on the order rows are read in,
//! so the same rows give the same digest on every backend.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Timelike, Utc};
use polyorm_core::{ColumnType, Value};
use sha2::{Digest, Sha256};

/// The version of this encoding, recorded in every manifest.
pub const FORMAT_VERSION: u32 = 1;

/// Appends `value` to `out`.
///
/// # Errors
/// A value that has no archive form (a `time`-crate value is stored as its chrono
/// equivalent; a value whose own encoding failed is refused with its message).
pub fn encode_value(value: &Value, out: &mut Vec<u8>) -> Result<(), String> {
    match value {
        Value::Null(_) => out.push(0),
        Value::Bool(b) => out.push(1 + u8::from(*b)),
        Value::SmallInt(i) => tagged(out, 3, &i.to_le_bytes()),
        Value::Int(i) => tagged(out, 4, &i.to_le_bytes()),
        Value::BigInt(i) => tagged(out, 5, &i.to_le_bytes()),
        Value::Float(f) => tagged(out, 6, &f.to_bits().to_le_bytes()),
        Value::Double(f) => tagged(out, 7, &f.to_bits().to_le_bytes()),
        Value::Text(s) => sized(out, 8, s.as_bytes()),
        Value::Bytes(b) => sized(out, 9, b),
        Value::BigUnsigned(u) => tagged(out, 10, &u.to_le_bytes()),
        Value::ChronoDateTimeUtc(t) => instant(out, 11, t.timestamp(), t.timestamp_subsec_nanos()),
        Value::ChronoDateTime(t) => {
            let utc = t.and_utc();
            instant(out, 12, utc.timestamp(), utc.timestamp_subsec_nanos());
        }
        Value::ChronoDate(d) => tagged(out, 13, &d.num_days_from_ce().to_le_bytes()),
        Value::ChronoTime(t) => {
            out.push(14);
            out.extend_from_slice(&t.num_seconds_from_midnight().to_le_bytes());
            out.extend_from_slice(&t.nanosecond().to_le_bytes());
        }
        Value::Uuid(u) => tagged(out, 15, u.as_bytes()),
        #[cfg(feature = "bson")]
        Value::ObjectId(o) => tagged(out, 16, &o.bytes()),
        Value::Decimal(d) => tagged(out, 17, &d.normalize().serialize()),
        Value::Json(j) => sized(out, 18, j.to_string().as_bytes()),
        other => return Err(format!("the value {other:?} has no archive encoding")),
    }
    Ok(())
}

fn tagged(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.push(tag);
    out.extend_from_slice(bytes);
}

fn sized(out: &mut Vec<u8>, tag: u8, bytes: &[u8]) {
    out.push(tag);
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

fn instant(out: &mut Vec<u8>, tag: u8, secs: i64, nanos: u32) {
    out.push(tag);
    out.extend_from_slice(&secs.to_le_bytes());
    out.extend_from_slice(&nanos.to_le_bytes());
}

/// Reads rows of `columns` values from a part's content.
#[derive(Debug)]
pub struct RowReader<'a> {
    bytes: &'a [u8],
    at: usize,
}

/// A reason a part's content does not decode.
pub type DecodeError = String;

impl<'a> RowReader<'a> {
    /// A reader over `bytes`, from its start.
    pub fn new(bytes: &'a [u8]) -> Self {
        RowReader { bytes, at: 0 }
    }

    /// Bytes consumed by the rows read so far.
    pub fn consumed(&self) -> usize {
        self.at
    }

    /// The next complete row, `Ok(None)` when the bytes left hold no complete row (read more
    /// content, or the part ends here).
    pub fn row(&mut self, columns: &[ColumnType]) -> Result<Option<Vec<Value>>, DecodeError> {
        let start = self.at;
        let mut row = Vec::with_capacity(columns.len());
        for &ty in columns {
            match self.value(ty)? {
                Some(v) => row.push(v),
                None => {
                    self.at = start;
                    return Ok(None);
                }
            }
        }
        Ok(Some(row))
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(n)?;
        let out = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(out)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N).map(|b| b.try_into().expect("N bytes"))
    }

    fn value(&mut self, ty: ColumnType) -> Result<Option<Value>, DecodeError> {
        let Some(&[tag]) = self.take(1) else {
            return Ok(None);
        };
        macro_rules! fixed {
            ($t:ty, $wrap:expr) => {
                match self.array() {
                    Some(b) => $wrap(<$t>::from_le_bytes(b)),
                    None => return Ok(None),
                }
            };
        }
        let value = match tag {
            0 => Value::Null(ty),
            1 => Value::Bool(false),
            2 => Value::Bool(true),
            3 => fixed!(i16, Value::SmallInt),
            4 => fixed!(i32, Value::Int),
            5 => fixed!(i64, Value::BigInt),
            6 => fixed!(u32, |b| Value::Float(f32::from_bits(b))),
            7 => fixed!(u64, |b| Value::Double(f64::from_bits(b))),
            8 | 9 | 18 => {
                let Some(len) = self.array().map(u32::from_le_bytes) else {
                    return Ok(None);
                };
                let Some(bytes) = self.take(len as usize) else {
                    return Ok(None);
                };
                match tag {
                    9 => Value::Bytes(bytes.to_vec()),
                    _ => {
                        let text = std::str::from_utf8(bytes)
                            .map_err(|e| format!("text that is not UTF-8: {e}"))?;
                        if tag == 8 {
                            Value::Text(text.to_owned())
                        } else {
                            Value::Json(Box::new(
                                serde_json::from_str(text)
                                    .map_err(|e| format!("JSON that does not parse: {e}"))?,
                            ))
                        }
                    }
                }
            }
            10 => fixed!(u64, Value::BigUnsigned),
            11 | 12 => {
                let (Some(secs), Some(nanos)) = (self.array(), self.array()) else {
                    return Ok(None);
                };
                let t = DateTime::<Utc>::from_timestamp(
                    i64::from_le_bytes(secs),
                    u32::from_le_bytes(nanos),
                )
                .ok_or("a timestamp out of range")?;
                if tag == 11 {
                    Value::ChronoDateTimeUtc(t)
                } else {
                    Value::ChronoDateTime(t.naive_utc())
                }
            }
            13 => {
                let Some(days) = self.array().map(i32::from_le_bytes) else {
                    return Ok(None);
                };
                Value::ChronoDate(
                    NaiveDate::from_num_days_from_ce_opt(days).ok_or("a date out of range")?,
                )
            }
            14 => {
                let (Some(secs), Some(nanos)) = (self.array(), self.array()) else {
                    return Ok(None);
                };
                Value::ChronoTime(
                    NaiveTime::from_num_seconds_from_midnight_opt(
                        u32::from_le_bytes(secs),
                        u32::from_le_bytes(nanos),
                    )
                    .ok_or("a time of day out of range")?,
                )
            }
            15 => {
                let Some(b) = self.array::<16>() else {
                    return Ok(None);
                };
                Value::Uuid(uuid::Uuid::from_bytes(b))
            }
            16 => {
                let Some(b) = self.array::<12>() else {
                    return Ok(None);
                };
                object_id(b)?
            }
            17 => {
                let Some(b) = self.array::<16>() else {
                    return Ok(None);
                };
                Value::Decimal(rust_decimal::Decimal::deserialize(b))
            }
            other => return Err(format!("unknown value tag {other}")),
        };
        Ok(Some(value))
    }
}

#[cfg(feature = "bson")]
fn object_id(bytes: [u8; 12]) -> Result<Value, DecodeError> {
    Ok(Value::ObjectId(
        polyorm_core::bson::oid::ObjectId::from_bytes(bytes),
    ))
}

#[cfg(not(feature = "bson"))]
fn object_id(_: [u8; 12]) -> Result<Value, DecodeError> {
    Err("an ObjectId, but polyorm-backup was built without its `bson` feature".to_owned())
}

/// The order-independent digest of a set of rows (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RowDigest(u128);

impl RowDigest {
    /// Adds the row whose encoding is `encoded`.
    pub fn add(&mut self, encoded: &[u8]) {
        self.0 = self.0.wrapping_add(row_hash(encoded));
    }

    /// Removes a row added before (for a row an incremental backup replaced).
    pub fn remove_hash(&mut self, hash: u128) {
        self.0 = self.0.wrapping_sub(hash);
    }

    /// Adds a row by its [`row_hash`].
    pub fn add_hash(&mut self, hash: u128) {
        self.0 = self.0.wrapping_add(hash);
    }

    /// The digest as 32 hex digits (the manifest's `rows_digest`).
    pub fn to_hex(self) -> String {
        format!("{:032x}", self.0)
    }
}

/// The first 16 bytes of the SHA-256 of `encoded`, little-endian.
pub fn row_hash(encoded: &[u8]) -> u128 {
    let hash = Sha256::digest(encoded);
    u128::from_le_bytes(hash[..16].try_into().expect("16 bytes"))
}

/// Encodes a whole row.
pub fn encode_row(row: &[Value], out: &mut Vec<u8>) -> Result<(), String> {
    row.iter().try_for_each(|v| encode_value(v, out))
}
