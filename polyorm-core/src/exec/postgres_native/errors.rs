//! tokio-postgres errors as the ORM's [`Error`]: a server error goes through the same mapping
//! as the sqlx driver's ([`from_database`]: SQLSTATE and constraint name), a broken connection
//! is [`Error::ConnectionLost`], anything else about the connection [`Error::Connection`].

use sqlx::error::ErrorKind;
use tokio_postgres::error::SqlState;

use crate::error::Error;
use crate::exec::errors::{DbFacts, from_database, is_connection_lost};

/// The ORM's error for `error`, keeping it as the source.
pub(crate) fn from_tokio_postgres(error: tokio_postgres::Error) -> Error {
    if let Some(db) = error.as_db_error() {
        let code = db.code();
        let kind = if *code == SqlState::UNIQUE_VIOLATION {
            ErrorKind::UniqueViolation
        } else if *code == SqlState::FOREIGN_KEY_VIOLATION {
            ErrorKind::ForeignKeyViolation
        } else if *code == SqlState::NOT_NULL_VIOLATION {
            ErrorKind::NotNullViolation
        } else if *code == SqlState::CHECK_VIOLATION {
            ErrorKind::CheckViolation
        } else {
            ErrorKind::Other
        };
        let facts = DbFacts {
            message: db.message().to_owned(),
            constraint: db.constraint().map(str::to_owned),
            kind,
            code: Some(code.code().to_owned()),
            mysql_number: None,
        };
        return from_database(facts, Box::new(PgError(error)));
    }
    if error.is_closed() || io_error(&error).is_some_and(is_connection_lost) {
        return Error::ConnectionLost {
            source: Box::new(PgError(error)),
        };
    }
    if io_error(&error).is_some() {
        return Error::Connection {
            source: Box::new(PgError(error)),
        };
    }
    Error::Database {
        source: Box::new(PgError(error)),
    }
}

/// A tokio-postgres error as the source of the ORM's [`Error`], saying what went wrong as the
/// sqlx driver's errors do: the server's message (`error returned from database: relation
/// "x" does not exist`; tokio-postgres' own says only `db error`), or the cause under
/// tokio-postgres' summary (`error communicating with the server: Connection reset by peer`).
#[derive(Debug)]
pub(crate) struct PgError(pub(crate) tokio_postgres::Error);

impl PgError {
    /// The server's SQLSTATE, when the server reported the error.
    #[cfg(any(
        feature = "distributed",
        all(feature = "topology", any(feature = "postgres", feature = "mysql"))
    ))]
    pub(crate) fn code(&self) -> Option<&str> {
        self.0.code().map(SqlState::code)
    }
}

impl std::fmt::Display for PgError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(db) = self.0.as_db_error() {
            return write!(f, "error returned from database: {}", db.message());
        }
        write!(f, "{}", self.0)?;
        if let Some(cause) = std::error::Error::source(&self.0) {
            write!(f, ": {cause}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PgError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        std::error::Error::source(&self.0)
    }
}

/// The I/O error under `error`, if that is what it is.
pub(super) fn io_error(error: &tokio_postgres::Error) -> Option<&std::io::Error> {
    std::error::Error::source(error)?.downcast_ref::<std::io::Error>()
}
