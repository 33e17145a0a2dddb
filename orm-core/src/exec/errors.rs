//! Maps driver errors to the ORM's [`Error`], the same variant for the same condition on
//! every dialect.

use crate::error::Error;
use crate::schema::ModelSchema;

/// Converts a sqlx error into the ORM's error, keeping the driver's error as the source.
#[cfg(feature = "_sqlx")]
pub(crate) fn from_sqlx(error: sqlx::Error) -> Error {
    use sqlx::error::ErrorKind;
    match error {
        sqlx::Error::Database(db) => {
            let message = db.message().to_owned();
            let constraint = db.constraint().map(str::to_owned);
            let kind = db.kind();
            let retry = retry_kind(&*db);
            let code = db.code().map(|c| c.into_owned());
            #[cfg(feature = "mysql")]
            let mysql_number = db
                .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                .map(|e| e.number());
            #[cfg(not(feature = "mysql"))]
            let mysql_number: Option<u16> = None;
            let source: crate::error::BoxError = Box::new(sqlx::Error::Database(db));
            if let Some(retry) = retry {
                return retry(source);
            }
            if let Some(session) = session_kind(code.as_deref(), mysql_number) {
                return session(source);
            }
            if let Some(fit) = fit_kind(&message, code.as_deref(), mysql_number) {
                let column = quoted_after(&message, "column '", '\'');
                return fit(column, source);
            }
            match kind {
                ErrorKind::UniqueViolation => Error::UniqueViolation {
                    constraint: constraint.or_else(|| mysql_key_name(&message)),
                    source,
                },
                ErrorKind::ForeignKeyViolation => Error::ForeignKeyViolation {
                    constraint: constraint.or_else(|| quoted_after(&message, "CONSTRAINT `", '`')),
                    source,
                },
                ErrorKind::CheckViolation => Error::CheckViolation {
                    constraint: constraint
                        .or_else(|| quoted_after(&message, "CONSTRAINT `", '`'))
                        .or_else(|| after(&message, "CHECK constraint failed: ")),
                    source,
                },
                ErrorKind::NotNullViolation => Error::NotNullViolation {
                    column: quoted_after(&message, "Column '", '\'')
                        .or_else(|| quoted_after(&message, "column \"", '"'))
                        .or_else(|| {
                            after(&message, "NOT NULL constraint failed: ")
                                .map(|c| c.rsplit('.').next().unwrap_or(&c).to_owned())
                        }),
                    source,
                },
                _ => Error::Database { source },
            }
        }
        sqlx::Error::PoolTimedOut => Error::Timeout {
            source: Box::new(error),
        },
        sqlx::Error::Configuration(_) => Error::Config(error.to_string()),
        sqlx::Error::Io(ref e) if is_connection_lost(e) => Error::ConnectionLost {
            source: Box::new(error),
        },
        sqlx::Error::WorkerCrashed => Error::ConnectionLost {
            source: Box::new(error),
        },
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::Protocol(_) => Error::Connection {
            source: Box::new(error),
        },
        sqlx::Error::ColumnDecode { index, source } => Error::Decode {
            column: index.clone(),
            index: index.parse().unwrap_or(usize::MAX),
            expected: "the field's type",
            source,
        },
        other => Error::Database {
            source: Box::new(other),
        },
    }
}

/// Conflicts that a retry of the whole transaction can resolve, by backend error code.
#[cfg(feature = "_sqlx")]
fn retry_kind(db: &dyn sqlx::error::DatabaseError) -> Option<fn(crate::error::BoxError) -> Error> {
    let serialization: fn(_) -> Error = |source| Error::SerializationFailure { source };
    let deadlock: fn(_) -> Error = |source| Error::Deadlock { source };
    let lock_timeout: fn(_) -> Error = |source| Error::LockTimeout { source };
    #[cfg(feature = "mysql")]
    if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return match my.number() {
            1213 => Some(deadlock),
            // Lock wait timeout, and MySQL 8's NOWAIT (MariaDB reports NOWAIT as 1205).
            1205 | 3572 => Some(lock_timeout),
            // MariaDB's snapshot-isolation conflict: "Record has changed since last read".
            1020 => Some(serialization),
            _ => None,
        };
    }
    match db.code().as_deref() {
        // PostgreSQL SQLSTATEs.
        Some("40001") => Some(serialization),
        Some("40P01") => Some(deadlock),
        Some("55P03") => Some(lock_timeout),
        // SQLite: SQLITE_BUSY_SNAPSHOT, then SQLITE_BUSY / SQLITE_LOCKED and their variants.
        Some("517") => Some(serialization),
        Some("5" | "6" | "261" | "262" | "773") => Some(lock_timeout),
        _ => None,
    }
}

/// I/O errors that mean an open connection broke (the peer closed or reset it), as opposed
/// to a connection that could not be opened.
#[cfg(feature = "_sqlx")]
fn is_connection_lost(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        e.kind(),
        ErrorKind::UnexpectedEof
            | ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::NotConnected
    )
}

/// Server errors about the session itself: a login refused, a database that does not exist,
/// a session the server terminated (shutdown, restart, killed).
#[cfg(feature = "_sqlx")]
fn session_kind(
    code: Option<&str>,
    mysql_number: Option<u16>,
) -> Option<fn(crate::error::BoxError) -> Error> {
    let login: fn(_) -> Error = |source| Error::Authentication { source };
    let missing: fn(_) -> Error = |source| Error::DatabaseNotFound { source };
    let lost: fn(_) -> Error = |source| Error::ConnectionLost { source };
    match mysql_number {
        // Access denied (bad password or user), access to the database denied.
        Some(1045 | 1044) => Some(login),
        Some(1049) => Some(missing),
        // Server shutdown in progress; connection killed (MariaDB); disconnected for
        // inactivity (MySQL 8).
        Some(1053 | 1927 | 4031) => Some(lost),
        Some(_) => None,
        None => match code {
            // PostgreSQL: invalid_password, invalid_authorization_specification.
            Some("28P01" | "28000") => Some(login),
            Some("3D000") => Some(missing),
            // admin_shutdown (stop, pg_terminate_backend), crash_shutdown.
            Some("57P01" | "57P02") => Some(lost),
            _ => None,
        },
    }
}

type FitError = fn(Option<String>, crate::error::BoxError) -> Error;

/// Values that do not fit their column, by error code or by the CHECK naming convention
/// (`ck_<table>_<col>_length` / `ck_<table>_<col>_range`).
#[cfg(feature = "_sqlx")]
fn fit_kind(message: &str, code: Option<&str>, mysql_number: Option<u16>) -> Option<FitError> {
    let too_long: FitError = |column, source| Error::ValueTooLong { column, source };
    let out_of_range: FitError = |column, source| Error::OutOfRange { column, source };
    match mysql_number {
        Some(1406) => return Some(too_long),
        // 1264 out of range; 1690 arithmetic out of range; 1367/1916 illegal double (NaN).
        Some(1264 | 1690) => return Some(out_of_range),
        Some(_) => {}
        None => match code {
            Some("22001") => return Some(too_long),
            Some("22003") => return Some(out_of_range),
            // SQLite's checked `col + n` (see `sql::add_expr`).
            Some("1") if message.contains("integer overflow") => return Some(out_of_range),
            _ => {}
        },
    }
    let check = check_name(message)?;
    if check.starts_with("ck_") && check.ends_with("_length") {
        Some(too_long)
    } else if check.starts_with("ck_") && check.ends_with("_range") {
        Some(out_of_range)
    } else {
        None
    }
}

/// The name of the CHECK constraint a database error reports (SQLite, PostgreSQL, MariaDB,
/// MySQL spellings).
fn check_name(message: &str) -> Option<String> {
    after(message, "CHECK constraint failed: ")
        .or_else(|| quoted_after(message, "check constraint \"", '"'))
        .or_else(|| quoted_after(message, "CONSTRAINT `", '`'))
        .or_else(|| quoted_after(message, "Check constraint '", '\''))
}

/// MySQL: "Duplicate entry 'x' for key 'users.uq_users_email'" (MySQL 8 prefixes the table).
fn mysql_key_name(message: &str) -> Option<String> {
    let start = message.rfind("for key '")? + "for key '".len();
    let name = message[start..].strip_suffix('\'')?;
    Some(name.rsplit('.').next().unwrap_or(name).to_owned())
}

fn quoted_after(message: &str, marker: &str, close: char) -> Option<String> {
    let start = message.find(marker)? + marker.len();
    let len = message[start..].find(close)?;
    Some(message[start..start + len].to_owned())
}

fn after(message: &str, marker: &str) -> Option<String> {
    let start = message.find(marker)? + marker.len();
    Some(message[start..].trim().to_owned())
}

impl Error {
    /// Names the violated unique index where the database reported only its columns
    /// (SQLite: "UNIQUE constraint failed: users.email").
    pub(crate) fn resolve_constraint(self, schema: &ModelSchema) -> Error {
        match self {
            Error::UniqueViolation {
                constraint: None,
                source,
            } => {
                let message = source.to_string();
                let constraint = after(&message, "UNIQUE constraint failed: ").and_then(|cols| {
                    let columns: Vec<&str> = cols
                        .split(", ")
                        .map(|c| c.rsplit('.').next().unwrap_or(c))
                        .collect();
                    schema.unique_on(&columns).map(|ix| ix.name.to_owned())
                });
                Error::UniqueViolation { constraint, source }
            }
            Error::ValueTooLong {
                column: None,
                source,
            } => Error::ValueTooLong {
                column: check_column(schema, &source.to_string(), "_length"),
                source,
            },
            Error::OutOfRange {
                column: None,
                source,
            } => Error::OutOfRange {
                column: check_column(schema, &source.to_string(), "_range"),
                source,
            },
            other => other,
        }
    }
}

/// The column of `schema` whose `ck_<table>_<col><suffix>` CHECK the message names.
fn check_column(schema: &ModelSchema, message: &str, suffix: &str) -> Option<String> {
    let name = check_name(message)?;
    let column = name
        .strip_prefix("ck_")?
        .strip_prefix(schema.table)?
        .strip_prefix('_')?
        .strip_suffix(suffix)?;
    schema.column(column).map(|c| c.name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mysql_key_name_strips_table_prefix() {
        let m = "Duplicate entry 'a@b' for key 'users.uq_users_email'";
        assert_eq!(mysql_key_name(m).as_deref(), Some("uq_users_email"));
        let m = "Duplicate entry 'a@b' for key 'uq_users_email'";
        assert_eq!(mysql_key_name(m).as_deref(), Some("uq_users_email"));
    }
}
