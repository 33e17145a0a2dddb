//! Maps driver errors to the ORM's [`Error`], the same variant for the same condition on
//! every dialect.

use crate::error::Error;
use crate::schema::ModelSchema;

/// The SQLSTATE (PostgreSQL) or error number (MySQL/MariaDB) of a database error (read by
/// topology's failover and by two-phase commit).
#[cfg(any(
    feature = "distributed",
    all(feature = "topology", any(feature = "postgres", feature = "mysql"))
))]
pub(crate) fn database_code(error: &Error) -> Option<String> {
    let Error::Database { source } = error else {
        return None;
    };
    // The native PostgreSQL driver's error (the server's SQLSTATE).
    #[cfg(feature = "postgres-native")]
    if let Some(native) = source.downcast_ref::<crate::exec::postgres_native::PgError>() {
        return native.code().map(str::to_owned);
    }
    // The native MySQL/MariaDB driver's error (the server's error number).
    #[cfg(feature = "mysql-native")]
    if let Some(native) = source.downcast_ref::<crate::exec::mysql_native::MyError>() {
        return native.number().map(|n| n.to_string());
    }
    #[cfg(feature = "_sqlx")]
    {
        let db = source.downcast_ref::<sqlx::Error>()?.as_database_error()?;
        #[cfg(feature = "mysql")]
        if let Some(my) = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
            return Some(my.number().to_string());
        }
        db.code().map(|c| c.into_owned())
    }
    #[cfg(not(feature = "_sqlx"))]
    {
        let _ = source;
        None
    }
}

/// Converts a sqlx error into the ORM's error, keeping the driver's error as the source.
#[cfg(feature = "_sqlx")]
pub(crate) fn from_sqlx(error: sqlx::Error) -> Error {
    match error {
        sqlx::Error::Database(db) => {
            #[cfg(feature = "mysql")]
            let mysql_number = db
                .try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
                .map(|e| e.number());
            #[cfg(not(feature = "mysql"))]
            let mysql_number: Option<u16> = None;
            let facts = DbFacts {
                message: db.message().to_owned(),
                constraint: db.constraint().map(str::to_owned),
                kind: db.kind(),
                code: db.code().map(|c| c.into_owned()),
                mysql_number,
            };
            from_database(facts, Box::new(sqlx::Error::Database(db)))
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

/// What the mapping reads of an error the database server reported, whichever driver
/// received it (sqlx, or the native PostgreSQL driver).
#[cfg(feature = "_sqlx")]
pub(crate) struct DbFacts {
    /// The server's message.
    pub(crate) message: String,
    /// The constraint the server named, if any.
    pub(crate) constraint: Option<String>,
    /// The class of integrity violation (sqlx's classification of the code).
    pub(crate) kind: sqlx::error::ErrorKind,
    /// The SQLSTATE (PostgreSQL) or SQL state (MySQL).
    pub(crate) code: Option<String>,
    /// MySQL/MariaDB's error number (`None` on PostgreSQL).
    pub(crate) mysql_number: Option<u16>,
}

/// The ORM's error for a database error described by `facts`, keeping `source` (the driver's
/// error) as its source: the same variant for the same condition, whichever driver.
#[cfg(feature = "_sqlx")]
pub(crate) fn from_database(facts: DbFacts, source: crate::error::BoxError) -> Error {
    use sqlx::error::ErrorKind;
    let DbFacts {
        message,
        constraint,
        kind,
        code,
        mysql_number,
    } = facts;
    if let Some(retry) = retry_kind(code.as_deref(), &message, mysql_number) {
        return retry(source);
    }
    if let Some(error) = unstorable(mysql_number, code.as_deref()) {
        return error(source);
    }
    if let Some(session) = session_kind(code.as_deref(), mysql_number) {
        return session(source);
    }
    if matches!(mysql_number, Some(1142 | 1143)) || code.as_deref() == Some("42501") {
        return denied_by_database(&message, source);
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
                .or_else(|| sqlite_column(&message, "NOT NULL constraint failed: ")),
            source,
        },
        _ => Error::Database { source },
    }
}

/// Conflicts that a retry of the whole transaction can resolve, by backend error code.
#[cfg(feature = "_sqlx")]
fn retry_kind(
    code: Option<&str>,
    message: &str,
    mysql_number: Option<u16>,
) -> Option<fn(crate::error::BoxError) -> Error> {
    let serialization: fn(_) -> Error = |source| Error::SerializationFailure { source };
    let deadlock: fn(_) -> Error = |source| Error::Deadlock { source };
    let lock_timeout: fn(_) -> Error = |source| Error::LockTimeout { source };
    let schema_changed: fn(_) -> Error = |source| Error::SchemaChanged { source };
    if let Some(number) = mysql_number {
        return match number {
            1213 => Some(deadlock),
            // Lock wait timeout, and MySQL 8's NOWAIT (MariaDB reports NOWAIT as 1205).
            1205 | 3572 => Some(lock_timeout),
            // MariaDB's snapshot-isolation conflict: "Record has changed since last read".
            1020 => Some(serialization),
            // "Prepared statement needs to be re-prepared": a table it reads was altered.
            1615 => Some(schema_changed),
            _ => None,
        };
    }
    match code {
        // PostgreSQL SQLSTATEs.
        Some("40001") => Some(serialization),
        Some("40P01") => Some(deadlock),
        Some("55P03") => Some(lock_timeout),
        // A prepared statement whose result columns changed under it (ALTER TABLE … TYPE).
        Some("0A000") if message.contains("cached plan must not change result type") => {
            Some(schema_changed)
        }
        _ => None,
    }
}

/// The database's own privileges refused a statement (PostgreSQL `42501`
/// insufficient_privilege, MySQL/MariaDB 1142/1143 command denied), with the table and
/// action its message names: `permission denied for table posts`, `INSERT command denied to
/// user 'app'@'localhost' for table `db`.`posts``.
#[cfg(feature = "_sqlx")]
fn denied_by_database(message: &str, source: crate::error::BoxError) -> Error {
    let table = after(message, "permission denied for table ")
        .or_else(|| after(message, " for table "))
        .map(|t| {
            let last = t.rsplit('.').next().unwrap_or(&t);
            last.trim_matches(|c| c == '`' || c == '\'' || c == '"')
                .to_owned()
        })
        .unwrap_or_else(|| "?".to_owned());
    let action = message
        .split_whitespace()
        .next()
        .filter(|_| message.contains("command denied"))
        .map_or("run this statement on", |verb| match verb {
            "SELECT" => "read",
            "INSERT" => "insert",
            "UPDATE" => "update",
            "DELETE" => "delete",
            _ => "ddl",
        });
    Error::PermissionDenied {
        actor: quoted_after(message, "to user '", '\'')
            .unwrap_or_else(|| "the database user".to_owned()),
        roles: Vec::new(),
        table,
        action: action.to_owned(),
        reason: format!("the database refused it ({source})"),
    }
}

/// I/O errors that mean an open connection broke (the peer closed or reset it), as opposed
/// to a connection that could not be opened.
#[cfg(feature = "_sqlx")]
pub(crate) fn is_connection_lost(e: &std::io::Error) -> bool {
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

pub(crate) type FitError = fn(Option<String>, crate::error::BoxError) -> Error;

/// A value longer than its column takes.
fn too_long(column: Option<String>, source: crate::error::BoxError) -> Error {
    Error::ValueTooLong {
        column,
        source: Explained::boxed(
            source,
            "shorten the value, or widen the column (the field's `max_length`)",
        ),
    }
}

/// A number outside its column's range.
fn out_of_range(column: Option<String>, source: crate::error::BoxError) -> Error {
    Error::OutOfRange { column, source }
}

/// What MySQL/MariaDB says when a statement is larger than the server accepts.
pub(crate) const PACKET_ADVICE: &str = "MySQL/MariaDB refuse a statement larger than the \
    server's `max_allowed_packet`; raise it on the server (`SET GLOBAL max_allowed_packet = \
    1073741824`, or `max_allowed_packet = 1G` under `[mysqld]` in my.cnf; 1 GiB is the most), or \
    keep such values out of the database (a file or object store)";

/// Values a backend cannot take at all, whatever the column: a statement over MySQL's
/// `max_allowed_packet` (`1153`; `1301` for a function result), NUL in PostgreSQL text
/// (`22021`) or in a `jsonb` string (`22P05`).
#[cfg(feature = "_sqlx")]
fn unstorable(
    mysql_number: Option<u16>,
    code: Option<&str>,
) -> Option<fn(crate::error::BoxError) -> Error> {
    match (mysql_number, code) {
        (Some(1153 | 1301), _) => Some(|source| Error::ValueTooLong {
            column: None,
            source: Explained::boxed(source, PACKET_ADVICE),
        }),
        (None, Some("22021" | "22P05")) => Some(|source| Error::InvalidValue {
            column: None,
            source: Explained::boxed(
                source,
                "PostgreSQL text and jsonb cannot hold NUL (U+0000) or a byte sequence that is \
                 not UTF-8; remove it, or store such data as `Vec<u8>` (bytea)",
            ),
        }),
        _ => None,
    }
}

/// A driver's error followed by the ORM's explanation of it (what limit, what to change); the
/// driver's error stays reachable as its `source`.
#[derive(Debug)]
pub(crate) struct Explained {
    advice: std::borrow::Cow<'static, str>,
    source: crate::error::BoxError,
}

impl Explained {
    pub(crate) fn boxed(
        source: crate::error::BoxError,
        advice: impl Into<std::borrow::Cow<'static, str>>,
    ) -> crate::error::BoxError {
        // Explaining again replaces the advice: the driver's error is kept once.
        let source = match source.downcast::<Explained>() {
            Ok(explained) => explained.source,
            Err(other) => other,
        };
        Box::new(Explained {
            advice: advice.into(),
            source,
        })
    }
}

impl std::fmt::Display for Explained {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}; {}", self.source, self.advice)
    }
}

impl std::error::Error for Explained {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// Values that do not fit their column, by error code or by the CHECK naming convention
/// (`ck_<table>_<col>_length` / `ck_<table>_<col>_range`).
#[cfg(feature = "_sqlx")]
fn fit_kind(message: &str, code: Option<&str>, mysql_number: Option<u16>) -> Option<FitError> {
    match mysql_number {
        Some(1406) => return Some(too_long as FitError),
        // 1264 out of range; 1690 arithmetic out of range; 1367/1916 illegal double (NaN).
        Some(1264 | 1690) => return Some(out_of_range),
        Some(_) => {}
        None => match code {
            Some("22001") => return Some(too_long),
            Some("22003") => return Some(out_of_range),
            _ => {}
        },
    }
    check_kind(message)
}

/// Values that do not fit their column by the CHECK naming convention:
/// `ck_<table>_<col>_length` (too long) and `ck_<table>_<col>_range` (out of range).
#[cfg(any(feature = "_sqlx", feature = "sqlite"))]
pub(crate) fn check_kind(message: &str) -> Option<FitError> {
    let check = check_name(message)?;
    if check.starts_with("ck_") && check.ends_with("_length") {
        Some(too_long)
    } else if check.starts_with("ck_") && check.ends_with("_range") {
        Some(out_of_range)
    } else {
        None
    }
}

/// The column SQLite names after `marker` (`NOT NULL constraint failed: users.email`), without
/// its table.
#[cfg(any(feature = "_sqlx", feature = "sqlite"))]
pub(crate) fn sqlite_column(message: &str, marker: &str) -> Option<String> {
    after(message, marker).map(|c| c.rsplit('.').next().unwrap_or(&c).to_owned())
}

/// The name of the CHECK constraint a database error reports (SQLite, PostgreSQL, MariaDB,
/// MySQL spellings).
fn check_name(message: &str) -> Option<String> {
    after(message, "CHECK constraint failed: ")
        .or_else(|| quoted_after(message, "check constraint \"", '"'))
        .or_else(|| quoted_after(message, "CONSTRAINT `", '`'))
        .or_else(|| quoted_after(message, "Check constraint '", '\''))
}

#[cfg_attr(not(feature = "_sqlx"), allow(dead_code))]
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
            Error::ValueTooLong { column, source } => {
                let column =
                    column.or_else(|| check_column(schema, &source.to_string(), "_length"));
                match column.as_deref().and_then(|c| schema.column(c)) {
                    Some(col) => Error::ValueTooLong {
                        source: Explained::boxed(source, too_long_advice(schema, col)),
                        column,
                    },
                    None => Error::ValueTooLong { column, source },
                }
            }
            Error::CheckViolation {
                constraint: Some(name),
                source,
            } => match json_depth_check(schema, &name) {
                Some(col) => Error::InvalidValue {
                    column: Some(col.name.to_owned()),
                    source: Explained::boxed(
                        source,
                        "MariaDB's JSON columns refuse a document nesting more than 31 \
                         arrays/objects, MariaDB's JSON depth limit (32), through the \
                         `json_valid` CHECK it adds to every JSON column (not one of the \
                         model's); flatten it, or store it as text (`String`)",
                    ),
                },
                None => Error::CheckViolation {
                    constraint: Some(name),
                    source,
                },
            },
            Error::Database { source } => match narrow_text_column(schema, &*source) {
                Some(col) => Error::ValueTooLong {
                    column: Some(col.name.to_owned()),
                    source: Explained::boxed(
                        source,
                        format!(
                            "the text is valid UTF-8, so MariaDB cut it short: {} (or the \
                             column's character set is not utf8mb4)",
                            too_long_advice(schema, col)
                        ),
                    ),
                },
                None => Error::Database { source },
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

/// What to change when a value is too long for `column`: its `max_length`, or (no
/// `max_length`, so the column should be unbounded) a MySQL/MariaDB column narrower than the
/// `LONGTEXT`/`LONGBLOB` the ORM creates.
fn too_long_advice(schema: &ModelSchema, column: &crate::schema::ColumnSchema) -> String {
    use crate::schema::ColumnType;
    match (column.max_length, column.ty) {
        (Some(max), _) => format!("shorten it or raise the field's `max_length` ({max})"),
        (None, ty @ (ColumnType::Text | ColumnType::Bytes)) => {
            let (wide, narrow) = if ty == ColumnType::Text {
                ("LONGTEXT", "TEXT")
            } else {
                ("LONGBLOB", "BLOB")
            };
            let not_null = if column.nullable { "" } else { " NOT NULL" };
            format!(
                "`{}` is unbounded in the model, which is {wide} on MySQL/MariaDB, but this \
                 column is narrower (a {narrow} column, as earlier versions of the ORM created, \
                 holds 65,535 bytes); widen it: `ALTER TABLE `{}` MODIFY `{}` {wide}{not_null}`",
                column.name, schema.table, column.name
            )
        }
        (None, _) => "shorten the value, or widen the column".to_owned(),
    }
}

/// The JSON column whose implicit `json_valid` CHECK MariaDB reports as violated (it names the
/// CHECK after the column, `<table>.<column>` in its message): the ORM only writes valid JSON,
/// so the document was nested deeper than MariaDB accepts.
fn json_depth_check<'s>(
    schema: &'s ModelSchema,
    constraint: &str,
) -> Option<&'s crate::schema::ColumnSchema> {
    let name = constraint
        .strip_prefix(schema.table)
        .and_then(|rest| rest.strip_prefix('.'))
        .unwrap_or(constraint);
    schema
        .column(name)
        .filter(|c| c.ty == crate::schema::ColumnType::Json)
}

/// MariaDB's "Incorrect string value" (`1366`) for an unbounded text column of `schema`: the
/// ORM sends valid UTF-8 to `utf8mb4` tables, so the column is too narrow and MariaDB cut a
/// character in two (an older `TEXT` column given more than 65,535 bytes).
fn narrow_text_column<'s>(
    schema: &'s ModelSchema,
    source: &(dyn std::error::Error + 'static),
) -> Option<&'s crate::schema::ColumnSchema> {
    #[cfg(feature = "mysql")]
    {
        let (number, message) = mysql_server_error(source)?;
        if number != 1366 {
            return None;
        }
        // MariaDB: "... for column `db`.`t`.`c` at row 1"; MySQL: "... for column 'c' at row 1".
        let tail = &message[message.find("for column ")? + "for column ".len()..];
        let target = tail.split(" at row").next()?;
        let name = target
            .rsplit('.')
            .next()?
            .trim_matches(|c| c == '`' || c == '\'');
        schema.column(name).filter(|c| {
            c.max_length.is_none()
                && c.allowed_values.is_none()
                && c.ty == crate::schema::ColumnType::Text
        })
    }
    #[cfg(not(feature = "mysql"))]
    {
        let _ = (schema, source);
        None
    }
}

/// The error number and message of a MySQL/MariaDB server error, whichever driver received it.
#[cfg(feature = "mysql")]
fn mysql_server_error<'e>(source: &'e (dyn std::error::Error + 'static)) -> Option<(u16, &'e str)> {
    #[cfg(feature = "mysql-native")]
    if let Some(native) = source.downcast_ref::<crate::exec::mysql_native::MyError>() {
        return native.server();
    }
    let sqlx::Error::Database(db) = source.downcast_ref::<sqlx::Error>()? else {
        return None;
    };
    let my = db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()?;
    Some((my.number(), my.message()))
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
