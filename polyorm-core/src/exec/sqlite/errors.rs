//! rusqlite's errors as the ORM's [`Error`]s: the same variant for the same condition as on
//! the other dialects (constraint names, `BUSY` → [`Error::LockTimeout`], `BUSY_SNAPSHOT` →
//! [`Error::SerializationFailure`], `col + n` overflow → [`Error::OutOfRange`]).

use rusqlite::ffi;

use super::super::errors::{check_kind, sqlite_column};
use crate::error::{BoxError, Error};

/// Converts a rusqlite error into the ORM's error, keeping rusqlite's error as the source.
pub(crate) fn from_rusqlite(error: rusqlite::Error) -> Error {
    let rusqlite::Error::SqliteFailure(failure, ref message) = error else {
        return match error {
            rusqlite::Error::InvalidPath(_) => Error::Config(format!(
                "{error}; check the path of the `sqlite:` URL (it must be valid UTF-8)"
            )),
            other => Error::Database {
                source: Box::new(other),
            },
        };
    };
    let message = message.clone().unwrap_or_default();
    let source: BoxError = Box::new(error);
    match failure.extended_code {
        // Another connection committed since this transaction's snapshot: only a new
        // transaction can see the current data.
        ffi::SQLITE_BUSY_SNAPSHOT => return Error::SerializationFailure { source },
        ffi::SQLITE_CONSTRAINT_UNIQUE | ffi::SQLITE_CONSTRAINT_PRIMARYKEY => {
            return Error::UniqueViolation {
                constraint: None,
                source,
            };
        }
        ffi::SQLITE_CONSTRAINT_FOREIGNKEY => {
            return Error::ForeignKeyViolation {
                constraint: None,
                source,
            };
        }
        ffi::SQLITE_CONSTRAINT_NOTNULL => {
            return Error::NotNullViolation {
                column: sqlite_column(&message, "NOT NULL constraint failed: "),
                source,
            };
        }
        ffi::SQLITE_CONSTRAINT_CHECK => {
            // `ck_<table>_<col>_length` / `_range`: the value does not fit the column.
            if let Some(fit) = check_kind(&message) {
                return fit(None, source);
            }
            return Error::CheckViolation {
                constraint: message
                    .strip_prefix("CHECK constraint failed: ")
                    .map(|name| name.trim().to_owned()),
                source,
            };
        }
        _ => {}
    }
    match failure.code {
        // The lock stayed taken for the whole busy timeout (or waiting could only deadlock).
        rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked => {
            Error::LockTimeout { source }
        }
        // SQLite's checked `col + n` (see `sql::add_expr`).
        rusqlite::ErrorCode::Unknown if message.contains("integer overflow") => Error::OutOfRange {
            column: None,
            source,
        },
        rusqlite::ErrorCode::CannotOpen => Error::Connection { source },
        rusqlite::ErrorCode::TooBig => Error::ValueTooLong {
            column: None,
            source: super::super::errors::Explained::boxed(
                source,
                "SQLite refuses a string or blob over its length limit (1,000,000,000 bytes by \
                 default); keep such values out of the database (a file or object store)",
            ),
        },
        _ => Error::Database { source },
    }
}

/// Whether `error` is `SQLITE_BUSY` (not `BUSY_SNAPSHOT`, which waiting cannot cure).
pub(crate) fn is_busy(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(f, _)
            if f.code == rusqlite::ErrorCode::DatabaseBusy
                && f.extended_code != ffi::SQLITE_BUSY_SNAPSHOT
    )
}
