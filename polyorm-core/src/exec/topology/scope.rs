//! Task-local scopes: statements forced to the primary, and read-your-writes tokens.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::position::Position;

tokio::task_local! {
    static SCOPE: Scope;
}

/// What the innermost scope of the running task asks.
#[derive(Clone, Default)]
pub(super) struct Scope {
    /// `Topology::primary_scope`: everything runs on the primary.
    pub(super) force_primary: bool,
    /// `Topology::read_your_writes`: the writes of this scope, for reads to wait for.
    pub(super) token: Option<std::sync::Arc<Token>>,
}

/// The writes a read-your-writes scope made on one topology.
pub(super) struct Token {
    /// The topology (its address) whose writes this token tracks.
    pub(super) owner: usize,
    /// A write ran since the primary's position was last read.
    dirty: AtomicBool,
    /// The primary's position after the scope's last write, once read.
    needed: Mutex<Option<Position>>,
}

impl Token {
    pub(super) fn new(owner: usize) -> Token {
        Token {
            owner,
            dirty: AtomicBool::new(false),
            needed: Mutex::new(None),
        }
    }

    pub(super) fn mark_dirty(&self) {
        self.dirty.store(true, Ordering::Release);
    }

    /// Whether a write ran since the position was last read (and clears the flag).
    pub(super) fn take_dirty(&self) -> bool {
        self.dirty.swap(false, Ordering::AcqRel)
    }

    pub(super) fn needed(&self) -> Option<Position> {
        self.needed
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub(super) fn merge(&self, position: Position) {
        let mut needed = self.needed.lock().unwrap_or_else(|e| e.into_inner());
        *needed = Some(match needed.take() {
            Some(old) => old.max(position),
            None => position,
        });
    }
}

/// The scope of the running task, if it is in one.
#[inline]
pub(super) fn current() -> Option<Scope> {
    SCOPE.try_with(Scope::clone).ok()
}

/// Whether the running task is in a scope that forces the primary, and its token for
/// `owner`'s writes (without cloning the scope when there is none).
#[inline]
pub(super) fn lookup(owner: usize) -> (bool, Option<std::sync::Arc<Token>>) {
    SCOPE
        .try_with(|scope| {
            (
                scope.force_primary,
                scope.token.as_ref().filter(|t| t.owner == owner).cloned(),
            )
        })
        .unwrap_or((false, None))
}

/// Runs `future` in `scope`.
pub(super) async fn run<F: std::future::Future>(scope: Scope, future: F) -> F::Output {
    SCOPE.scope(scope, future).await
}
