//! mysql_async errors as the ORM's [`Error`]: a server error goes through the same mapping as
//! the sqlx driver's ([`from_database`]: the error number, SQL state and the key or
//! constraint the message names), a broken connection is [`Error::ConnectionLost`], anything
//! else about the connection [`Error::Connection`].

use mysql_async::{DriverError, IoError};
use sqlx::error::ErrorKind;

use crate::error::Error;
use crate::exec::errors::{DbFacts, from_database, is_connection_lost};

/// The ORM's error for `error`, keeping it as the source.
pub(crate) fn from_mysql_async(error: mysql_async::Error) -> Error {
    match &error {
        mysql_async::Error::Server(server) => {
            let facts = DbFacts {
                message: server.message.clone(),
                constraint: None,
                kind: kind(server.code, &server.state),
                code: Some(server.state.clone()),
                mysql_number: Some(server.code),
            };
            from_database(facts, Box::new(MyError(error)))
        }
        mysql_async::Error::Io(IoError::Io(io)) if is_connection_lost(io) => {
            Error::ConnectionLost {
                source: Box::new(MyError(error)),
            }
        }
        mysql_async::Error::Driver(DriverError::ConnectionClosed) => Error::ConnectionLost {
            source: Box::new(MyError(error)),
        },
        mysql_async::Error::Io(_) | mysql_async::Error::Driver(_) => Error::Connection {
            source: Box::new(MyError(error)),
        },
        mysql_async::Error::Url(_) => Error::Config(MyError(error).to_string()),
        mysql_async::Error::Other(_) => Error::Database {
            source: Box::new(MyError(error)),
        },
    }
}

/// The class of integrity violation of a MySQL/MariaDB error number, as sqlx classifies it
/// (so both drivers report the same variant).
fn kind(number: u16, state: &str) -> ErrorKind {
    match number {
        // ER_DUP_KEY, ER_DUP_ENTRY, ER_DUP_UNIQUE, ER_DUP_ENTRY_WITH_KEY_NAME,
        // ER_DUP_UNKNOWN_IN_INDEX.
        1022 | 1062 | 1169 | 1586 | 1859 => ErrorKind::UniqueViolation,
        // ER_NO_REFERENCED_ROW(_2), ER_ROW_IS_REFERENCED(_2), ER_FK_COLUMN_NOT_NULL,
        // ER_FK_CANNOT_DELETE_PARENT.
        1216 | 1217 | 1451 | 1452 | 1830 | 1834 => ErrorKind::ForeignKeyViolation,
        // ER_BAD_NULL_ERROR, ER_NO_DEFAULT_FOR_FIELD.
        1048 | 1364 => ErrorKind::NotNullViolation,
        // MySQL's ER_CHECK_CONSTRAINT_VIOLATED.
        3819 => ErrorKind::CheckViolation,
        // MariaDB's ER_CONSTRAINT_FAILED (MySQL uses 4025 for something else, with
        // another SQL state).
        4025 if state == "23000" => ErrorKind::CheckViolation,
        _ => ErrorKind::Other,
    }
}

/// A mysql_async error as the source of the ORM's [`Error`], saying what went wrong as the
/// sqlx driver's errors do (`error returned from database: 1062 (23000): Duplicate entry …`).
#[derive(Debug)]
pub(crate) struct MyError(pub(crate) mysql_async::Error);

impl MyError {
    /// The server's error number, when the server reported the error.
    #[cfg(any(
        feature = "distributed",
        all(feature = "topology", any(feature = "postgres", feature = "mysql"))
    ))]
    pub(crate) fn number(&self) -> Option<u16> {
        match &self.0 {
            mysql_async::Error::Server(server) => Some(server.code),
            _ => None,
        }
    }

    /// The server's error number and message, when the server reported the error.
    pub(crate) fn server(&self) -> Option<(u16, &str)> {
        match &self.0 {
            mysql_async::Error::Server(server) => Some((server.code, &server.message)),
            _ => None,
        }
    }
}

impl std::fmt::Display for MyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            mysql_async::Error::Server(server) => write!(
                f,
                "error returned from database: {} ({}): {}",
                server.code, server.state, server.message
            ),
            // Named as the TLS explanations read it (`crate::tls::explain_failure`).
            mysql_async::Error::Driver(DriverError::NoClientSslFlagFromServer) => {
                f.write_str("the server does not support TLS, and the connection requires it")
            }
            mysql_async::Error::Io(IoError::Io(io)) => {
                write!(f, "error communicating with the server: {io}")
            }
            other => {
                write!(f, "{other}")?;
                let mut cause = std::error::Error::source(other);
                while let Some(e) = cause {
                    write!(f, ": {e}")?;
                    cause = e.source();
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for MyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(code: u16, state: &str, message: &str) -> mysql_async::Error {
        mysql_async::Error::Server(mysql_async::ServerError {
            code,
            message: message.to_owned(),
            state: state.to_owned(),
        })
    }

    #[test]
    fn server_errors_map_as_on_the_sqlx_driver() {
        match from_mysql_async(server(
            1062,
            "23000",
            "Duplicate entry 'a@x' for key 'uq_users_email'",
        )) {
            Error::UniqueViolation { constraint, source } => {
                assert_eq!(constraint.as_deref(), Some("uq_users_email"));
                assert!(source.to_string().contains("Duplicate entry"), "{source}");
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            from_mysql_async(server(1213, "40001", "Deadlock found")),
            Error::Deadlock { .. }
        ));
        assert!(matches!(
            from_mysql_async(server(1205, "HY000", "Lock wait timeout exceeded")),
            Error::LockTimeout { .. }
        ));
        assert!(matches!(
            from_mysql_async(server(1048, "23000", "Column 'name' cannot be null")),
            Error::NotNullViolation { column: Some(c), .. } if c == "name"
        ));
        assert!(matches!(
            from_mysql_async(mysql_async::Error::Driver(DriverError::ConnectionClosed)),
            Error::ConnectionLost { .. }
        ));
    }
}
