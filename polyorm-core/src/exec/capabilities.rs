//! What each backend offers, as data: the executor, the transaction API and tools read these
//! flags rather than matching on the backend's name, so a new driver states what it can do in
//! one table.

use super::{Backend, IsolationLevel};
use crate::sql::Dialect;

/// What a backend offers ([`Executor::capabilities`](super::Executor::capabilities)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackendCapabilities {
    /// The SQL dialect statements compile to; `None` for a backend that does not run SQL
    /// (raw SQL, DDL text and `Db::acquire` are refused there).
    pub sql: Option<Dialect>,
    /// What the SQL compiler may emit for the dialect (`RETURNING`, row locks, parameter
    /// limits, …); `None` without SQL.
    pub query: Option<crate::sql::Capabilities>,
    /// Multi-statement transactions (MongoDB: on a replica set or sharded cluster).
    pub transactions: bool,
    /// Savepoints inside a transaction (nested `Transaction::savepoint`).
    pub savepoints: bool,
    /// The isolation levels a transaction may ask for (SQLite accepts every level and is
    /// always serializable).
    pub isolation_levels: &'static [IsolationLevel],
    /// Read-only transactions (`TxOptions::read_only`).
    pub read_only_transactions: bool,
    /// Row locks in selects (`for_update`, `skip_locked`, `nowait`).
    pub row_locks: bool,
    /// Joins in one statement (MongoDB runs them as `$lookup` stages).
    pub joins: bool,
    /// Aggregates and `GROUP BY` in one statement (MongoDB: `$group` stages).
    pub aggregates: bool,
    /// The most values one statement may bind; `None` where there is no such limit.
    pub max_bind_parameters: Option<usize>,
    /// A connection can be held for session state ([`Db::acquire`](super::Db::acquire)).
    pub dedicated_connections: bool,
}

const ALL_LEVELS: &[IsolationLevel] = &[
    IsolationLevel::ReadCommitted,
    IsolationLevel::RepeatableRead,
    IsolationLevel::Serializable,
];

impl BackendCapabilities {
    /// The capabilities of a SQL dialect's drivers.
    pub const fn of_dialect(dialect: Dialect) -> Self {
        let query = dialect.capabilities();
        BackendCapabilities {
            sql: Some(dialect),
            query: Some(query),
            transactions: true,
            savepoints: true,
            isolation_levels: ALL_LEVELS,
            read_only_transactions: !matches!(dialect, Dialect::Sqlite),
            row_locks: query.row_locks,
            joins: true,
            aggregates: true,
            max_bind_parameters: Some(query.max_bind_parameters),
            dedicated_connections: true,
        }
    }

    /// MongoDB's: transactions without savepoints or `Serializable`, joins and aggregates as
    /// pipeline stages, no row locks, no SQL.
    pub const MONGODB: BackendCapabilities = BackendCapabilities {
        sql: None,
        query: None,
        transactions: true,
        savepoints: false,
        isolation_levels: &[
            IsolationLevel::ReadCommitted,
            IsolationLevel::RepeatableRead,
        ],
        read_only_transactions: false,
        row_locks: false,
        joins: true,
        aggregates: true,
        max_bind_parameters: None,
        dedicated_connections: false,
    };
}

impl BackendCapabilities {
    /// DynamoDB's: transactions as one `TransactWriteItems` at commit (no savepoints, no
    /// isolation levels to choose, no read-only mode), no joins, aggregates, row locks or SQL.
    pub const DYNAMODB: BackendCapabilities = BackendCapabilities {
        sql: None,
        query: None,
        transactions: true,
        savepoints: false,
        isolation_levels: &[],
        read_only_transactions: false,
        row_locks: false,
        joins: false,
        aggregates: false,
        max_bind_parameters: None,
        dedicated_connections: false,
    };
}

impl Backend {
    /// What this backend offers.
    pub const fn capabilities(self) -> BackendCapabilities {
        match self {
            Backend::Sql(dialect) => BackendCapabilities::of_dialect(dialect),
            Backend::MongoDb => BackendCapabilities::MONGODB,
            Backend::DynamoDb => BackendCapabilities::DYNAMODB,
        }
    }
}
