//! A compact, versioned binary form of cached rows (what the query cache keeps in Redis), and
//! of single values (what it hashes into cache keys).
//!
//! Layout: a format byte, the backend, the row count, then per row its slot count and slots;
//! a slot is one tag byte and the value's bytes (integers little-endian, strings and byte
//! strings length-prefixed). Timestamps keep nanoseconds, decimals their 16-byte form, JSON
//! its text, ObjectIds their 12 bytes.

use super::{CachedPrimitive, CachedRow, Slot, backend_tag, tag_backend};
use crate::error::{Error, Result};
use crate::exec::Backend;
use crate::value::Value;

/// Bumped whenever the layout changes, so that old entries read as unreadable (a miss).
const FORMAT: u8 = 1;

/// Serializes `rows` (all from one backend) into `out`.
pub fn encode_rows(rows: &[CachedRow], out: &mut Vec<u8>) {
    out.push(FORMAT);
    out.push(rows.first().map_or(0, |r| backend_tag(r.backend)));
    put_len(out, rows.len());
    for row in rows {
        put_len(out, row.slots.len());
        for slot in &row.slots {
            match slot {
                Slot::Unread => out.push(0),
                Slot::Null => out.push(1),
                Slot::NotNull => out.push(2),
                Slot::Value(value) => encode_value(value, out),
            }
        }
    }
}

/// Reads an entry's header: the reader after it, the rows' backend and their number; `None`
/// for an entry of no rows (nothing may follow it).
fn read_header(bytes: &[u8]) -> Result<Option<(Reader<'_>, Backend, usize)>> {
    let mut r = Reader { bytes, at: 0 };
    if r.u8()? != FORMAT {
        return Err(corrupt("unknown format version"));
    }
    let tag = r.u8()?;
    let count = r.len()?;
    if count == 0 {
        return match r.at == bytes.len() {
            true => Ok(None),
            false => Err(corrupt("trailing bytes")),
        };
    }
    let backend = tag_backend(tag).ok_or_else(|| corrupt("unknown backend"))?;
    Ok(Some((r, backend, count)))
}

/// Reads rows written by [`encode_rows`].
pub fn decode_rows(bytes: &[u8]) -> Result<Vec<CachedRow>> {
    let Some((mut r, backend, count)) = read_header(bytes)? else {
        return Ok(Vec::new());
    };
    let mut rows = Vec::with_capacity(count.min(bytes.len()));
    for _ in 0..count {
        let n = r.len()?;
        let mut slots = Vec::with_capacity(n.min(bytes.len()));
        for _ in 0..n {
            slots.push(match r.u8()? {
                0 => Slot::Unread,
                1 => Slot::Null,
                2 => Slot::NotNull,
                tag => Slot::Value(r.value(tag)?),
            });
        }
        rows.push(CachedRow { backend, slots });
    }
    if r.at != bytes.len() {
        return Err(corrupt("trailing bytes"));
    }
    Ok(rows)
}

/// Decodes every row of an entry written by [`encode_rows`] with `decode`, reading the values
/// in place (no [`CachedRow`]s in between: a string column is copied once, into the model).
///
/// The same values as [`decode_rows`] then [`CachedRow::decode`] on each row; an error when the
/// bytes are not such an entry or a row does not decode.
pub fn decode_encoded<T>(bytes: &[u8], decode: super::super::Decoder<T>) -> Result<Vec<T>> {
    let Some((mut r, backend, count)) = read_header(bytes)? else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(count.min(bytes.len()));
    // Where each slot of the current row starts, reused from row to row.
    let mut slots = Vec::new();
    for _ in 0..count {
        let n = r.len()?;
        slots.clear();
        for _ in 0..n {
            slots.push(r.at);
            let tag = r.u8()?;
            r.skip_value(tag)?;
        }
        let row = EncodedRow {
            backend,
            bytes,
            slots: &slots,
        };
        out.push(decode(&super::super::RowRef::Encoded(&row))?);
    }
    if r.at != bytes.len() {
        return Err(corrupt("trailing bytes"));
    }
    Ok(out)
}

/// One row of an entry written by [`encode_rows`], read in place by
/// [`decode_encoded`] (through [`RowRef::Encoded`](super::super::RowRef::Encoded)).
#[derive(Debug)]
pub struct EncodedRow<'r> {
    backend: Backend,
    /// The whole entry.
    bytes: &'r [u8],
    /// Where each slot's tag is in `bytes`, by column position.
    slots: &'r [usize],
}

impl EncodedRow<'_> {
    /// The backend the row was read from (decoders branch on it for some types).
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The tag of the slot at `index`, and a reader after it.
    fn slot(&self, index: usize, expected: &'static str) -> Result<(u8, Reader<'_>)> {
        let at = *self
            .slots
            .get(index)
            .ok_or_else(|| super::not_recorded(index, expected))?;
        let mut r = Reader {
            bytes: self.bytes,
            at,
        };
        Ok((r.u8()?, r))
    }

    pub(crate) fn is_null(&self, index: usize) -> Result<bool> {
        match self.slot(index, "a column")?.0 {
            UNREAD => Err(super::not_recorded(index, "a column")),
            tag => Ok(tag == NULL),
        }
    }

    pub(crate) fn get<T: CachedPrimitive>(
        &self,
        index: usize,
        expected: &'static str,
    ) -> Result<Option<T>> {
        let (tag, r) = self.slot(index, expected)?;
        if let Some(value) = T::from_encoded(tag, &self.bytes[r.at..]) {
            return Ok(Some(value));
        }
        match (tag, r) {
            (NULL, _) => Ok(None),
            (UNREAD | NOT_NULL, _) => Err(super::not_recorded(index, expected)),
            (tag, mut r) => T::from_cached_owned(r.value(tag)?)
                .map(Some)
                .map_err(|value| Error::Decode {
                    column: format!("#{index}"),
                    index,
                    expected,
                    source: format!("the cached value is a {value:?}").into(),
                }),
        }
    }
}

/// The tags of the values [`CachedPrimitive::from_encoded`] reads in place (as
/// [`encode_value`] writes them).
pub(super) const BOOL: u8 = 11;
pub(super) const SMALL_INT: u8 = 12;
pub(super) const INT: u8 = 13;
pub(super) const BIG_INT: u8 = 14;
pub(super) const FLOAT: u8 = 15;
pub(super) const DOUBLE: u8 = 16;
const TEXT: u8 = 17;

/// The `N` bytes of a fixed-size value tagged `want`, if `tag` is `want`.
pub(super) fn fixed<const N: usize>(tag: u8, want: u8, body: &[u8]) -> Option<[u8; N]> {
    if tag != want {
        return None;
    }
    body.get(..N)?.try_into().ok()
}

/// The text of a slot tagged as text (length, then UTF-8 bytes).
pub(super) fn text(tag: u8, body: &[u8]) -> Option<String> {
    if tag != TEXT {
        return None;
    }
    let mut r = Reader { bytes: body, at: 0 };
    let text = std::str::from_utf8(r.bytes().ok()?).ok()?;
    Some(text.to_owned())
}

/// The tags of the slots that hold no value.
const UNREAD: u8 = 0;
const NULL: u8 = 1;
const NOT_NULL: u8 = 2;

fn corrupt(what: &str) -> Error {
    Error::Decode {
        column: "cached rows".to_owned(),
        index: 0,
        expected: "rows written by orm's cache",
        source: format!("unreadable cache entry ({what}); it is treated as a miss").into(),
    }
}

fn put_len(out: &mut Vec<u8>, n: usize) {
    out.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
}

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    put_len(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// Appends one value, tagged (tags 10 and up; 0-2 are the empty slots).
pub fn encode_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Null(ty) => {
            out.push(10);
            put_bytes(out, format!("{ty:?}").as_bytes());
        }
        Value::Bool(b) => out.extend_from_slice(&[BOOL, u8::from(*b)]),
        Value::SmallInt(i) => {
            out.push(SMALL_INT);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::Int(i) => {
            out.push(INT);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::BigInt(i) => {
            out.push(BIG_INT);
            out.extend_from_slice(&i.to_le_bytes());
        }
        Value::Float(f) => {
            out.push(FLOAT);
            out.extend_from_slice(&f.to_le_bytes());
        }
        Value::Double(f) => {
            out.push(DOUBLE);
            out.extend_from_slice(&f.to_le_bytes());
        }
        Value::Text(s) => {
            out.push(TEXT);
            put_bytes(out, s.as_bytes());
        }
        Value::Bytes(b) => {
            out.push(18);
            put_bytes(out, b);
        }
        Value::BigUnsigned(u) => {
            out.push(19);
            out.extend_from_slice(&u.to_le_bytes());
        }
        #[cfg(feature = "chrono")]
        Value::ChronoDateTimeUtc(v) => {
            out.push(20);
            put_instant(out, v.timestamp(), v.timestamp_subsec_nanos());
        }
        #[cfg(feature = "chrono")]
        Value::ChronoDateTime(v) => {
            out.push(21);
            let utc = v.and_utc();
            put_instant(out, utc.timestamp(), utc.timestamp_subsec_nanos());
        }
        #[cfg(feature = "chrono")]
        Value::ChronoDate(v) => {
            out.push(22);
            out.extend_from_slice(&::chrono::Datelike::num_days_from_ce(v).to_le_bytes());
        }
        #[cfg(feature = "chrono")]
        Value::ChronoTime(v) => {
            use ::chrono::Timelike;
            out.push(23);
            out.extend_from_slice(&v.num_seconds_from_midnight().to_le_bytes());
            out.extend_from_slice(&v.nanosecond().to_le_bytes());
        }
        #[cfg(feature = "time")]
        Value::TimeOffsetDateTime(v) => {
            out.push(24);
            out.extend_from_slice(&v.unix_timestamp_nanos().to_le_bytes());
            out.extend_from_slice(&v.offset().whole_seconds().to_le_bytes());
        }
        #[cfg(feature = "time")]
        Value::TimePrimitiveDateTime(v) => {
            out.push(25);
            out.extend_from_slice(&v.assume_utc().unix_timestamp_nanos().to_le_bytes());
        }
        #[cfg(feature = "time")]
        Value::TimeDate(v) => {
            out.push(26);
            out.extend_from_slice(&v.to_julian_day().to_le_bytes());
        }
        #[cfg(feature = "time")]
        Value::TimeTime(v) => {
            out.push(27);
            let (h, m, s, nanos) = v.as_hms_nano();
            out.extend_from_slice(&[h, m, s]);
            out.extend_from_slice(&nanos.to_le_bytes());
        }
        #[cfg(feature = "uuid")]
        Value::Uuid(v) => {
            out.push(28);
            out.extend_from_slice(v.as_bytes());
        }
        #[cfg(feature = "decimal")]
        Value::Decimal(v) => {
            out.push(29);
            out.extend_from_slice(&v.serialize());
        }
        #[cfg(feature = "json")]
        Value::Json(v) => {
            out.push(30);
            put_bytes(out, v.to_string().as_bytes());
        }
        #[cfg(feature = "bson")]
        Value::ObjectId(v) => {
            out.push(32);
            out.extend_from_slice(&v.bytes());
        }
        Value::Unencodable(ty, message) => {
            out.push(31);
            put_bytes(out, format!("{ty:?}: {message}").as_bytes());
        }
    }
}

#[cfg(feature = "chrono")]
fn put_instant(out: &mut Vec<u8>, secs: i64, nanos: u32) {
    out.extend_from_slice(&secs.to_le_bytes());
    out.extend_from_slice(&nanos.to_le_bytes());
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len());
        let end = end.ok_or_else(|| corrupt("truncated"))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn len(&mut self) -> Result<usize> {
        Ok(u32::from_le_bytes(self.array()?) as usize)
    }

    fn bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.len()?;
        self.take(n)
    }

    fn text(&mut self) -> Result<String> {
        String::from_utf8(self.bytes()?.to_vec()).map_err(|_| corrupt("text is not UTF-8"))
    }

    /// Moves past the value of a slot tagged `tag` (as [`encode_value`] wrote it) without
    /// reading it.
    fn skip_value(&mut self, tag: u8) -> Result<()> {
        let size = match tag {
            UNREAD | NULL | NOT_NULL => 0,
            // Length-prefixed: a `Null`'s type, text, bytes, JSON, an unencodable value.
            10 | 17 | 18 | 30 | 31 => self.len()?,
            11 => 1,
            12 => 2,
            13 | 15 | 22 | 26 => 4,
            27 => 7,
            14 | 16 | 19 | 23 => 8,
            20 | 21 | 32 => 12,
            25 | 28 | 29 => 16,
            24 => 20,
            _ => return Err(corrupt("unknown value tag")),
        };
        self.take(size).map(drop)
    }

    fn value(&mut self, tag: u8) -> Result<Value> {
        Ok(match tag {
            BOOL => Value::Bool(self.u8()? != 0),
            SMALL_INT => Value::SmallInt(i16::from_le_bytes(self.array()?)),
            INT => Value::Int(i32::from_le_bytes(self.array()?)),
            BIG_INT => Value::BigInt(i64::from_le_bytes(self.array()?)),
            FLOAT => Value::Float(f32::from_le_bytes(self.array()?)),
            DOUBLE => Value::Double(f64::from_le_bytes(self.array()?)),
            TEXT => Value::Text(self.text()?),
            18 => Value::Bytes(self.bytes()?.to_vec()),
            19 => Value::BigUnsigned(u64::from_le_bytes(self.array()?)),
            #[cfg(feature = "chrono")]
            20 => Value::ChronoDateTimeUtc(self.chrono_instant()?),
            #[cfg(feature = "chrono")]
            21 => Value::ChronoDateTime(self.chrono_instant()?.naive_utc()),
            #[cfg(feature = "chrono")]
            22 => Value::ChronoDate(
                ::chrono::NaiveDate::from_num_days_from_ce_opt(i32::from_le_bytes(self.array()?))
                    .ok_or_else(|| corrupt("date out of range"))?,
            ),
            #[cfg(feature = "chrono")]
            23 => {
                let secs = u32::from_le_bytes(self.array()?);
                let nanos = u32::from_le_bytes(self.array()?);
                Value::ChronoTime(
                    ::chrono::NaiveTime::from_num_seconds_from_midnight_opt(secs, nanos)
                        .ok_or_else(|| corrupt("time out of range"))?,
                )
            }
            #[cfg(feature = "time")]
            24 => {
                let nanos = i128::from_le_bytes(self.array()?);
                let offset = i32::from_le_bytes(self.array()?);
                let offset = ::time::UtcOffset::from_whole_seconds(offset)
                    .map_err(|_| corrupt("offset out of range"))?;
                Value::TimeOffsetDateTime(self.time_instant(nanos)?.to_offset(offset))
            }
            #[cfg(feature = "time")]
            25 => {
                let nanos = i128::from_le_bytes(self.array()?);
                let at = self.time_instant(nanos)?;
                Value::TimePrimitiveDateTime(::time::PrimitiveDateTime::new(at.date(), at.time()))
            }
            #[cfg(feature = "time")]
            26 => Value::TimeDate(
                ::time::Date::from_julian_day(i32::from_le_bytes(self.array()?))
                    .map_err(|_| corrupt("date out of range"))?,
            ),
            #[cfg(feature = "time")]
            27 => {
                let [h, m, s] = self.array()?;
                let nanos = u32::from_le_bytes(self.array()?);
                Value::TimeTime(
                    ::time::Time::from_hms_nano(h, m, s, nanos)
                        .map_err(|_| corrupt("time out of range"))?,
                )
            }
            #[cfg(feature = "uuid")]
            28 => Value::Uuid(::uuid::Uuid::from_bytes(self.array()?)),
            #[cfg(feature = "decimal")]
            29 => Value::Decimal(::rust_decimal::Decimal::deserialize(self.array()?)),
            #[cfg(feature = "json")]
            30 => Value::Json(Box::new(
                serde_json::from_slice(self.bytes()?).map_err(|_| corrupt("invalid JSON"))?,
            )),
            #[cfg(feature = "bson")]
            32 => Value::ObjectId(::bson::oid::ObjectId::from_bytes(self.array()?)),
            _ => return Err(corrupt("unknown value tag")),
        })
    }

    #[cfg(feature = "chrono")]
    fn chrono_instant(&mut self) -> Result<::chrono::DateTime<::chrono::Utc>> {
        let secs = i64::from_le_bytes(self.array()?);
        let nanos = u32::from_le_bytes(self.array()?);
        ::chrono::DateTime::from_timestamp(secs, nanos)
            .ok_or_else(|| corrupt("timestamp out of range"))
    }

    #[cfg(feature = "time")]
    fn time_instant(&self, nanos: i128) -> Result<::time::OffsetDateTime> {
        ::time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
            .map_err(|_| corrupt("timestamp out of range"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::RowRef;
    use crate::sql::Dialect;

    fn rows() -> Vec<CachedRow> {
        let values = vec![
            Slot::Value(Value::Text("é\u{0}x".to_owned())),
            Slot::Null,
            Slot::NotNull,
            Slot::Unread,
            Slot::Value(Value::Double(f64::NAN.copysign(-1.0))),
            Slot::Value(Value::BigUnsigned(u64::MAX)),
            Slot::Value(Value::Bytes(vec![0, 1, 255])),
        ];
        vec![CachedRow::new(Backend::Sql(Dialect::MySql), values.clone()); 3]
    }

    #[test]
    fn rows_round_trip_bit_for_bit() {
        let mut bytes = Vec::new();
        encode_rows(&rows(), &mut bytes);
        let back = decode_rows(&bytes).unwrap();
        let mut again = Vec::new();
        encode_rows(&back, &mut again);
        assert_eq!(bytes, again);
        assert_eq!(back[0].backend(), Backend::Sql(Dialect::MySql));
        assert_eq!(
            back[2].slots()[0],
            Slot::Value(Value::Text("é\u{0}x".to_owned()))
        );
    }

    #[test]
    fn truncated_or_foreign_bytes_are_an_error_not_a_panic() {
        let mut bytes = Vec::new();
        encode_rows(&rows(), &mut bytes);
        for end in 0..bytes.len() {
            assert!(decode_rows(&bytes[..end]).is_err(), "prefix of {end} bytes");
        }
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(decode_rows(&trailing).is_err());
        assert!(
            decode_rows(&[FORMAT + 1, 1, 0, 0, 0, 0]).is_err(),
            "another format"
        );
        assert!(
            decode_rows(&[FORMAT, 1, 1, 0, 0, 0, 1, 0, 0, 0, 250]).is_err(),
            "unknown tag"
        );
    }

    /// Reads columns 0, 4 and 6 as values and 1 and 2 for NULL (3 was not read).
    type Read = (String, bool, bool, Option<f64>, Vec<u8>);

    fn read(row: &RowRef<'_>) -> Result<Read> {
        use crate::FieldType;
        Ok((
            String::decode(row, 0)?,
            row.is_null(1)?,
            row.is_null(2)?,
            <Option<f64>>::decode(row, 4)?,
            <Vec<u8>>::decode(row, 6)?,
        ))
    }

    fn read_unread(row: &RowRef<'_>) -> Result<Option<String>> {
        <Option<String> as crate::FieldType>::decode(row, 3)
    }

    fn read_as_i64(row: &RowRef<'_>) -> Result<i64> {
        <i64 as crate::FieldType>::decode(row, 0)
    }

    #[test]
    fn rows_decode_in_place_as_from_cached_rows() {
        let mut bytes = Vec::new();
        encode_rows(&rows(), &mut bytes);
        let from_rows: Vec<Read> = decode_rows(&bytes)
            .unwrap()
            .iter()
            .map(|r| r.decode(read))
            .collect::<Result<_>>()
            .unwrap();
        let in_place = decode_encoded(&bytes, read).unwrap();
        assert_eq!(format!("{from_rows:?}"), format!("{in_place:?}"));
        assert_eq!(in_place.len(), 3);
        assert_eq!(in_place[0].0, "é\u{0}x");
        assert!(in_place[0].1 && !in_place[0].2);
        assert_eq!(in_place[0].4, vec![0, 1, 255]);
        // A column the recording decoder did not read, or read as another type: an error
        // (the cache's miss), as from the cached rows.
        assert!(decode_encoded(&bytes, read_unread).is_err());
        assert!(decode_rows(&bytes).unwrap()[0].decode(read_unread).is_err());
        let wrong = decode_encoded(&bytes, read_as_i64).unwrap_err().to_string();
        assert!(wrong.contains("Text"), "{wrong}");
        // No rows.
        let mut empty = Vec::new();
        encode_rows(&[], &mut empty);
        assert!(decode_encoded(&empty, read).unwrap().is_empty());
    }

    #[test]
    fn truncated_or_foreign_bytes_decode_in_place_to_an_error_not_a_panic() {
        let mut bytes = Vec::new();
        encode_rows(&rows(), &mut bytes);
        for end in 0..bytes.len() {
            assert!(
                decode_encoded(&bytes[..end], read).is_err(),
                "prefix of {end} bytes"
            );
        }
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert!(decode_encoded(&trailing, read).is_err());
        let mut other = bytes.clone();
        other[0] = FORMAT + 1;
        assert!(decode_encoded(&other, read).is_err());
    }

    type Primitives = (bool, i16, i32, i64, f32, f64, String);

    fn read_primitives(row: &RowRef<'_>) -> Result<Primitives> {
        use crate::FieldType;
        Ok((
            bool::decode(row, 0)?,
            i16::decode(row, 1)?,
            i32::decode(row, 2)?,
            i64::decode(row, 3)?,
            f32::decode(row, 4)?,
            f64::decode(row, 5)?,
            String::decode(row, 6)?,
        ))
    }

    fn primitive_rows(text: Value) -> Vec<CachedRow> {
        let values = [
            Value::Bool(true),
            Value::SmallInt(i16::MIN),
            Value::Int(-7),
            Value::BigInt(i64::MAX),
            Value::Float(1.5),
            Value::Double(-0.25),
            text,
        ];
        let slots = values.into_iter().map(Slot::Value).collect();
        vec![CachedRow::new(Backend::Sql(Dialect::Sqlite), slots)]
    }

    /// The primitives read straight from the bytes read as through `Value`; a corrupt one is
    /// an error, never a value.
    #[test]
    fn primitives_read_in_place_as_through_values() {
        let rows = primitive_rows(Value::Text("naïve".to_owned()));
        let mut bytes = Vec::new();
        encode_rows(&rows, &mut bytes);
        let through_values = rows[0].decode(read_primitives).unwrap();
        let in_place = decode_encoded(&bytes, read_primitives).unwrap();
        assert_eq!(in_place, vec![through_values.clone()]);
        assert_eq!(
            through_values,
            (true, i16::MIN, -7, i64::MAX, 1.5, -0.25, "naïve".to_owned())
        );
        // Text whose bytes are not UTF-8 (same length, so the entry still parses).
        let at = bytes
            .windows(6)
            .position(|w| w == "naïve".as_bytes())
            .unwrap();
        bytes[at + 2] = 0xff;
        let error = decode_encoded(&bytes, read_primitives).unwrap_err();
        assert!(error.to_string().contains("UTF-8"), "{error}");
    }

    /// Every value's encoded size is what the in-place reader skips.
    #[test]
    fn skipping_a_value_moves_past_exactly_its_bytes() {
        let mut values = Vec::new();
        values.extend([
            Value::Null(crate::schema::ColumnType::Text),
            Value::Bool(true),
            Value::SmallInt(-2),
            Value::Int(-3),
            Value::BigInt(-4),
            Value::Float(0.5),
            Value::Double(-0.0),
            Value::Text("ab".to_owned()),
            Value::Bytes(vec![1, 2, 3]),
            Value::BigUnsigned(7),
            Value::Unencodable(crate::schema::ColumnType::Text, "x".to_owned()),
        ]);
        #[cfg(feature = "chrono")]
        values.extend([
            Value::ChronoDateTimeUtc(::chrono::DateTime::UNIX_EPOCH),
            Value::ChronoDateTime(::chrono::DateTime::UNIX_EPOCH.naive_utc()),
            Value::ChronoDate(::chrono::DateTime::UNIX_EPOCH.date_naive()),
            Value::ChronoTime(::chrono::DateTime::UNIX_EPOCH.time()),
        ]);
        #[cfg(feature = "time")]
        values.extend([
            Value::TimeOffsetDateTime(::time::OffsetDateTime::UNIX_EPOCH),
            Value::TimePrimitiveDateTime(::time::PrimitiveDateTime::MIN),
            Value::TimeDate(::time::Date::MIN),
            Value::TimeTime(::time::Time::MIDNIGHT),
        ]);
        #[cfg(feature = "uuid")]
        values.push(Value::Uuid(::uuid::Uuid::nil()));
        #[cfg(feature = "decimal")]
        values.push(Value::Decimal(::rust_decimal::Decimal::new(100, 2)));
        #[cfg(feature = "json")]
        values.push(Value::Json(Box::new(serde_json::json!({"a": [1]}))));
        #[cfg(feature = "bson")]
        values.push(Value::ObjectId(::bson::oid::ObjectId::from_bytes([3; 12])));
        for value in values {
            let mut bytes = Vec::new();
            encode_value(&value, &mut bytes);
            let mut r = Reader {
                bytes: &bytes,
                at: 1,
            };
            r.skip_value(bytes[0]).unwrap();
            assert_eq!(r.at, bytes.len(), "{value:?}");
        }
    }

    #[cfg(feature = "bson")]
    #[test]
    fn object_ids_round_trip_and_differ_from_their_bytes() {
        use ::bson::oid::ObjectId;
        let oid = ObjectId::parse_str("65f0a1b2c3d4e5f60718293a").unwrap();
        let slots = vec![Slot::Value(Value::ObjectId(oid)), Slot::Null];
        let rows = vec![CachedRow::new(Backend::Sql(Dialect::Postgres), slots)];
        let mut bytes = Vec::new();
        encode_rows(&rows, &mut bytes);
        assert_eq!(decode_rows(&bytes).unwrap(), rows);
        for end in 0..bytes.len() {
            assert!(decode_rows(&bytes[..end]).is_err(), "prefix of {end} bytes");
        }
        // A cache key over an ObjectId is not the key over the same 12 bytes.
        let (mut as_oid, mut as_bytes) = (Vec::new(), Vec::new());
        encode_value(&Value::ObjectId(oid), &mut as_oid);
        encode_value(&Value::Bytes(oid.bytes().to_vec()), &mut as_bytes);
        assert_ne!(as_oid, as_bytes);
    }
}
