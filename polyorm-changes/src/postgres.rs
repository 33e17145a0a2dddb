//! PostgreSQL: logical decoding through a replication slot with the `wal2json` output plugin,
//! read over the ORM's own driver (`pg_logical_slot_peek_changes`), acknowledged by advancing
//! the slot (`pg_replication_slot_advance`) and recording the exact position in a table.
//!
//! Server setup: `wal_level = logical`, `max_replication_slots >= 1`, the `wal2json` plugin
//! (Debian: `postgresql-15-wal2json`). For `before` images of updates and deletes, set
//! `ALTER TABLE … REPLICA IDENTITY FULL`; without it, deletes carry only the key and updates
//! have `before: None`.
//!
//! A slot keeps every WAL segment from its oldest unacknowledged change: a consumer that stops
//! acknowledging (or a slot nobody reads) makes the server keep WAL without bound.
//! [`PgSource::retained_wal_bytes`] tells how much, [`PgSource::warn_retained_above`] logs a
//! warning, and [`PgSource::drop_slot`] removes a slot no longer used.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use polyorm_core::exec::Backend;
use polyorm_core::{Db, Dialect, raw};

use crate::decode::text_to_micros;
use crate::error::{Error, Result};
use crate::event::{ChangeKind, ChangeMeta, Position, format_lsn, parse_lsn};
use crate::raw::{RawChange, RawRow, RawValue};
use crate::source::{Acknowledger, BoxFuture, ChangeSource, Opened, Reader, TableRef};

/// The table where acknowledged positions are recorded, one row per slot.
pub const POSITION_TABLE: &str = "orm_change_positions";

/// A PostgreSQL database read through one logical replication slot.
///
/// One slot serves one consumer (one stream at a time): give each consumer its own slot name.
#[derive(Debug, Clone)]
pub struct PgSource {
    url: String,
    slot: String,
    poll: Duration,
    warn_retained: Option<i64>,
    release_wait: Duration,
}

impl PgSource {
    /// The database at `url`, read through the slot `slot` (created on first use).
    pub fn new(url: impl Into<String>, slot: impl Into<String>) -> Self {
        PgSource {
            url: url.into(),
            slot: slot.into(),
            poll: Duration::from_millis(10),
            warn_retained: None,
            release_wait: Duration::from_secs(10),
        }
    }

    /// How long the reader waits before looking again when no change is there (default
    /// 10 ms): half of it is the average added latency, each look is one short statement.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll = interval;
        self
    }

    /// Logs a `tracing` warning (about once a minute) while the slot retains more than
    /// `bytes` of WAL, i.e. while acknowledgements lag that far behind.
    pub fn warn_retained_above(mut self, bytes: i64) -> Self {
        self.warn_retained = Some(bytes);
        self
    }

    /// How long [`PgSource::drop_slot`] waits for another session to let go of the slot
    /// (default 10 s): a stream just dropped holds it until the server sees its connection close.
    pub fn release_wait(mut self, wait: Duration) -> Self {
        self.release_wait = wait;
        self
    }

    /// The slot's name.
    pub fn slot(&self) -> &str {
        &self.slot
    }

    async fn connect(&self) -> Result<Db> {
        let db = Db::connect(&self.url).await?;
        let backend = polyorm_core::Executor::backend(&db);
        if backend != Dialect::Postgres {
            return Err(Error::NotConfigured {
                setting: "url",
                message: format!("`PgSource` needs a PostgreSQL URL, not {backend}"),
            });
        }
        Ok(db)
    }

    /// WAL bytes the slot keeps the server from recycling (`None` if the slot does not exist).
    pub async fn retained_wal_bytes(&self) -> Result<Option<i64>> {
        let db = self.connect().await?;
        let bytes = retained(&db, &self.slot).await;
        db.close().await;
        bytes
    }

    /// Drops the slot (and its recorded position): the server stops retaining WAL for it.
    ///
    /// A stream just dropped may still hold the slot for a moment (its session ends when the
    /// server sees the connection close), so this waits up to [`PgSource::release_wait`] for the
    /// slot to be released; a slot still held after that is [`Error::SlotInUse`].
    pub async fn drop_slot(&self) -> Result<()> {
        let db = self.connect().await?;
        let deadline = Instant::now() + self.release_wait;
        loop {
            let holders: Vec<(Option<i32>,)> =
                raw("SELECT active_pid FROM pg_replication_slots WHERE slot_name = ?")
                    .bind(self.slot.as_str())
                    .fetch_all(&db)
                    .await?;
            let holder = holders.into_iter().next().and_then(|(pid,)| pid);
            let Some(pid) = holder else { break };
            if Instant::now() >= deadline {
                db.close().await;
                return Err(Error::SlotInUse {
                    slot: self.slot.clone(),
                    pid,
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        raw("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = ?")
            .bind(self.slot.as_str())
            .execute(&db)
            .await?;
        if table_exists(&db).await? {
            raw(format!("DELETE FROM {POSITION_TABLE} WHERE consumer = ?"))
                .bind(self.slot.as_str())
                .execute(&db)
                .await?;
        }
        db.close().await;
        Ok(())
    }
}

async fn retained(db: &Db, slot: &str) -> Result<Option<i64>> {
    let rows: Vec<(Option<i64>,)> = raw(
        "SELECT (pg_current_wal_lsn() - restart_lsn)::bigint FROM pg_replication_slots \
         WHERE slot_name = ?",
    )
    .bind(slot)
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().next().and_then(|(b,)| b))
}

async fn table_exists(db: &Db) -> Result<bool> {
    let rows: Vec<(bool,)> = raw("SELECT to_regclass(?) IS NOT NULL")
        .bind(POSITION_TABLE)
        .fetch_all(db)
        .await?;
    Ok(rows.first().is_some_and(|(b,)| *b))
}

/// Checks the server settings logical decoding needs, with errors that name them.
async fn check_server(db: &Db) -> Result<()> {
    let level: Vec<(String,)> = raw("SELECT current_setting('wal_level')")
        .fetch_all(db)
        .await?;
    let level = level.into_iter().next().map(|(l,)| l).unwrap_or_default();
    if level != "logical" {
        return Err(Error::NotConfigured {
            setting: "wal_level",
            message: format!(
                "`wal_level` is `{level}`; logical decoding needs `wal_level = logical` in \
                 postgresql.conf (or `ALTER SYSTEM SET wal_level = logical`) and a server restart"
            ),
        });
    }
    let slots: Vec<(String,)> = raw("SELECT current_setting('max_replication_slots')")
        .fetch_all(db)
        .await?;
    if slots.first().is_some_and(|(n,)| n == "0") {
        return Err(Error::NotConfigured {
            setting: "max_replication_slots",
            message: "`max_replication_slots` is 0; set it to at least 1 (one per consumer) and \
                      restart the server"
                .into(),
        });
    }
    Ok(())
}

/// Turns the server's refusals to create or read a wal2json slot into errors naming the fix.
fn explain(e: polyorm_core::Error) -> Error {
    let text = e.to_string();
    if text.contains("may not be used as an output plugin") {
        Error::NotConfigured {
            setting: "output_plugin_libraries",
            message: format!(
                "the server refuses wal2json as an output plugin ({text}); add `wal2json` to \
                 `output_plugin_libraries` and reload"
            ),
        }
    } else if text.contains("could not access file") && text.contains("wal2json") {
        Error::NotConfigured {
            setting: "wal2json",
            message: format!(
                "the wal2json plugin is not installed on the server ({text}); install it \
                 (Debian/Ubuntu: `apt-get install postgresql-<version>-wal2json`)"
            ),
        }
    } else if text.contains("all replication slots are in use") {
        Error::NotConfigured {
            setting: "max_replication_slots",
            message: format!(
                "{text}: raise `max_replication_slots` or drop unused slots (`pg_replication_slots`)"
            ),
        }
    } else {
        Error::Orm(e)
    }
}

impl ChangeSource for PgSource {
    fn backend(&self) -> Backend {
        Backend::Sql(Dialect::Postgres)
    }

    fn open(&self, tables: Vec<TableRef>) -> BoxFuture<'_, Result<Opened>> {
        Box::pin(async move {
            let db = self.connect().await?;
            check_server(&db).await?;
            let existing: Vec<(String, Option<String>)> = raw(
                "SELECT plugin::text, confirmed_flush_lsn::text FROM pg_replication_slots \
                 WHERE slot_name = ?",
            )
            .bind(self.slot.as_str())
            .fetch_all(&db)
            .await?;
            let confirmed = match existing.into_iter().next() {
                Some((plugin, _)) if plugin != "wal2json" => {
                    return Err(Error::NotConfigured {
                        setting: "slot",
                        message: format!(
                            "replication slot `{}` uses the `{plugin}` plugin; use another slot \
                             name or drop it",
                            self.slot
                        ),
                    });
                }
                Some((_, lsn)) => lsn.as_deref().and_then(parse_lsn).unwrap_or(0),
                None => {
                    let created: Vec<(String,)> = raw(
                        "SELECT lsn::text FROM pg_create_logical_replication_slot(?, 'wal2json')",
                    )
                    .bind(self.slot.as_str())
                    .fetch_all(&db)
                    .await
                    .map_err(explain)?;
                    created.first().and_then(|(l,)| parse_lsn(l)).unwrap_or(0)
                }
            };
            raw(format!(
                "CREATE TABLE IF NOT EXISTS {POSITION_TABLE} (consumer text PRIMARY KEY, \
                 position text NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())"
            ))
            .execute(&db)
            .await?;
            let stored: Vec<(String,)> = raw(format!(
                "SELECT position FROM {POSITION_TABLE} WHERE consumer = ?"
            ))
            .bind(self.slot.as_str())
            .fetch_all(&db)
            .await?;
            let delivered = match stored.into_iter().next() {
                Some((text,)) => Some(text.parse::<Position>()?),
                None => None,
            };
            let shared = Arc::new(Shared {
                db,
                slot: self.slot.clone(),
                slot_lock: tokio::sync::Mutex::new(()),
                txn_sizes: Mutex::new(BTreeMap::new()),
                advanced: Mutex::new(confirmed),
            });
            let reader = PgReader {
                shared: shared.clone(),
                add_tables: add_tables(&tables),
                tables,
                delivered,
                window: 0,
                poll: self.poll,
                warn_retained: self.warn_retained,
                last_retention_check: None,
            };
            Ok((
                Box::new(reader) as Box<dyn Reader>,
                shared as Arc<dyn Acknowledger>,
            ))
        })
    }
}

/// wal2json's `add-tables` option: `*.table` for each table (any schema), with wal2json's
/// escapes for `,`, `.` and `*` in names.
fn add_tables(tables: &[TableRef]) -> String {
    let escape = |s: &str| {
        s.chars()
            .flat_map(|c| {
                let escaped = matches!(c, ',' | '.' | '*' | '\\' | ' ');
                escaped
                    .then_some('\\')
                    .into_iter()
                    .chain(std::iter::once(c))
            })
            .collect::<String>()
    };
    tables
        .iter()
        .map(|t| match &t.schema {
            Some(schema) => format!("{}.{}", escape(schema), escape(&t.table)),
            None => format!("*.{}", escape(&t.table)),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// What the reader and the acknowledger share.
struct Shared {
    db: Db,
    slot: String,
    /// A slot is used by one session at a time: peeks and advances take turns.
    slot_lock: tokio::sync::Mutex<()>,
    /// Changes per transaction (by commit LSN) read but not yet acknowledged in full.
    txn_sizes: Mutex<BTreeMap<u64, u32>>,
    /// The slot's confirmed position.
    advanced: Mutex<u64>,
}

impl Acknowledger for Shared {
    fn ack<'a>(&'a self, position: &'a Position) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let Position::Postgres { commit_lsn, index } = *position else {
                return Err(Error::BadPosition(position.to_string()));
            };
            raw(format!(
                "INSERT INTO {POSITION_TABLE} (consumer, position) VALUES (?, ?) \
                 ON CONFLICT (consumer) DO UPDATE SET position = EXCLUDED.position, \
                 updated_at = now()"
            ))
            .bind(self.slot.as_str())
            .bind(position.to_string())
            .execute(&self.db)
            .await?;
            // The slot moves by whole transactions: to this one's commit if it was its last
            // change, else to the previous transaction's (whose changes were all acknowledged
            // before this one). The exact position is in the table.
            let target = {
                let sizes = self.txn_sizes.lock().unwrap_or_else(|e| e.into_inner());
                if sizes.get(&commit_lsn).is_some_and(|n| index + 1 >= *n) {
                    Some(commit_lsn)
                } else {
                    sizes.range(..commit_lsn).next_back().map(|(lsn, _)| *lsn)
                }
            };
            let Some(target) = target else {
                return Ok(());
            };
            if target <= *self.advanced.lock().unwrap_or_else(|e| e.into_inner()) {
                return Ok(());
            }
            let _turn = self.slot_lock.lock().await;
            raw("SELECT pg_replication_slot_advance(?, ?::pg_lsn)::text")
                .bind(self.slot.as_str())
                .bind(format_lsn(target))
                .execute(&self.db)
                .await?;
            *self.advanced.lock().unwrap_or_else(|e| e.into_inner()) = target;
            let mut sizes = self.txn_sizes.lock().unwrap_or_else(|e| e.into_inner());
            *sizes = sizes.split_off(&(target + 1));
            Ok(())
        })
    }
}

struct PgReader {
    shared: Arc<Shared>,
    tables: Vec<TableRef>,
    add_tables: String,
    /// The last position handed out (changes up to it are skipped when read again).
    delivered: Option<Position>,
    /// How many rows the next peek asks for (grows while everything read was delivered
    /// already but not acknowledged).
    window: usize,
    poll: Duration,
    warn_retained: Option<i64>,
    last_retention_check: Option<Instant>,
}

/// A transaction being assembled from wal2json's rows.
struct OpenTxn {
    xid: Option<String>,
    commit_time: Option<i64>,
    changes: Vec<RawChange>,
}

impl Reader for PgReader {
    fn next_batch(&mut self, max: usize) -> BoxFuture<'_, Result<Vec<RawChange>>> {
        Box::pin(async move {
            self.check_retention().await;
            self.window = self.window.max(max);
            loop {
                let rows = {
                    let _turn = self.shared.slot_lock.lock().await;
                    self.peek(self.window).await?
                };
                let read = rows.len();
                let changes = self.parse(rows)?;
                if let Some(last) = changes.last() {
                    self.delivered = Some(last.meta.position.clone());
                    return Ok(changes);
                }
                if read >= self.window {
                    // Everything in reach was delivered but is not acknowledged: read further.
                    self.window = self.window.saturating_mul(2);
                    continue;
                }
                tokio::time::sleep(self.poll).await;
                return Ok(Vec::new());
            }
        })
    }
}

impl PgReader {
    async fn peek(&self, window: usize) -> Result<Vec<(String, String)>> {
        if self.tables.is_empty() {
            return Ok(Vec::new());
        }
        raw(
            "SELECT lsn::text, data FROM pg_logical_slot_peek_changes(?, NULL, ?, \
             'format-version', '2', 'include-xids', '1', 'include-timestamp', '1', \
             'include-transaction', '1', 'add-tables', ?)",
        )
        .bind(self.shared.slot.as_str())
        .bind(i32::try_from(window).unwrap_or(i32::MAX))
        .bind(self.add_tables.as_str())
        .fetch_all(&self.shared.db)
        .await
        .map_err(explain)
    }

    /// wal2json rows (whole transactions) to changes after `delivered`.
    fn parse(&self, rows: Vec<(String, String)>) -> Result<Vec<RawChange>> {
        let protocol = |message: String| Error::Protocol {
            source_name: "wal2json",
            message,
        };
        let mut out = Vec::new();
        let mut open: Option<OpenTxn> = None;
        for (lsn, data) in rows {
            let record: Record<'_> =
                serde_json::from_str(&data).map_err(|e| protocol(format!("{e}: {data}")))?;
            match record.action {
                "B" => {
                    open = Some(OpenTxn {
                        xid: record.xid.map(|x| x.to_string()),
                        commit_time: record.timestamp.as_deref().and_then(text_to_micros),
                        changes: Vec::new(),
                    });
                }
                action @ ("I" | "U" | "D" | "T") => {
                    let txn = open.as_mut().ok_or_else(|| {
                        protocol(format!("a change outside a transaction: {data}"))
                    })?;
                    let kind = match action {
                        "I" => ChangeKind::Insert,
                        "U" => ChangeKind::Update,
                        "D" => ChangeKind::Delete,
                        _ => ChangeKind::Truncate,
                    };
                    txn.changes.push(RawChange {
                        meta: ChangeMeta {
                            position: Position::Postgres {
                                commit_lsn: 0,
                                index: 0,
                            },
                            transaction_id: txn.xid.clone(),
                            commit_time_micros: txn.commit_time,
                            schema: record.schema.unwrap_or_default(),
                            table: record.table.unwrap_or_default(),
                        },
                        kind,
                        before: record.identity.map(row_image).transpose()?,
                        after: record.columns.map(row_image).transpose()?,
                    });
                }
                "C" => {
                    let Some(txn) = open.take() else { continue };
                    let commit_lsn = parse_lsn(&lsn)
                        .ok_or_else(|| protocol(format!("bad commit LSN `{lsn}`")))?;
                    if txn.changes.is_empty() {
                        continue;
                    }
                    let count = u32::try_from(txn.changes.len()).unwrap_or(u32::MAX);
                    self.shared
                        .txn_sizes
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(commit_lsn, count);
                    for (index, mut change) in txn.changes.into_iter().enumerate() {
                        change.meta.position = Position::Postgres {
                            commit_lsn,
                            index: u32::try_from(index).unwrap_or(u32::MAX),
                        };
                        if self
                            .delivered
                            .as_ref()
                            .is_none_or(|d| change.meta.position > *d)
                        {
                            out.push(change);
                        }
                    }
                }
                // Logical messages are not changes of a model's rows.
                _ => {}
            }
        }
        Ok(out)
    }

    async fn check_retention(&mut self) {
        let Some(limit) = self.warn_retained else {
            return;
        };
        if self
            .last_retention_check
            .is_some_and(|at| at.elapsed() < Duration::from_secs(60))
        {
            return;
        }
        self.last_retention_check = Some(Instant::now());
        if let Ok(Some(bytes)) = retained(&self.shared.db, &self.shared.slot).await
            && bytes > limit
        {
            tracing::warn!(
                slot = %self.shared.slot,
                retained_bytes = bytes,
                "replication slot retains more WAL than the configured limit: acknowledge \
                 changes, or drop the slot if nobody reads it"
            );
        }
    }
}

/// One wal2json (format 2) row.
#[derive(serde::Deserialize)]
struct Record<'a> {
    #[serde(borrow)]
    action: &'a str,
    xid: Option<u64>,
    timestamp: Option<String>,
    schema: Option<String>,
    table: Option<String>,
    #[serde(borrow)]
    columns: Option<Vec<Column<'a>>>,
    #[serde(borrow)]
    identity: Option<Vec<Column<'a>>>,
}

/// A column of a wal2json row image; the value is kept as the JSON text the server wrote, so
/// that `numeric` digits are not rounded through a float.
#[derive(serde::Deserialize)]
struct Column<'a> {
    name: String,
    #[serde(rename = "type")]
    ty: String,
    #[serde(borrow)]
    value: Option<&'a serde_json::value::RawValue>,
}

/// A wal2json row image to a [`RawRow`].
fn row_image(columns: Vec<Column<'_>>) -> Result<RawRow> {
    let unreadable = |name: &str, text: &str| Error::Protocol {
        source_name: "wal2json",
        message: format!("value of `{name}` is not readable: {text}"),
    };
    let mut row = RawRow {
        columns: Vec::with_capacity(columns.len()),
    };
    for column in columns {
        let text = column.value.map_or("null", |v| v.get());
        let value = match text {
            "null" => RawValue::Null,
            "true" => RawValue::Bool(true),
            "false" => RawValue::Bool(false),
            quoted if quoted.starts_with('"') => {
                let s: String =
                    serde_json::from_str(quoted).map_err(|_| unreadable(&column.name, quoted))?;
                // wal2json writes bytea as hex digits without the `\x`.
                if column.ty == "bytea" {
                    RawValue::Bytes(hex(&s).ok_or_else(|| unreadable(&column.name, quoted))?)
                } else {
                    RawValue::Text(s)
                }
            }
            // A number, exactly as written (integers, floats, numeric).
            number if !number.starts_with(['[', '{']) => RawValue::Text(number.to_owned()),
            other => RawValue::Json(
                serde_json::from_str(other).map_err(|_| unreadable(&column.name, other))?,
            ),
        };
        row.columns.push((column.name, value));
    }
    Ok(row)
}

fn hex(text: &str) -> Option<Vec<u8>> {
    let text = text.strip_prefix("\\x").unwrap_or(text);
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_tables_escapes_wal2json_separators() {
        let tables = [
            TableRef {
                schema: None,
                table: "users".into(),
            },
            TableRef {
                schema: Some("app".into()),
                table: "a.b,c".into(),
            },
        ];
        assert_eq!(add_tables(&tables), r"*.users,app.a\.b\,c");
    }

    #[test]
    fn row_images_keep_text_forms_and_decode_bytea() {
        let image = r#"[
            {"name": "id", "type": "integer", "value": 7},
            {"name": "t", "type": "numeric(30,20)", "value": 1.50000000000000000001},
            {"name": "b", "type": "bytea", "value": "0102ff"},
            {"name": "ok", "type": "boolean", "value": true},
            {"name": "n", "type": "text", "value": null}
        ]"#;
        let row = row_image(serde_json::from_str(image).unwrap()).unwrap();
        assert_eq!(row.get("id"), Some(&RawValue::Text("7".into())));
        assert_eq!(
            row.get("t"),
            Some(&RawValue::Text("1.50000000000000000001".into()))
        );
        assert_eq!(row.get("b"), Some(&RawValue::Bytes(vec![1, 2, 255])));
        assert_eq!(row.get("ok"), Some(&RawValue::Bool(true)));
        assert_eq!(row.get("n"), Some(&RawValue::Null));
    }
}
