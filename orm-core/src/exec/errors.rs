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
            let source: crate::error::BoxError = Box::new(sqlx::Error::Database(db));
            if let Some(retry) = retry {
                return retry(source);
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
        sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
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
            other => other,
        }
    }
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
