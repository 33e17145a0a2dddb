//! Which errors say something about the node (it is down, unreachable, or no longer the
//! primary) rather than about the statement.

use crate::error::Error;
use crate::exec::errors::database_code;

/// The node could not be reached or its connection broke: counts on its breaker, and a read
/// may run on another node.
pub(super) fn node_failed(error: &Error) -> bool {
    matches!(
        error,
        Error::Connection { .. } | Error::ConnectionLost { .. } | Error::NodeUnavailable { .. }
    ) || read_only(error)
        || shutting_down(error)
}

/// The statement was certainly not applied: no connection was made, or the server refused
/// it as read-only.
pub(super) fn not_applied(error: &Error) -> bool {
    matches!(error, Error::Connection { .. }) || read_only(error) || shutting_down(error)
}

/// PostgreSQL `25006` (read_only_sql_transaction: a demoted primary, a standby), MariaDB
/// `1290` (running with `--read-only`) and `1836` (read-only mode).
pub(super) fn read_only(error: &Error) -> bool {
    database_code(error).is_some_and(|code| matches!(code.as_str(), "25006" | "1290" | "1836"))
}

/// PostgreSQL `57P03` (cannot_connect_now: starting up, shutting down, in recovery).
fn shutting_down(error: &Error) -> bool {
    database_code(error).is_some_and(|code| code == "57P03")
}
