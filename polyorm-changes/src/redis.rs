//! Fan-out: each change published to Redis as JSON, for services that do not read the
//! database's log themselves: pub/sub (`PUBLISH <prefix>:<table>`, for listeners that are
//! connected) or streams (`XADD <prefix>:<table> MAXLEN ~ n`, kept for consumer groups).
//!
//! A change is acknowledged once Redis accepted it, so with streams the fan-out is
//! at-least-once too; pub/sub delivers only to subscribers connected at that moment.
//!
//! The message (`RawChange` as JSON):
//! `{"position":"pg:0/16B2F28:0","schema":"public","table":"orders","kind":"update",
//! "transaction_id":"745","commit_time_micros":1717000000000000,"before":{…},"after":{…}}`,
//! columns by name; bytes as lowercase hex, instants as epoch microseconds.

use redis::aio::ConnectionManager;

use crate::error::{Error, Result};
use crate::raw::{RawChange, RawRow, RawValue};
use crate::stream::ChangeStream;

/// Where changes go.
#[derive(Debug, Clone)]
pub enum Target {
    /// `PUBLISH <prefix>:<table> <json>`.
    PubSub {
        /// Channel prefix.
        prefix: String,
    },
    /// `XADD <prefix>:<table> MAXLEN ~ <max_len> * change <json>`.
    Stream {
        /// Stream key prefix.
        prefix: String,
        /// About how many entries each stream keeps.
        max_len: usize,
    },
}

/// Publishes changes to Redis.
#[derive(Clone)]
pub struct Publisher {
    conn: ConnectionManager,
    target: Target,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Publisher")
            .field("target", &self.target)
            .finish()
    }
}

fn redis_error(e: redis::RedisError) -> Error {
    Error::Protocol {
        source_name: "redis",
        message: e.to_string(),
    }
}

impl Publisher {
    /// Connects to the Redis at `url` (reconnecting as needed).
    pub async fn connect(url: &str, target: Target) -> Result<Self> {
        let client = redis::Client::open(url).map_err(|e| Error::NotConfigured {
            setting: "url",
            message: format!("`{url}` is not a Redis URL: {e}"),
        })?;
        let conn = client.get_connection_manager().await.map_err(redis_error)?;
        Ok(Publisher { conn, target })
    }

    /// Publishes one change.
    pub async fn publish(&self, change: &RawChange) -> Result<()> {
        let payload = to_json(change).to_string();
        let mut conn = self.conn.clone();
        match &self.target {
            Target::PubSub { prefix } => {
                redis::cmd("PUBLISH")
                    .arg(format!("{prefix}:{}", change.meta.table))
                    .arg(payload)
                    .query_async::<i64>(&mut conn)
                    .await
                    .map_err(redis_error)?;
            }
            Target::Stream { prefix, max_len } => {
                redis::cmd("XADD")
                    .arg(format!("{prefix}:{}", change.meta.table))
                    .arg("MAXLEN")
                    .arg("~")
                    .arg(*max_len)
                    .arg("*")
                    .arg("change")
                    .arg(payload)
                    .query_async::<String>(&mut conn)
                    .await
                    .map_err(redis_error)?;
            }
        }
        Ok(())
    }
}

impl ChangeStream<RawChange> {
    /// Consumes the stream on a task of its own: each change is published, then
    /// acknowledged. A change Redis refused is retried (every 200 ms) before the next one, so
    /// order is kept and nothing is skipped; errors are logged (`tracing`).
    pub fn publish(mut self, publisher: Publisher) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            while let Some(item) = self.next().await {
                let change = match item {
                    Ok(change) => change,
                    Err(e) => {
                        tracing::warn!(error = %e, "redis fan-out: change stream error");
                        continue;
                    }
                };
                while let Err(e) = publisher.publish(&change).await {
                    tracing::warn!(error = %e, "redis fan-out: publishing failed, retrying");
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                if let Err(e) = self.ack(&change.meta.position).await {
                    tracing::warn!(error = %e, "redis fan-out: acknowledging failed");
                }
            }
        })
    }
}

/// The JSON message of a change.
pub fn to_json(change: &RawChange) -> serde_json::Value {
    let row = |row: &Option<RawRow>| match row {
        None => serde_json::Value::Null,
        Some(row) => serde_json::Value::Object(
            row.columns
                .iter()
                .map(|(name, value)| (name.clone(), value_json(value)))
                .collect(),
        ),
    };
    serde_json::json!({
        "position": change.meta.position.to_string(),
        "schema": change.meta.schema,
        "table": change.meta.table,
        "kind": change.kind.as_str(),
        "transaction_id": change.meta.transaction_id,
        "commit_time_micros": change.meta.commit_time_micros,
        "before": row(&change.before),
        "after": row(&change.after),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn value_json(value: &RawValue) -> serde_json::Value {
    use serde_json::Value as J;
    match value {
        RawValue::Null => J::Null,
        RawValue::Bool(b) => J::Bool(*b),
        RawValue::Int(i) => J::from(*i),
        RawValue::UInt(u) => J::from(*u),
        RawValue::Float(f) => serde_json::Number::from_f64(*f).map_or(J::Null, J::Number),
        RawValue::Text(t) => J::String(t.clone()),
        RawValue::Bytes(b) => J::String(hex(b)),
        RawValue::Instant(micros) => J::from(*micros),
        RawValue::Json(j) => j.clone(),
        RawValue::ObjectId(b) => J::String(hex(b)),
    }
}
