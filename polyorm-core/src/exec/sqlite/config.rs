//! What a `sqlite:` URL asks for, and opening a connection to it with the ORM's settings.

use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::conn::SqliteConn;
use super::errors::from_rusqlite;
use crate::error::{Error, Result};

/// How long a statement waits for another connection's lock before
/// [`Error::LockTimeout`] (sqlx's default, which this driver replaced).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Prepared statements each connection keeps (sqlx's default).
const STATEMENT_CACHE: usize = 100;

/// A parsed `sqlite:` URL.
#[derive(Debug, Clone)]
pub(crate) struct SqliteConfig {
    /// The SQLite URI filename (`file:app.db?mode=ro`), query parameters passed through to
    /// SQLite (`mode`, `cache`, `immutable`, `vfs`).
    uri: String,
    /// One connection owns the database (`:memory:`, `mode=memory`).
    pub(crate) in_memory: bool,
    read_only: bool,
}

impl SqliteConfig {
    /// Reads `sqlite::memory:`, `sqlite://app.db`, `sqlite:///abs/app.db?mode=ro`, ….
    pub(crate) fn parse(url: &str) -> Result<Self> {
        let rest = url
            .strip_prefix("sqlite:")
            .ok_or_else(|| Error::Config(format!("`{url}` is not a `sqlite:` URL")))?;
        let rest = rest.strip_prefix("//").unwrap_or(rest);
        let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
        let params: Vec<(&str, &str)> = query
            .split('&')
            .filter(|kv| !kv.is_empty())
            .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
            .collect();
        let mode = params.iter().find(|(k, _)| *k == "mode").map(|(_, v)| *v);
        let in_memory = path == ":memory:" || mode == Some("memory");
        let uri = if path == ":memory:" {
            "file::memory:".to_owned()
        } else {
            format!("file:{path}")
        };
        let uri = if query.is_empty() {
            uri
        } else {
            format!("{uri}?{query}")
        };
        Ok(SqliteConfig {
            uri,
            in_memory,
            read_only: mode == Some("ro"),
        })
    }

    /// Opens a connection: created if missing, foreign keys enforced, `LIKE` case-sensitive
    /// (as on every dialect; `ilike` is the case-insensitive one), WAL for files; with the
    /// `audit` feature, the SHA-256 function the audit chain is appended with.
    pub(crate) fn open(&self) -> Result<SqliteConn> {
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_URI
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let opened =
            Connection::open_with_flags(&self.uri, flags).map_err(|e| Error::Connection {
                source: format!(
                    "cannot open the SQLite database `{}`: {e}; check that its directory \
                     exists and is writable",
                    self.uri
                )
                .into(),
            })?;
        opened.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        let mut pragmas =
            String::from("PRAGMA foreign_keys = ON; PRAGMA case_sensitive_like = ON;");
        if !self.in_memory && !self.read_only {
            // Readers never block the writer nor each other.
            pragmas.push_str(" PRAGMA journal_mode = WAL;");
        }
        opened.execute_batch(&pragmas).map_err(from_rusqlite)?;
        #[cfg(feature = "audit")]
        crate::audit::register_sqlite_functions(&opened).map_err(from_rusqlite)?;
        SqliteConn::new(opened, BUSY_TIMEOUT)
    }
}

#[cfg(test)]
mod tests {
    use super::SqliteConfig;

    #[test]
    fn urls_become_sqlite_uri_filenames() {
        let memory = SqliteConfig::parse("sqlite::memory:").unwrap();
        assert!(memory.in_memory);
        assert_eq!(memory.uri, "file::memory:");
        let relative = SqliteConfig::parse("sqlite://data/app.db").unwrap();
        assert_eq!(relative.uri, "file:data/app.db");
        assert!(!relative.in_memory);
        let absolute = SqliteConfig::parse("sqlite:///tmp/app.db?mode=ro").unwrap();
        assert_eq!(absolute.uri, "file:/tmp/app.db?mode=ro");
        assert!(absolute.read_only);
        let shared = SqliteConfig::parse("sqlite://?mode=memory&cache=shared").unwrap();
        assert!(shared.in_memory);
    }
}
