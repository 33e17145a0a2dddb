//! The SQL dialects and what each can do, as data: the checks and the lowering rules of the
//! compiler read [`Capabilities`], not the dialect's name, so a driver can later bring its own.

/// A SQL dialect.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Dialect {
    /// PostgreSQL.
    Postgres,
    /// MySQL and MariaDB.
    MySql,
    /// SQLite.
    Sqlite,
}

/// What a dialect offers, where the compiler's output depends on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Capabilities {
    /// `INSERT ... RETURNING` (MySQL has none: the ORM reads the row back by its key).
    pub returning: bool,
    /// The most parameters one statement may bind.
    pub max_bind_parameters: usize,
    /// `OFFSET` without `LIMIT` (MySQL and SQLite need a limit: the largest one is written).
    pub offset_without_limit: bool,
    /// NULL sorts as the largest value (PostgreSQL); elsewhere as the smallest.
    pub nulls_sort_largest: bool,
    /// Row locks (`FOR UPDATE`, `SKIP LOCKED`, `NOWAIT`); SQLite has none (its transactions
    /// are serializable).
    pub row_locks: bool,
    /// Decimals are stored as scaled integers or text, not as an exact decimal type (SQLite).
    pub stored_decimals: bool,
    /// An `IN (subquery)` may hold a `LIMIT` and read the table an `UPDATE`/`DELETE` writes
    /// (MariaDB refuses both unless the subquery is wrapped in a derived table).
    pub direct_in_subquery: bool,
    /// `EXPLAIN` that also runs the query and reports what happened (PostgreSQL's
    /// `EXPLAIN ANALYZE`, MariaDB's `ANALYZE`); SQLite has only `EXPLAIN QUERY PLAN`.
    pub explain_analyze: bool,
    /// Index hints (`USE`/`FORCE`/`IGNORE INDEX`, MySQL and MariaDB); elsewhere a hint is
    /// left out (PostgreSQL has no optimizer hints).
    pub index_hints: bool,
}

impl Dialect {
    /// Every dialect, for tests and tools that loop over them.
    pub const ALL: [Dialect; 3] = [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite];

    /// Short lowercase name (`postgres`, `mysql`, `sqlite`).
    pub const fn name(self) -> &'static str {
        match self {
            Dialect::Postgres => "postgres",
            Dialect::MySql => "mysql",
            Dialect::Sqlite => "sqlite",
        }
    }

    /// What this dialect offers (one table for every rule that depends on it).
    pub const fn capabilities(self) -> Capabilities {
        match self {
            Dialect::Postgres => Capabilities {
                returning: true,
                max_bind_parameters: 65_535,
                offset_without_limit: true,
                nulls_sort_largest: true,
                row_locks: true,
                stored_decimals: false,
                direct_in_subquery: true,
                explain_analyze: true,
                index_hints: false,
            },
            Dialect::MySql => Capabilities {
                returning: false,
                max_bind_parameters: 65_535,
                offset_without_limit: false,
                nulls_sort_largest: false,
                row_locks: true,
                stored_decimals: false,
                direct_in_subquery: false,
                explain_analyze: true,
                index_hints: true,
            },
            Dialect::Sqlite => Capabilities {
                returning: true,
                // Since SQLite 3.32.
                max_bind_parameters: 32_766,
                offset_without_limit: false,
                nulls_sort_largest: false,
                row_locks: false,
                stored_decimals: true,
                direct_in_subquery: true,
                explain_analyze: false,
                index_hints: false,
            },
        }
    }

    /// The most parameters one statement may bind (PostgreSQL and MySQL: 65,535; SQLite:
    /// 32,766 since 3.32). `insert_many` splits larger inserts into chunks under it.
    pub const fn max_bind_parameters(self) -> usize {
        self.capabilities().max_bind_parameters
    }

    /// Whether `INSERT ... RETURNING` is available (MySQL has no RETURNING; the ORM reads the
    /// row back by its key instead).
    pub const fn has_returning(self) -> bool {
        self.capabilities().returning
    }
}

impl std::fmt::Display for Dialect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
