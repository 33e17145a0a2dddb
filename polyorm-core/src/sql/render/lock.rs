//! `FOR UPDATE`, `SKIP LOCKED`, `NOWAIT` (checked against the dialect by `check::select`).

use sea_query::{LockBehavior, LockType, SelectStatement};

use crate::query::ir::RowLock;
use crate::sql::Dialect;

/// Writes the row lock of a select. SQLite has no row locks: its transactions are
/// serializable, so a conflicting writer fails with a retryable
/// `LockTimeout`/`SerializationFailure` instead of waiting, and `for_update()` adds nothing.
pub(super) fn render(select: &mut SelectStatement, lock: Option<RowLock>, dialect: Dialect) {
    if !dialect.capabilities().row_locks {
        return;
    }
    match lock {
        None => {}
        Some(RowLock::ForUpdate) => {
            select.lock(LockType::Update);
        }
        Some(RowLock::SkipLocked) => {
            select.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        Some(RowLock::NoWait) => {
            select.lock_with_behavior(LockType::Update, LockBehavior::Nowait);
        }
    }
}
