//! Maps MongoDB driver errors to the ORM's [`Error`], the same variant as on SQL for the same
//! condition.

use mongodb::error::{ErrorKind, WriteFailure};

use crate::error::{BoxError, Error};
use crate::schema::ModelSchema;

/// Duplicate key.
const DUPLICATE_KEY: i32 = 11000;
/// Document failed validation (`$jsonSchema`).
const DOCUMENT_VALIDATION_FAILURE: i32 = 121;
/// Write conflict inside a transaction.
const WRITE_CONFLICT: i32 = 112;
/// "Transaction numbers are only allowed on a replica set member or mongos".
const ILLEGAL_OPERATION: i32 = 20;
/// The collection already exists.
pub(super) const NAMESPACE_EXISTS: i32 = 48;
/// The collection does not exist (dropping it is then a no-op).
pub(super) const NAMESPACE_NOT_FOUND: i32 = 26;

/// The server's error code and message, for the error kinds that carry one.
pub(super) fn code_and_message(error: &mongodb::error::Error) -> Option<(i32, &str)> {
    match &*error.kind {
        ErrorKind::Write(WriteFailure::WriteError(e)) => Some((e.code, &e.message)),
        ErrorKind::Command(e) => Some((e.code, &e.message)),
        ErrorKind::InsertMany(e) => e
            .write_errors
            .as_ref()
            .and_then(|errors| errors.first())
            .map(|e| (e.code, e.message.as_str())),
        _ => None,
    }
}

/// Converts a driver error, naming the violated unique index from `schema` where the server's
/// message needs it.
pub(crate) fn from_mongo(error: mongodb::error::Error, schema: Option<&ModelSchema>) -> Error {
    if error.contains_label(mongodb::error::TRANSIENT_TRANSACTION_ERROR)
        && !matches!(code_and_message(&error), Some((DUPLICATE_KEY, _)))
    {
        return Error::SerializationFailure {
            source: Box::new(error),
        };
    }
    if let Some(mapped) = code_and_message(&error).and_then(|(c, m)| by_code(c, m, schema)) {
        return mapped.with(Box::new(error));
    }
    from_kind(error)
}

/// A write error reported inside a command's reply (`writeErrors` of an `update` command),
/// mapped as the same error from the driver would be.
pub(crate) fn from_write_error(code: i32, message: &str, schema: Option<&ModelSchema>) -> Error {
    let source: BoxError = format!("MongoDB write error {code}: {message}").into();
    match by_code(code, message, schema) {
        Some(mapped) => mapped.with(source),
        None => Error::Database { source },
    }
}

/// A server error code that means the same as a SQL error, with what the error needs.
enum Mapped {
    Unique(Option<String>),
    Check(Option<String>),
    Conflict,
    Config(String),
}

impl Mapped {
    fn with(self, source: BoxError) -> Error {
        match self {
            Mapped::Unique(constraint) => Error::UniqueViolation { constraint, source },
            Mapped::Check(constraint) => Error::CheckViolation { constraint, source },
            Mapped::Conflict => Error::SerializationFailure { source },
            Mapped::Config(message) => Error::Config(message),
        }
    }
}

fn by_code(code: i32, message: &str, schema: Option<&ModelSchema>) -> Option<Mapped> {
    Some(match code {
        DUPLICATE_KEY => Mapped::Unique(index_name(message, schema)),
        DOCUMENT_VALIDATION_FAILURE => {
            Mapped::Check(schema.map(|s| format!("{}_validator", s.table)))
        }
        WRITE_CONFLICT => Mapped::Conflict,
        ILLEGAL_OPERATION if message.contains("Transaction numbers") => Mapped::Config(format!(
            "MongoDB transactions need a replica set or a sharded cluster, and this server is a standalone mongod ({message}); start it as a one-member replica set (`mongod --replSet rs0`, then `rs.initiate()`) or run without a transaction"
        )),
        _ => return None,
    })
}

/// The error for a driver error without a mapped server code.
fn from_kind(error: mongodb::error::Error) -> Error {
    match &*error.kind {
        ErrorKind::ServerSelection { .. } | ErrorKind::Io(_) | ErrorKind::DnsResolve { .. } => {
            Error::Connection {
                source: Box::new(error),
            }
        }
        // The driver's own check of BSON's 16 MiB document limit.
        ErrorKind::InvalidArgument { message, .. } if message.contains("must be within") => {
            Error::ValueTooLong {
                column: None,
                source: crate::exec::errors::Explained::boxed(
                    Box::new(error),
                    crate::sql::fit::MONGO_DOCUMENT_ADVICE,
                ),
            }
        }
        ErrorKind::InvalidArgument { message, .. } => Error::Config(message.clone()),
        _ => Error::Database {
            source: Box::new(error),
        },
    }
}

/// The unique index a duplicate-key message names.
///
/// MongoDB: `E11000 duplicate key error collection: db.users index: uq_users_email dup key:
/// {..}`. The nx-27017 test server: `UNIQUE constraint failed: index 'idx_users_email'` (its
/// own name, `idx_<collection>_<field paths joined by _, dots as _>`, mapped back to the
/// descriptor's index) or
/// `UNIQUE constraint failed: users._id` for the key. The key's index is `_id_`.
fn index_name(message: &str, schema: Option<&ModelSchema>) -> Option<String> {
    if let Some(start) = message.find("index: ") {
        let rest = &message[start + "index: ".len()..];
        let name = rest.split_whitespace().next()?;
        return Some(name.to_owned());
    }
    if let Some(start) = message.find("index '") {
        let rest = &message[start + "index '".len()..];
        let name = &rest[..rest.find('\'')?];
        let schema = schema?;
        return schema
            .indexes
            .iter()
            .find(|ix| {
                ix.name == name
                    || ix.unique && {
                        let paths: Vec<String> = ix
                            .columns
                            .iter()
                            .filter_map(|c| crate::mongo::field_path(schema, c).ok())
                            .collect();
                        format!("idx_{}_{}", schema.table, paths.join("_").replace('.', "_"))
                            == name
                    }
            })
            .map(|ix| ix.name.to_owned())
            .or_else(|| Some(name.to_owned()));
    }
    if message.contains("._id") {
        return Some("_id_".to_owned());
    }
    None
}
