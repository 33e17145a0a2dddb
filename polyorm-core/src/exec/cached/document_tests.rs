//! Recording from MongoDB documents, without a server: decimal128 values (`Decimal`, `u64`
//! above `i64::MAX`), which the nx-27017 test server cannot store, and the scalars beside them
//! are recorded from a document, encoded, decoded and replayed through the same decoder,
//! equal. (Every other type is checked against the test server in `polyorm-cache/tests/mongo.rs`.)

use bson::oid::ObjectId;
use rust_decimal::Decimal;

use super::{CachedRow, decode_rows, encode_rows};
use crate::exec::{Backend, DocumentRow, RowRef};
use crate::mongo::{OUTPUT_FIELDS, to_bson};
use crate::value::{SqlType, Value};

type Row = (
    (Decimal, u64, u64, i64, i32, i16, u8, u32),
    (bool, f64, String, Vec<u8>, ObjectId, uuid::Uuid),
    (Option<String>, Option<Decimal>),
);

fn get<T: SqlType>(row: &RowRef<'_>, index: usize) -> crate::Result<T> {
    T::decode_nullable(row, index)?.ok_or_else(|| row.decode_error(index, "a value", "NULL"))
}

fn decode(row: &RowRef<'_>) -> crate::Result<Row> {
    Ok((
        (
            get(row, 0)?,
            get(row, 1)?,
            get(row, 2)?,
            get(row, 3)?,
            get(row, 4)?,
            get(row, 5)?,
            get(row, 6)?,
            get(row, 7)?,
        ),
        (
            get(row, 8)?,
            get(row, 9)?,
            get(row, 10)?,
            get(row, 11)?,
            get(row, 12)?,
            get(row, 13)?,
        ),
        (
            <String as SqlType>::decode_nullable(row, 14)?,
            <Decimal as SqlType>::decode_nullable(row, 15)?,
        ),
    ))
}

#[test]
fn every_type_recorded_from_a_document_replays_equal() {
    let values = [
        Value::Decimal(Decimal::from_i128_with_scale(
            -12_345_678_901_234_567_890,
            6,
        )),
        (u64::MAX).to_value(),
        7u64.to_value(),
        Value::BigInt(i64::MIN),
        Value::Int(i32::MAX),
        Value::SmallInt(-5),
        200u8.to_value(),
        4_000_000_000u32.to_value(),
        Value::Bool(true),
        Value::Double(-1.5e300),
        Value::Text("héllo".to_owned()),
        Value::Bytes(vec![0, 255]),
        Value::ObjectId(ObjectId::parse_str("65f0a1b2c3d4e5f60718293a").unwrap()),
        Value::Uuid(uuid::Uuid::from_u128(42)),
        Value::Null(crate::schema::ColumnType::Text),
        Value::Decimal(Decimal::new(1, 28)),
    ];
    assert_eq!(values.len(), OUTPUT_FIELDS.len());
    let mut doc = bson::Document::new();
    for (value, field) in values.iter().zip(OUTPUT_FIELDS) {
        doc.insert(field, to_bson(value));
    }
    let raw = bson::RawDocumentBuf::try_from(&doc).unwrap();
    let row = RowRef::Document(DocumentRow::output(&raw));

    let direct = decode(&row).unwrap();
    assert_eq!((direct.0.1, direct.2.0.as_deref()), (u64::MAX, None));
    let (recorded, cached) = CachedRow::record(Backend::MongoDb, &row, decode).unwrap();
    assert_eq!(recorded, direct);
    let mut bytes = Vec::new();
    encode_rows(&[cached], &mut bytes);
    let replayed = decode_rows(&bytes).unwrap();
    assert_eq!(replayed[0].backend(), Backend::MongoDb);
    assert_eq!(replayed[0].decode(decode).unwrap(), direct);
}
