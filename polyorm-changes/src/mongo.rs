//! MongoDB change-stream events (`collection.watch()`) as [`RawChange`]s, decoded into models
//! like the SQL sources' rows: a document's fields are the model's columns, `_id` is its
//! primary key.
//!
//! Ask the server for full documents so that updates carry their new row
//! (`fullDocument: "updateLookup"` or `"required"`), and enable pre-images on the collection
//! (`changeStreamPreAndPostImages`, `fullDocumentBeforeChange: "whenAvailable"`) for `before`
//! images; without them a delete carries only `documentKey` (the key). The resume token
//! (`_id._data`) is the event's [`Position::ResumeToken`]: pass the last acknowledged one to
//! `resumeAfter` to resume.

use bson::{Bson, Document};

use crate::error::{Error, Result};
use crate::event::{ChangeKind, ChangeMeta, Position};
use crate::raw::{RawChange, RawRow, RawValue};

fn protocol(message: String) -> Error {
    Error::Protocol {
        source_name: "change stream",
        message,
    }
}

/// Reads one change-stream event document. Events that are not row changes (`drop`,
/// `rename`, `invalidate`, DDL events) give `Ok(None)`.
pub fn decode_event(event: &Document) -> Result<Option<RawChange>> {
    let kind = match event.get_str("operationType") {
        Ok("insert") => ChangeKind::Insert,
        Ok("update" | "replace") => ChangeKind::Update,
        Ok("delete") => ChangeKind::Delete,
        Ok(_) => return Ok(None),
        Err(_) => {
            return Err(protocol(format!(
                "an event without `operationType`: {event}"
            )));
        }
    };
    let token = event
        .get_document("_id")
        .ok()
        .and_then(|id| id.get_str("_data").ok())
        .ok_or_else(|| protocol(format!("an event without a resume token: {event}")))?;
    let ns = event
        .get_document("ns")
        .map_err(|_| protocol(format!("an event without `ns`: {event}")))?;
    let commit_time_micros = match event.get("wallTime") {
        Some(Bson::DateTime(at)) => Some(at.timestamp_millis() * 1000),
        _ => match event.get("clusterTime") {
            Some(Bson::Timestamp(ts)) => Some(i64::from(ts.time) * 1_000_000),
            _ => None,
        },
    };
    let transaction_id = match event.get("txnNumber") {
        Some(Bson::Int64(n)) => Some(n.to_string()),
        Some(Bson::Int32(n)) => Some(n.to_string()),
        _ => None,
    };
    let image = |field: &str| -> Option<RawRow> {
        match event.get(field) {
            Some(Bson::Document(doc)) => Some(row_of(doc)),
            _ => None,
        }
    };
    let after = image("fullDocument");
    if kind == ChangeKind::Update && after.is_none() {
        return Err(protocol(
            "an update without `fullDocument`: open the change stream with \
             `fullDocument: \"updateLookup\"` (or \"required\")"
                .into(),
        ));
    }
    let before = image("fullDocumentBeforeChange").or_else(|| match kind {
        ChangeKind::Insert => None,
        _ => image("documentKey"),
    });
    Ok(Some(RawChange {
        meta: ChangeMeta {
            position: Position::ResumeToken(token.to_owned()),
            transaction_id,
            commit_time_micros,
            schema: ns.get_str("db").unwrap_or_default().to_owned(),
            table: ns.get_str("coll").unwrap_or_default().to_owned(),
        },
        kind,
        before,
        after: if kind == ChangeKind::Delete {
            None
        } else {
            after
        },
    }))
}

/// A document's fields as a row image.
fn row_of(doc: &Document) -> RawRow {
    RawRow {
        columns: doc
            .iter()
            .map(|(name, value)| (name.clone(), raw_value(value)))
            .collect(),
    }
}

fn raw_value(value: &Bson) -> RawValue {
    match value {
        Bson::Null | Bson::Undefined => RawValue::Null,
        Bson::Boolean(b) => RawValue::Bool(*b),
        Bson::Int32(i) => RawValue::Int(i64::from(*i)),
        Bson::Int64(i) => RawValue::Int(*i),
        Bson::Double(f) => RawValue::Float(*f),
        Bson::String(s) => RawValue::Text(s.clone()),
        Bson::Decimal128(d) => RawValue::Text(d.to_string()),
        Bson::DateTime(at) => RawValue::Instant(at.timestamp_millis() * 1000),
        Bson::ObjectId(oid) => RawValue::ObjectId(oid.bytes()),
        Bson::Binary(binary) => RawValue::Bytes(binary.bytes.clone()),
        Bson::Timestamp(ts) => RawValue::Int(i64::from(ts.time)),
        Bson::Document(_) | Bson::Array(_) => json(value).map_or(RawValue::Null, RawValue::Json),
        // Regexes, code, symbols, min/max keys: no model column type holds them.
        other => RawValue::Text(other.to_string()),
    }
}

/// A sub-document or array as JSON, with the ORM's escaped keys restored (as the ORM reads a
/// JSON column on MongoDB); `None` for BSON that is not JSON (the ORM never writes it there).
fn json(value: &Bson) -> Option<serde_json::Value> {
    use serde_json::Value as J;
    Some(match value {
        Bson::Null | Bson::Undefined => J::Null,
        Bson::Boolean(b) => J::Bool(*b),
        Bson::Int32(i) => J::from(*i),
        Bson::Int64(i) => J::from(*i),
        Bson::Double(f) => J::Number(serde_json::Number::from_f64(*f)?),
        Bson::Decimal128(d) => serde_json::from_str(&d.to_string()).ok()?,
        Bson::String(s) => J::String(s.clone()),
        Bson::Array(items) => J::Array(items.iter().map(json).collect::<Option<_>>()?),
        Bson::Document(doc) => J::Object(
            doc.iter()
                .map(|(key, item)| {
                    let key = polyorm_core::mongo::unescape_json_key(key);
                    Some((key.to_owned(), json(item)?))
                })
                .collect::<Option<_>>()?,
        ),
        _ => return None,
    })
}

/// The collection where acknowledged resume tokens are recorded, one document per consumer.
pub const POSITION_COLLECTION: &str = "orm_change_positions";

/// A MongoDB database read through a change stream by one named consumer (needs a replica
/// set or a sharded cluster: standalone servers have no change streams).
#[derive(Debug, Clone)]
pub struct MongoSource {
    url: String,
    database: String,
    consumer: String,
}

impl MongoSource {
    /// The database `database` of the deployment at `url`, read for `consumer` (its resume
    /// token is recorded under that name in [`POSITION_COLLECTION`]).
    pub fn new(
        url: impl Into<String>,
        database: impl Into<String>,
        consumer: impl Into<String>,
    ) -> Self {
        MongoSource {
            url: url.into(),
            database: database.into(),
            consumer: consumer.into(),
        }
    }
}

fn driver_error(e: mongodb::error::Error) -> Error {
    let text = e.to_string();
    if text.contains("only supported on replica sets") || text.contains("40573") {
        Error::NotConfigured {
            setting: "replication.replSetName",
            message: format!(
                "change streams need a replica set or a sharded cluster ({text}); start mongod \
                 with `--replSet <name>` and run `rs.initiate()`"
            ),
        }
    } else {
        protocol(text)
    }
}

impl crate::source::ChangeSource for MongoSource {
    fn backend(&self) -> polyorm_core::exec::Backend {
        polyorm_core::exec::Backend::MongoDb
    }

    fn open(
        &self,
        tables: Vec<crate::source::TableRef>,
    ) -> crate::source::BoxFuture<'_, Result<crate::source::Opened>> {
        Box::pin(async move {
            use mongodb::options::{FullDocumentBeforeChangeType, FullDocumentType};
            let client = mongodb::Client::with_uri_str(&self.url)
                .await
                .map_err(driver_error)?;
            let db = client.database(&self.database);
            let positions = db.collection::<Document>(POSITION_COLLECTION);
            let stored = positions
                .find_one(bson::doc! { "_id": &self.consumer })
                .await
                .map_err(driver_error)?;
            let resume = match stored.as_ref().and_then(|d| d.get_str("position").ok()) {
                Some(token) => Some(
                    bson::deserialize_from_bson::<mongodb::change_stream::event::ResumeToken>(
                        Bson::Document(bson::doc! { "_data": token }),
                    )
                    .map_err(|e| protocol(format!("stored resume token `{token}`: {e}")))?,
                ),
                None => None,
            };
            let names: Vec<&str> = tables.iter().map(|t| t.table.as_str()).collect();
            let stream = db
                .watch()
                .pipeline([bson::doc! { "$match": { "ns.coll": { "$in": names } } }])
                .full_document(FullDocumentType::UpdateLookup)
                .full_document_before_change(FullDocumentBeforeChangeType::WhenAvailable)
                .max_await_time(std::time::Duration::from_millis(200))
                .resume_after(resume)
                .await
                .map_err(driver_error)?
                .with_type::<Document>();
            let acker = MongoAcker {
                positions,
                consumer: self.consumer.clone(),
            };
            Ok((
                Box::new(MongoReader { stream }) as Box<dyn crate::source::Reader>,
                std::sync::Arc::new(acker) as std::sync::Arc<dyn crate::source::Acknowledger>,
            ))
        })
    }
}

struct MongoReader {
    stream: mongodb::change_stream::ChangeStream<Document>,
}

impl crate::source::Reader for MongoReader {
    fn next_batch(&mut self, max: usize) -> crate::source::BoxFuture<'_, Result<Vec<RawChange>>> {
        Box::pin(async move {
            let mut out = Vec::new();
            // `next_if_any` returns after one getMore (at most `max_await_time`) when idle.
            while out.len() < max {
                match self.stream.next_if_any().await.map_err(driver_error)? {
                    Some(event) => out.extend(decode_event(&event)?),
                    None => break,
                }
            }
            Ok(out)
        })
    }
}

struct MongoAcker {
    positions: mongodb::Collection<Document>,
    consumer: String,
}

impl crate::source::Acknowledger for MongoAcker {
    fn ack<'a>(&'a self, position: &'a Position) -> crate::source::BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let Position::ResumeToken(token) = position else {
                return Err(Error::BadPosition(position.to_string()));
            };
            self.positions
                .update_one(
                    bson::doc! { "_id": &self.consumer },
                    bson::doc! { "$set": { "position": token } },
                )
                .upsert(true)
                .await
                .map_err(driver_error)?;
            Ok(())
        })
    }
}
