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
        return from_database(facts, Box::new(error));
    }
    if error.is_closed() || io_error(&error).is_some_and(is_connection_lost) {
        return Error::ConnectionLost {
            source: Box::new(error),
        };
    }
    if io_error(&error).is_some() {
        return Error::Connection {
            source: Box::new(error),
        };
    }
    Error::Database {
        source: Box::new(error),
    }
}

/// The I/O error under `error`, if that is what it is.
pub(super) fn io_error(error: &tokio_postgres::Error) -> Option<&std::io::Error> {
    std::error::Error::source(error)?.downcast_ref::<std::io::Error>()
}
