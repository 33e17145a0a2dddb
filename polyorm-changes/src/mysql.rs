//! MariaDB/MySQL: the row-based binlog, read as a replica does (`mysql_async`'s binlog
//! client), with acknowledged positions recorded in a table of the same database.
//!
//! Server setup: `log_bin` on, `binlog_format=ROW`, `binlog_row_metadata=FULL` (row events then
//! name their columns), a `server_id`; `binlog_row_image=FULL` for `before` images (with
//! `MINIMAL`, deletes carry only the key and updates have `before: None`). The user needs the
//! `REPLICATION SLAVE` and `REPLICATION CLIENT` privileges.
//!
//! The server keeps binlog files for `binlog_expire_logs_seconds` (`expire_logs_days`)
//! whatever consumers have read: a consumer stopped longer than that finds its position purged
//! and [`BinlogSource`] refuses to start rather than skip changes silently
//! ([`BinlogSource::retained_files`] lists what is there).

use std::sync::Arc;
use std::time::Duration;

use mysql_async::binlog::events::{EventData, RowsEventData, TableMapEvent};
use mysql_async::binlog::value::BinlogValue;
use mysql_async::prelude::Queryable;
use polyorm_core::exec::Backend;
use polyorm_core::{Db, Dialect, Executor, raw};

use crate::error::{Error, Result};
use crate::event::{ChangeKind, ChangeMeta, Position};
use crate::raw::{RawChange, RawRow, RawValue};
use crate::source::{Acknowledger, BoxFuture, ChangeSource, Opened, Reader, TableRef};

/// The table where acknowledged positions are recorded, one row per consumer.
pub const POSITION_TABLE: &str = "orm_change_positions";

/// A MariaDB/MySQL database read from its binlog by one named consumer.
#[derive(Debug, Clone)]
pub struct BinlogSource {
    url: String,
    consumer: String,
    server_id: u32,
    idle: Duration,
}

impl BinlogSource {
    /// The database at `url` (a `mysql://` URL), read for the consumer `consumer` (its
    /// position is recorded under that name). The reader registers as a replica with a server
    /// id derived from the name; set another with [`BinlogSource::server_id`] if it clashes.
    pub fn new(url: impl Into<String>, consumer: impl Into<String>) -> Self {
        let consumer = consumer.into();
        // FNV-1a of the name, kept away from the small ids servers usually have.
        let hash = consumer.bytes().fold(0x811c_9dc5_u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
        });
        BinlogSource {
            url: url.into(),
            consumer,
            server_id: 1_000_000 + hash % 1_000_000_000,
            idle: Duration::from_millis(50),
        }
    }

    /// The server id the reader registers with (unique among the server's replicas).
    pub fn server_id(mut self, id: u32) -> Self {
        self.server_id = id;
        self
    }

    /// The binlog files the server keeps now (`SHOW BINARY LOGS`), oldest first.
    pub async fn retained_files(&self) -> Result<Vec<String>> {
        let db = Db::connect(&self.url).await?;
        let files = binary_logs(&db).await;
        db.close().await;
        files
    }
}

async fn binary_logs(db: &Db) -> Result<Vec<String>> {
    let rows: Vec<(String, u64)> = raw("SHOW BINARY LOGS").fetch_all(db).await.map_err(|e| {
        if e.to_string().contains("not using binary logging") {
            not_logging()
        } else {
            Error::Orm(e)
        }
    })?;
    Ok(rows.into_iter().map(|(name, _)| name).collect())
}

fn not_logging() -> Error {
    Error::NotConfigured {
        setting: "log_bin",
        message: "the server does not write a binlog; start it with `--log-bin` (and \
                  `--binlog-format=ROW`, `--server-id=N`)"
            .into(),
    }
}

/// Checks the settings row-based change capture needs, with errors naming them.
async fn check_server(db: &Db) -> Result<()> {
    let rows: Vec<(i64, String, String)> =
        raw("SELECT @@log_bin, @@binlog_format, @@binlog_row_metadata")
            .fetch_all(db)
            .await
            .map_err(|e| {
                if e.to_string().contains("binlog_row_metadata") {
                    Error::NotConfigured {
                        setting: "binlog_row_metadata",
                        message: "the server has no `binlog_row_metadata` (MariaDB 10.5+ and \
                                  MySQL 8.0+ have it): row events would not name their columns"
                            .into(),
                    }
                } else {
                    Error::Orm(e)
                }
            })?;
    let Some((log_bin, format, metadata)) = rows.into_iter().next() else {
        return Ok(());
    };
    if log_bin == 0 {
        return Err(not_logging());
    }
    if !format.eq_ignore_ascii_case("ROW") {
        return Err(Error::NotConfigured {
            setting: "binlog_format",
            message: format!(
                "`binlog_format` is `{format}`; change capture reads row events: set \
                 `binlog_format=ROW`"
            ),
        });
    }
    if !metadata.eq_ignore_ascii_case("FULL") {
        return Err(Error::NotConfigured {
            setting: "binlog_row_metadata",
            message: format!(
                "`binlog_row_metadata` is `{metadata}`; row events name their columns only with \
                 `binlog_row_metadata=FULL` (`SET GLOBAL binlog_row_metadata = FULL`)"
            ),
        });
    }
    Ok(())
}

impl ChangeSource for BinlogSource {
    fn backend(&self) -> Backend {
        Backend::Sql(Dialect::MySql)
    }

    fn open(&self, tables: Vec<TableRef>) -> BoxFuture<'_, Result<Opened>> {
        Box::pin(async move {
            let db = Db::connect(&self.url).await?;
            if db.backend() != Dialect::MySql {
                return Err(Error::NotConfigured {
                    setting: "url",
                    message: format!("`BinlogSource` needs a MySQL URL, not {}", db.backend()),
                });
            }
            check_server(&db).await?;
            raw(format!(
                "CREATE TABLE IF NOT EXISTS {POSITION_TABLE} (consumer VARCHAR(191) PRIMARY KEY, \
                 position TEXT NOT NULL, updated_at TIMESTAMP(6) NOT NULL DEFAULT \
                 CURRENT_TIMESTAMP(6) ON UPDATE CURRENT_TIMESTAMP(6))"
            ))
            .execute(&db)
            .await?;
            let stored: Vec<(String,)> = raw(format!(
                "SELECT position FROM {POSITION_TABLE} WHERE consumer = ?"
            ))
            .bind(self.consumer.as_str())
            .fetch_all(&db)
            .await?;
            let (start, delivered) = match stored.into_iter().next() {
                Some((text,)) => {
                    let position: Position = text.parse()?;
                    let Position::Binlog { file, offset, .. } = &position else {
                        return Err(Error::BadPosition(text));
                    };
                    if !binary_logs(&db).await?.contains(file) {
                        return Err(Error::NotConfigured {
                            setting: "binlog_expire_logs_seconds",
                            message: format!(
                                "the binlog file `{file}` of consumer `{}`'s last acknowledged \
                                 position was purged: changes since then are lost. Keep binlogs \
                                 longer than consumers may stop, and re-sync this consumer \
                                 (delete its row in `{POSITION_TABLE}` to start at the end)",
                                self.consumer
                            ),
                        });
                    }
                    ((file.clone(), *offset), Some(position))
                }
                None => {
                    let status: Vec<(String, u64)> = raw("SELECT * FROM (SHOW MASTER STATUS) s")
                        .fetch_all(&db)
                        .await
                        .or_else(|_| Ok::<_, Error>(Vec::new()))?;
                    match status.into_iter().next() {
                        Some(at) => (at, None),
                        None => (master_status(&self.url).await?, None),
                    }
                }
            };
            let reader = BinlogReader::connect(self, tables, start, delivered).await?;
            let acker = BinlogAcker {
                db,
                consumer: self.consumer.clone(),
            };
            Ok((
                Box::new(reader) as Box<dyn Reader>,
                Arc::new(acker) as Arc<dyn Acknowledger>,
            ))
        })
    }
}

/// `SHOW MASTER STATUS` (file and position of the binlog's end), through mysql_async: its
/// result has a variable number of columns across versions.
async fn master_status(url: &str) -> Result<(String, u64)> {
    let mut conn = connect(url).await?;
    let row: Option<mysql_async::Row> = conn
        .query_first("SHOW MASTER STATUS")
        .await
        .map_err(|e| binlog_error("SHOW MASTER STATUS", e))?;
    let _ = conn.disconnect().await;
    let row = row.ok_or_else(not_logging)?;
    let file: String = row.get(0).ok_or_else(not_logging)?;
    let offset: u64 = row.get(1).ok_or_else(not_logging)?;
    Ok((file, offset))
}

async fn connect(url: &str) -> Result<mysql_async::Conn> {
    let opts = mysql_async::Opts::from_url(url).map_err(|e| Error::NotConfigured {
        setting: "url",
        message: format!("`{url}` is not a MySQL URL: {e}"),
    })?;
    mysql_async::Conn::new(opts)
        .await
        .map_err(|e| binlog_error("connecting", e))
}

fn binlog_error(what: &str, e: impl std::fmt::Display) -> Error {
    Error::Protocol {
        source_name: "binlog",
        message: format!("{what}: {e}"),
    }
}

struct BinlogAcker {
    db: Db,
    consumer: String,
}

impl Acknowledger for BinlogAcker {
    fn ack<'a>(&'a self, position: &'a Position) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if !matches!(position, Position::Binlog { .. }) {
                return Err(Error::BadPosition(position.to_string()));
            }
            raw(format!(
                "INSERT INTO {POSITION_TABLE} (consumer, position) VALUES (?, ?) \
                 ON DUPLICATE KEY UPDATE position = VALUES(position)"
            ))
            .bind(self.consumer.as_str())
            .bind(position.to_string())
            .execute(&self.db)
            .await?;
            Ok(())
        })
    }
}

/// A transaction being assembled from row events.
struct OpenTxn {
    start: u64,
    changes: Vec<RawChange>,
}

struct BinlogReader {
    url: String,
    server_id: u32,
    tables: Vec<TableRef>,
    stream: Option<mysql_async::BinlogStream>,
    /// Where the next transaction starts (file, offset): after the last commit seen.
    file: String,
    boundary: u64,
    open: Option<OpenTxn>,
    delivered: Option<Position>,
    idle: Duration,
}

impl BinlogReader {
    async fn connect(
        source: &BinlogSource,
        tables: Vec<TableRef>,
        (file, offset): (String, u64),
        delivered: Option<Position>,
    ) -> Result<Self> {
        let mut reader = BinlogReader {
            url: source.url.clone(),
            server_id: source.server_id,
            tables,
            stream: None,
            file,
            boundary: offset,
            open: None,
            delivered,
            idle: source.idle,
        };
        reader.reconnect().await?;
        Ok(reader)
    }

    /// (Re)starts the binlog dump at the last transaction boundary.
    async fn reconnect(&mut self) -> Result<()> {
        if let Some(stream) = self.stream.take() {
            let _ = stream.close().await;
        }
        self.open = None;
        let conn = connect(&self.url).await?;
        let request = mysql_async::BinlogStreamRequest::new(self.server_id)
            .with_filename(self.file.as_bytes())
            .with_pos(self.boundary);
        self.stream = Some(
            conn.get_binlog_stream(request)
                .await
                .map_err(|e| binlog_error("requesting the binlog", e))?,
        );
        Ok(())
    }

    fn wants(&self, database: &str, table: &str) -> bool {
        self.tables.iter().any(|t| {
            t.table == table && t.schema.as_deref().is_none_or(|schema| schema == database)
        })
    }

    /// Handles one event; returns the changes of a transaction it completed.
    fn handle(&mut self, event: mysql_async::binlog::events::Event) -> Result<Vec<RawChange>> {
        let end = u64::from(event.header().log_pos());
        let timestamp = i64::from(event.header().timestamp()) * 1_000_000;
        let data = event
            .read_data()
            .map_err(|e| binlog_error("reading an event", e))?;
        let stream = self.stream.as_ref();
        match data {
            Some(EventData::RotateEvent(rotate)) => {
                // The first (artificial) rotate event names the file asked for, and arrives
                // before the server announced its checksums: its name may carry the checksum's
                // bytes. Later rotates name the next file.
                if !rotate.name_raw().starts_with(self.file.as_bytes()) {
                    self.file = rotate.name().into_owned();
                }
                self.boundary = rotate.position();
            }
            Some(EventData::RowsEvent(rows)) => {
                let Some(tme) = stream.and_then(|s| s.get_tme(rows.table_id())) else {
                    return Err(binlog_error("a row event", "no table map for its table id"));
                };
                let (database, table) = (tme.database_name(), tme.table_name());
                if !self.wants(&database, &table) {
                    return Ok(Vec::new());
                }
                let changes = decode_rows(&rows, tme, &database, &table, timestamp)?;
                let start = self.boundary;
                self.open
                    .get_or_insert_with(|| OpenTxn {
                        start,
                        changes: Vec::new(),
                    })
                    .changes
                    .extend(changes);
            }
            Some(EventData::XidEvent(xid)) => {
                let finished = self.finish(Some(xid.xid.to_string()), timestamp);
                if end > 0 {
                    self.boundary = end;
                }
                return Ok(finished);
            }
            Some(EventData::QueryEvent(query)) => {
                let sql = query.query();
                // `BEGIN` opens a transaction; `COMMIT` ends one of a non-transactional engine;
                // DDL commits implicitly.
                if !sql.eq_ignore_ascii_case("BEGIN") {
                    let mut finished = self.finish(None, timestamp);
                    let start = self.boundary;
                    if end > 0 {
                        self.boundary = end;
                    }
                    // TRUNCATE is logged as its statement (always, whatever binlog_format).
                    if let Some((database, table)) = truncated_table(&sql, &query.schema())
                        && self.wants(&database, &table)
                    {
                        let position = Position::Binlog {
                            file: self.file.clone(),
                            offset: start,
                            index: 0,
                        };
                        if self.delivered.as_ref().is_none_or(|d| position > *d) {
                            self.delivered = Some(position.clone());
                            finished.push(RawChange {
                                meta: ChangeMeta {
                                    position,
                                    transaction_id: None,
                                    commit_time_micros: Some(timestamp),
                                    schema: database,
                                    table,
                                },
                                kind: ChangeKind::Truncate,
                                before: None,
                                after: None,
                            });
                        }
                    }
                    return Ok(finished);
                }
            }
            _ => {}
        }
        Ok(Vec::new())
    }

    /// Closes the open transaction: positions, commit time, and only what follows `delivered`.
    fn finish(&mut self, xid: Option<String>, timestamp: i64) -> Vec<RawChange> {
        let Some(txn) = self.open.take() else {
            return Vec::new();
        };
        let mut out = Vec::with_capacity(txn.changes.len());
        for (index, mut change) in txn.changes.into_iter().enumerate() {
            change.meta.position = Position::Binlog {
                file: self.file.clone(),
                offset: txn.start,
                index: u32::try_from(index).unwrap_or(u32::MAX),
            };
            change.meta.transaction_id = xid.clone();
            change.meta.commit_time_micros = Some(timestamp);
            if self
                .delivered
                .as_ref()
                .is_none_or(|d| change.meta.position > *d)
            {
                out.push(change);
            }
        }
        if let Some(last) = out.last() {
            self.delivered = Some(last.meta.position.clone());
        }
        out
    }
}

impl Reader for BinlogReader {
    fn next_batch(&mut self, max: usize) -> BoxFuture<'_, Result<Vec<RawChange>>> {
        Box::pin(async move {
            if self.stream.is_none() {
                self.reconnect().await?;
            }
            let mut out = Vec::new();
            // Events come as the server writes them: wait for the first for a while, then
            // take what is there without waiting, up to `max` changes.
            while out.len() < max {
                let wait = if out.is_empty() {
                    self.idle * 20
                } else {
                    Duration::from_millis(0)
                };
                let stream = self.stream.as_mut().expect("connected above");
                let next = std::future::poll_fn(|cx| {
                    futures_core::Stream::poll_next(std::pin::Pin::new(&mut *stream), cx)
                });
                let event = match tokio::time::timeout(wait, next).await {
                    Err(_) => break,
                    Ok(None) => {
                        self.stream = None;
                        return Err(binlog_error(
                            "reading",
                            "the server closed the binlog stream",
                        ));
                    }
                    Ok(Some(Err(e))) => {
                        // Start again at the last transaction boundary on the next call.
                        self.stream = None;
                        return Err(binlog_error("reading", e));
                    }
                    Ok(Some(Ok(event))) => event,
                };
                out.extend(self.handle(event)?);
            }
            Ok(out)
        })
    }
}

/// The `(database, table)` a `TRUNCATE [TABLE] name` statement empties (`default_database` for
/// an unqualified name), or `None` for any other statement.
fn truncated_table(sql: &str, default_database: &str) -> Option<(String, String)> {
    let mut rest = skip_space_and_comments(sql);
    rest = keyword(rest, "TRUNCATE")?;
    rest = keyword(rest, "TABLE").unwrap_or(rest);
    let (first, after) = identifier(rest)?;
    let after = skip_space_and_comments(after);
    let (database, table, after) = match after.strip_prefix('.') {
        Some(name) => {
            let (table, after) = identifier(skip_space_and_comments(name))?;
            (first, table, after)
        }
        None => (default_database.to_owned(), first, after),
    };
    let after = skip_space_and_comments(after);
    (after.is_empty() || after == ";").then_some((database, table))
}

fn skip_space_and_comments(mut sql: &str) -> &str {
    loop {
        sql = sql.trim_start();
        if let Some(comment) = sql.strip_prefix("/*") {
            sql = comment.split_once("*/").map_or("", |(_, rest)| rest);
        } else if let Some(comment) = sql.strip_prefix("-- ").or_else(|| sql.strip_prefix('#')) {
            sql = comment.split_once('\n').map_or("", |(_, rest)| rest);
        } else {
            return sql;
        }
    }
}

/// `sql` after the keyword `word` (any case, followed by a space, a comment or the end).
fn keyword<'s>(sql: &'s str, word: &str) -> Option<&'s str> {
    let head = sql.get(..word.len())?;
    let rest = &sql[word.len()..];
    let ends = rest.is_empty() || rest.starts_with(|c: char| c.is_whitespace() || c == '/');
    (head.eq_ignore_ascii_case(word) && ends).then(|| skip_space_and_comments(rest))
}

/// A bare or backquoted identifier (with `` ` `` doubled inside), and what follows it.
fn identifier(sql: &str) -> Option<(String, &str)> {
    if let Some(quoted) = sql.strip_prefix('`') {
        let mut name = String::new();
        let mut chars = quoted.char_indices();
        while let Some((i, c)) = chars.next() {
            if c != '`' {
                name.push(c);
            } else if quoted[i + 1..].starts_with('`') {
                name.push('`');
                chars.next();
            } else {
                return Some((name, &quoted[i + 1..]));
            }
        }
        None
    } else {
        let end = sql
            .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
            .unwrap_or(sql.len());
        (end > 0).then(|| (sql[..end].to_owned(), &sql[end..]))
    }
}

/// The changes of one row event, with placeholders for what the commit fills in.
fn decode_rows(
    rows: &RowsEventData<'_>,
    tme: &TableMapEvent<'_>,
    database: &str,
    table: &str,
    timestamp: i64,
) -> Result<Vec<RawChange>> {
    let kind = match rows {
        RowsEventData::WriteRowsEvent(_) | RowsEventData::WriteRowsEventV1(_) => ChangeKind::Insert,
        RowsEventData::UpdateRowsEvent(_)
        | RowsEventData::UpdateRowsEventV1(_)
        | RowsEventData::PartialUpdateRowsEvent(_) => ChangeKind::Update,
        RowsEventData::DeleteRowsEvent(_) | RowsEventData::DeleteRowsEventV1(_) => {
            ChangeKind::Delete
        }
    };
    let names = column_names(tme)?;
    let mut out = Vec::new();
    for row in rows.rows(tme) {
        let (before, after) = row.map_err(|e| binlog_error("a row", e))?;
        let image = |row: Option<mysql_async::binlog::row::BinlogRow>| -> Result<Option<RawRow>> {
            let Some(row) = row else { return Ok(None) };
            let mut image = RawRow::default();
            for (index, name) in names.iter().enumerate() {
                // Columns left out of a MINIMAL image are absent.
                let Some(value) = row.as_ref(index) else {
                    continue;
                };
                let column_type = tme.get_column_type(index).ok().flatten();
                image
                    .columns
                    .push((name.clone(), raw_value(value, column_type)));
            }
            Ok(Some(image))
        };
        out.push(RawChange {
            meta: ChangeMeta {
                position: Position::Binlog {
                    file: String::new(),
                    offset: 0,
                    index: 0,
                },
                transaction_id: None,
                commit_time_micros: Some(timestamp),
                schema: database.to_owned(),
                table: table.to_owned(),
            },
            kind,
            before: image(before)?,
            after: image(after)?,
        });
    }
    Ok(out)
}

/// The column names of a table map event (`binlog_row_metadata=FULL`).
fn column_names(tme: &TableMapEvent<'_>) -> Result<Vec<String>> {
    use mysql_async::binlog::events::OptionalMetadataField;
    for field in tme.iter_optional_meta() {
        if let Ok(OptionalMetadataField::ColumnName(names)) = field {
            return names
                .iter_names()
                .map(|name| {
                    name.map(|n| n.name().into_owned())
                        .map_err(|e| binlog_error("column names", e))
                })
                .collect();
        }
    }
    Err(Error::NotConfigured {
        setting: "binlog_row_metadata",
        message: format!(
            "row events of `{}` do not name their columns: set `binlog_row_metadata=FULL`",
            tme.table_name()
        ),
    })
}

fn raw_value(
    value: &BinlogValue<'_>,
    column_type: Option<mysql_async::consts::ColumnType>,
) -> RawValue {
    use mysql_async::Value;
    use mysql_async::consts::ColumnType as T;
    match value {
        BinlogValue::Value(Value::NULL) => RawValue::Null,
        BinlogValue::Value(Value::Int(i)) => match column_type {
            // TIMESTAMP: seconds since the epoch.
            Some(T::MYSQL_TYPE_TIMESTAMP) => RawValue::Instant(i * 1_000_000),
            _ => RawValue::Int(*i),
        },
        BinlogValue::Value(Value::UInt(u)) => RawValue::UInt(*u),
        BinlogValue::Value(Value::Float(f)) => RawValue::Float(f64::from(*f)),
        BinlogValue::Value(Value::Double(f)) => RawValue::Float(*f),
        BinlogValue::Value(Value::Bytes(bytes)) => match column_type {
            // TIMESTAMP(n): `seconds[.micros]` text.
            Some(T::MYSQL_TYPE_TIMESTAMP2) => {
                let text = String::from_utf8_lossy(bytes);
                let (secs, micros) = text.split_once('.').unwrap_or((&text, "0"));
                match (secs.parse::<i64>(), micros.parse::<i64>()) {
                    (Ok(s), Ok(us)) => RawValue::Instant(s * 1_000_000 + us),
                    _ => RawValue::Bytes(bytes.clone()),
                }
            }
            Some(
                T::MYSQL_TYPE_VARCHAR
                | T::MYSQL_TYPE_VAR_STRING
                | T::MYSQL_TYPE_STRING
                | T::MYSQL_TYPE_NEWDECIMAL
                | T::MYSQL_TYPE_DECIMAL,
            ) => match String::from_utf8(bytes.clone()) {
                Ok(text) => RawValue::Text(text),
                Err(_) => RawValue::Bytes(bytes.clone()),
            },
            _ => RawValue::Bytes(bytes.clone()),
        },
        BinlogValue::Value(Value::Date(y, m, d, h, mi, s, us)) => RawValue::Text(format!(
            "{y:04}-{m:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}"
        )),
        BinlogValue::Value(Value::Time(negative, days, h, mi, s, us)) => RawValue::Text(format!(
            "{}{:02}:{mi:02}:{s:02}.{us:06}",
            if *negative { "-" } else { "" },
            u32::from(*h) + days * 24
        )),
        BinlogValue::Jsonb(json) => serde_json::Value::try_from(json.clone())
            .map(RawValue::Json)
            .unwrap_or(RawValue::Null),
        BinlogValue::JsonDiff(_) => RawValue::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::truncated_table;

    #[test]
    fn truncate_statements_name_their_table() {
        let t = |sql| truncated_table(sql, "app");
        let named = |db: &str, table: &str| Some((db.to_owned(), table.to_owned()));
        assert_eq!(t("TRUNCATE TABLE orders"), named("app", "orders"));
        assert_eq!(t("truncate orders;"), named("app", "orders"));
        assert_eq!(
            t("/* app */ TRUNCATE `shop`.`or``ders`"),
            named("shop", "or`ders")
        );
        assert_eq!(t("TRUNCATE TABLE shop . orders"), named("shop", "orders"));
        assert_eq!(t("TRUNCATE TABLE `a b`"), named("app", "a b"));
        assert_eq!(t("TRUNCATEx orders"), None);
        assert_eq!(t("DELETE FROM orders"), None);
        assert_eq!(t("TRUNCATE TABLE orders, other"), None);
        assert_eq!(t("TRUNCATE TABLE `unterminated"), None);
    }
}
