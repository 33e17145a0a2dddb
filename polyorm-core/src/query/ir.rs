//! The backend-neutral query IR that the SQL (and later BSON) compilers read.
//!
//! Builders in [`crate::query`] are typed at the edges; once built, a statement is plain data
//! over static schema names and bound [`Value`]s.

use crate::schema::ModelSchema;
use crate::value::Value;

/// A column of a table, by database names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ColumnRef {
    /// Table name, or the alias of a joined table ([`JoinClause::alias`]) for the joined
    /// side of a join of a table with itself.
    pub table: &'static str,
    /// Column name.
    pub name: &'static str,
}

impl ColumnRef {
    /// The column `name` of `table`.
    pub const fn new(table: &'static str, name: &'static str) -> Self {
        ColumnRef { table, name }
    }
}

/// A binary comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// A boolean condition over one table's columns.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Condition {
    /// `column <op> value`; `Eq`/`Ne` with a NULL value mean `IS NULL`/`IS NOT NULL`.
    Compare {
        /// Left side.
        column: ColumnRef,
        /// Operator.
        op: CmpOp,
        /// Right side, bound as a parameter.
        value: Value,
    },
    /// `column BETWEEN low AND high` (inclusive).
    Between {
        /// Tested column.
        column: ColumnRef,
        /// Inclusive lower bound.
        low: Value,
        /// Inclusive upper bound.
        high: Value,
    },
    /// `column IN (...)` or `NOT IN`; an empty list is false (`IN`) or true (`NOT IN`).
    InList {
        /// Tested column.
        column: ColumnRef,
        /// Candidate values.
        values: Vec<Value>,
        /// `NOT IN` when true.
        negated: bool,
    },
    /// `column LIKE pattern` with `\` as the escape character.
    Like {
        /// Tested column.
        column: ColumnRef,
        /// Pattern with `%` and `_` wildcards.
        pattern: String,
        /// Case-insensitive match (`ilike`).
        case_insensitive: bool,
    },
    /// `expr <op> value` over a selected expression (an aggregate in `HAVING`).
    CompareExpr {
        /// Left side.
        expr: SelectExpr,
        /// Operator.
        op: CmpOp,
        /// Right side, bound as a parameter.
        value: Value,
    },
    /// `column IS NULL` or `IS NOT NULL`.
    IsNull {
        /// Tested column.
        column: ColumnRef,
        /// `IS NOT NULL` when true.
        negated: bool,
    },
    /// `column IN (SELECT expr FROM ...)` or `NOT IN`: the subquery selects exactly one
    /// expression. As in SQL, and as [`Condition::InList`], `NOT IN` matches no row when the
    /// subquery returns a NULL.
    InSubquery {
        /// Tested column.
        column: ColumnRef,
        /// A select with a one-expression [`Projection::Exprs`].
        subquery: Box<SelectQuery>,
        /// `NOT IN` when true.
        negated: bool,
    },
    /// `EXISTS (SELECT 1 FROM sub WHERE sub.inner = outer AND sub.filter)`: some row of the
    /// subquery's table is related to the outer row (a relation's `exists`).
    Exists {
        /// The related rows; only its table and filter are read.
        subquery: Box<SelectQuery>,
        /// The subquery table's column that must equal `outer`.
        inner: ColumnRef,
        /// The outer query's column.
        outer: ColumnRef,
    },
    /// All conditions hold (true when empty).
    And(Vec<Condition>),
    /// At least one condition holds (false when empty).
    Or(Vec<Condition>),
    /// The condition does not hold.
    Not(Box<Condition>),
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Ascending.
    Asc,
    /// Descending.
    Desc,
}

/// Where NULLs go in an ordering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Nulls {
    /// NULLs before every value.
    First,
    /// NULLs after every value.
    Last,
}

/// One `ORDER BY` term.
///
/// Without an explicit [`Nulls`], NULL sorts as the smallest value on every backend: first
/// ascending, last descending (the native order of MySQL, SQLite and MongoDB; PostgreSQL gets
/// `NULLS FIRST`/`NULLS LAST` written out).
#[derive(Debug, Clone, PartialEq)]
pub struct OrderBy {
    /// Sorted expression (a column, an aggregate of a grouped projection, a computed value).
    pub expr: SelectExpr,
    /// Direction.
    pub direction: Direction,
    /// Explicit placement of NULLs; `None` is the portable default (NULL is smallest).
    pub nulls: Option<Nulls>,
}

impl OrderBy {
    /// An ascending or descending order on `column` with the default NULL placement.
    pub fn column(column: ColumnRef, direction: Direction) -> Self {
        OrderBy {
            expr: SelectExpr::Column(column),
            direction,
            nulls: None,
        }
    }

    /// Where NULLs end up: the explicit choice, else first ascending and last descending.
    pub fn effective_nulls(&self) -> Nulls {
        match (self.nulls, self.direction) {
            (Some(nulls), _) => nulls,
            (None, Direction::Asc) => Nulls::First,
            (None, Direction::Desc) => Nulls::Last,
        }
    }
}

/// An aggregate function.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AggregateFn {
    /// `COUNT(*)` without a column, `COUNT(col)` (non-NULL values) with one.
    Count,
    /// `COUNT(DISTINCT col)`: the number of distinct non-NULL values.
    CountDistinct,
    /// `SUM(col)`: `i64` for integer columns, `f64` for floating-point ones, an exact decimal
    /// for decimal ones; NULL over no row.
    Sum,
    /// `AVG(col)`: an `f64` over integers and floats; over decimals an exact decimal rounded
    /// half away from zero to the column's scale, on every dialect. NULL over no row.
    Avg,
    /// `MIN(col)`, of the column's type; NULL over no row.
    Min,
    /// `MAX(col)`, of the column's type; NULL over no row.
    Max,
}

impl AggregateFn {
    /// Whether this is a count (`COUNT`, `COUNT(DISTINCT)`): an `i64`, 0 over no row, never
    /// NULL.
    pub const fn is_count(self) -> bool {
        matches!(self, AggregateFn::Count | AggregateFn::CountDistinct)
    }
}

/// A part of a date or timestamp that [`SelectExpr::Extract`] reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DatePart {
    /// The year (e.g. 2024).
    Year,
    /// The month, 1 to 12.
    Month,
    /// The day of the month, 1 to 31.
    Day,
}

/// How [`SelectExpr::Fold`] changes the case of text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaseFold {
    /// `A`-`Z` become `a`-`z`; every other character is kept.
    Lower,
    /// `a`-`z` become `A`-`Z`; every other character is kept.
    Upper,
}

/// One selected (or sorted, or compared, or grouped) expression. Expressions nest:
/// arithmetic, `COALESCE`, `CASE WHEN` and casts take expressions as operands.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SelectExpr {
    /// A column.
    Column(ColumnRef),
    /// A text column with its ASCII letters folded to one case, identically on every dialect
    /// (other characters, accented capitals included, are kept as they are).
    Fold {
        /// The folding.
        fold: CaseFold,
        /// The text column.
        column: ColumnRef,
    },
    /// A part of a date or timestamp column, as an integer (timestamps are read in UTC).
    Extract {
        /// The part.
        part: DatePart,
        /// The date or timestamp column.
        column: ColumnRef,
    },
    /// An aggregate over a column (or over all rows for `COUNT(*)`).
    Aggregate {
        /// The function.
        function: AggregateFn,
        /// Its argument; `None` only for `COUNT(*)`.
        column: Option<ColumnRef>,
        /// What the column holds, which decides the type of `SUM` and `AVG`.
        kind: ValueKind,
    },
    /// An aggregate over a computed expression (`SUM(price * quantity)`).
    AggregateOf {
        /// The function (`COUNT(DISTINCT)` included).
        function: AggregateFn,
        /// The aggregated expression.
        arg: Box<SelectExpr>,
        /// What the expression's values are, which decides the type of `SUM` and `AVG`.
        kind: ValueKind,
    },
    /// A value operand (`price * 2`), bound as a parameter.
    Value(Value),
    /// `left <op> right` over numbers of one [`ValueKind`] (see [`ArithOp`] for what each
    /// operator means on every dialect).
    Arith {
        /// The operator.
        op: ArithOp,
        /// Left operand.
        left: Box<SelectExpr>,
        /// Right operand.
        right: Box<SelectExpr>,
        /// What the operands and the result are: integers (computed in 64 bits), floats or
        /// exact decimals.
        kind: ValueKind,
    },
    /// `COALESCE(a, b, ...)`: the first operand that is not NULL.
    Coalesce(Vec<SelectExpr>),
    /// `CASE WHEN c1 THEN e1 WHEN c2 THEN e2 ... ELSE otherwise END`.
    Case {
        /// The conditions, tried in order, each with its result.
        branches: Vec<(Condition, SelectExpr)>,
        /// The result when no condition holds (a NULL [`SelectExpr::Value`] for none).
        otherwise: Box<SelectExpr>,
    },
    /// `CAST(expr AS ...)` to a portable type.
    Cast {
        /// The converted expression.
        expr: Box<SelectExpr>,
        /// The type it becomes.
        to: CastTo,
    },
    /// A window function: `f(..) OVER (PARTITION BY .. ORDER BY .. frame)`, computed per row
    /// over its partition (only in the select list and `ORDER BY`; SQL refuses it in `WHERE`,
    /// `GROUP BY` and `HAVING`).
    Window(Box<WindowExpr>),
}

/// `function OVER (PARTITION BY partition_by ORDER BY order_by frame)`.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowExpr {
    /// The function computed over the window.
    pub function: WindowFn,
    /// The rows of one partition share these values (all rows when empty).
    pub partition_by: Vec<SelectExpr>,
    /// The order of the rows within a partition.
    pub order_by: Vec<OrderBy>,
    /// The rows an aggregate reads around the current one (the dialects' default when `None`:
    /// the partition up to the current row's last peer when ordered, else all of it).
    pub frame: Option<WindowFrame>,
}

/// A function of a [`WindowExpr`].
#[derive(Debug, Clone, PartialEq)]
pub enum WindowFn {
    /// `ROW_NUMBER()`: 1, 2, 3, .. in the window's order (ties numbered arbitrarily).
    RowNumber,
    /// `RANK()`: ties share a rank, the next rank skips (1, 1, 3).
    Rank,
    /// `DENSE_RANK()`: ties share a rank, the next does not skip (1, 1, 2).
    DenseRank,
    /// `LAG(expr, offset)`: `expr` of the row `offset` rows before, NULL before the first.
    Lag {
        /// The value read from the earlier row.
        expr: SelectExpr,
        /// How many rows back.
        offset: u32,
    },
    /// `LEAD(expr, offset)`: `expr` of the row `offset` rows after, NULL after the last.
    Lead {
        /// The value read from the later row.
        expr: SelectExpr,
        /// How many rows ahead.
        offset: u32,
    },
    /// An aggregate over the window's frame (`SUM(ms) OVER (..)`); `arg` `None` for `COUNT(*)`.
    Aggregate {
        /// The function.
        function: AggregateFn,
        /// Its argument.
        arg: Option<SelectExpr>,
        /// What the argument holds (the result type of `SUM` and `AVG`).
        kind: ValueKind,
    },
}

/// The frame of a window: which rows around the current one an aggregate reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WindowFrame {
    /// `ROWS` (counted rows) or `RANGE` (rows by value of the single order key).
    pub unit: FrameUnit,
    /// The first row of the frame.
    pub start: FrameBound,
    /// The last row of the frame.
    pub end: FrameBound,
}

/// How a [`WindowFrame`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameUnit {
    /// Physical rows.
    Rows,
    /// Peers by the order key's value (only unbounded or current-row bounds are portable).
    Range,
}

/// One end of a [`WindowFrame`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameBound {
    /// The partition's first row.
    UnboundedPreceding,
    /// `n` rows before the current one.
    Preceding(u32),
    /// The current row.
    CurrentRow,
    /// `n` rows after the current one.
    Following(u32),
    /// The partition's last row.
    UnboundedFollowing,
}

impl WindowExpr {
    /// Every expression the window reads: the function's argument, the partition keys and
    /// the order keys.
    fn operands_mut(&mut self) -> impl Iterator<Item = &mut SelectExpr> {
        let arg = match &mut self.function {
            WindowFn::Lag { expr, .. } | WindowFn::Lead { expr, .. } => Some(expr),
            WindowFn::Aggregate { arg, .. } => arg.as_mut(),
            WindowFn::RowNumber | WindowFn::Rank | WindowFn::DenseRank => None,
        };
        arg.into_iter()
            .chain(self.partition_by.iter_mut())
            .chain(self.order_by.iter_mut().map(|o| &mut o.expr))
    }

    /// Every expression the window reads: the function's argument, the partition keys and
    /// the order keys.
    pub fn operands(&self) -> impl Iterator<Item = &SelectExpr> {
        let arg = match &self.function {
            WindowFn::Lag { expr, .. } | WindowFn::Lead { expr, .. } => Some(expr),
            WindowFn::Aggregate { arg, .. } => arg.as_ref(),
            WindowFn::RowNumber | WindowFn::Rank | WindowFn::DenseRank => None,
        };
        arg.into_iter()
            .chain(self.partition_by.iter())
            .chain(self.order_by.iter().map(|o| &o.expr))
    }
}

/// An arithmetic operator of [`SelectExpr::Arith`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArithOp {
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`: integer division truncates toward zero (`DIV` on MySQL, whose `/` gives a
    /// decimal); a zero divisor gives NULL on every dialect (PostgreSQL would raise an error:
    /// the divisor is written `NULLIF(divisor, 0)`). Decimals are not divided (no exact
    /// portable result).
    Div,
}

/// The type a [`SelectExpr::Cast`] converts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CastTo {
    /// A 64-bit integer (`BIGINT`, MySQL `SIGNED`, SQLite `INTEGER`), from an integer.
    Integer,
    /// A 64-bit float (`DOUBLE PRECISION`, `DOUBLE`, `REAL`), from an integer, a float or a
    /// decimal (its nearest float).
    Float,
    /// Text (`TEXT`, MySQL `CHAR`), from an integer: its decimal digits.
    Text,
}

/// What an aggregated column holds: integer sums are `i64`, float sums and every average
/// `f64`, decimal sums exact decimals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ValueKind {
    /// Integers.
    Integer,
    /// Floating-point numbers.
    Float,
    /// Exact decimals.
    Decimal,
    /// Anything else (`MIN`/`MAX`/`COUNT` of any column).
    Other,
}

/// A projection onto expressions, with grouping.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregation {
    /// The selected expressions, decoded by position.
    pub exprs: Vec<SelectExpr>,
    /// `GROUP BY` columns and computed expressions (`year()`, `lower()`; never aggregates).
    pub group_by: Vec<SelectExpr>,
    /// `HAVING` condition (over aggregates and grouped columns).
    pub having: Option<Condition>,
    /// `SELECT DISTINCT`: duplicate result rows are returned once.
    pub distinct: bool,
}

/// What a select returns.
#[derive(Debug, Clone, PartialEq)]
pub enum Projection {
    /// Every stored column of the model, in schema order.
    Model,
    /// `COUNT(*)` of the matching rows (respecting limit and offset).
    Count,
    /// Whether any row matches (`SELECT 1 ... LIMIT 1`).
    Exists,
    /// Chosen expressions and aggregates, optionally grouped.
    Exprs(Box<Aggregation>),
}

/// A `SELECT` over one model's table.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectQuery {
    /// The model read.
    pub schema: &'static ModelSchema,
    /// What to return.
    pub projection: Projection,
    /// `WHERE` condition.
    pub filter: Option<Condition>,
    /// `ORDER BY` terms.
    pub order: Vec<OrderBy>,
    /// `LIMIT`.
    pub limit: Option<u64>,
    /// `OFFSET`.
    pub offset: Option<u64>,
    /// Row locking (`FOR UPDATE`), inside a transaction.
    pub lock: Option<RowLock>,
    /// Tables joined to the model's, in order (a whole-row select returns their columns after
    /// the model's, in this order); each join's `ON` may read the model or an earlier join.
    pub joins: Vec<JoinClause>,
    /// An optimizer hint on the model's table (MySQL/MariaDB only; advisory elsewhere).
    pub index_hint: Option<IndexHint>,
    /// Keyset pagination: only the rows after this one (every column value of the model, in
    /// schema order) in the query's order; see [`crate::query::keyset`].
    pub after: Option<Vec<Value>>,
    /// A select over this one's rows, which it reads as a derived table (to filter on a
    /// window function: top-N per group); its conditions name [`DERIVED_TABLE`]'s columns.
    pub outer: Option<Box<OuterSelect>>,
    /// Selects combined with this one's rows, in order (`UNION`, `INTERSECT`, `EXCEPT`); each
    /// selects as many expressions of the same types, and none is sorted or paged (the
    /// combined rows are, through [`Self::outer`]).
    pub compound: Vec<Compound>,
    /// A walk of a tree in the model's table (`WITH RECURSIVE`): the rows the filter selects,
    /// then their related rows level by level; each row comes with its depth.
    pub walk: Option<Box<TreeWalk>>,
    /// Common table expressions the query reads (`WITH name (c0, c1, ..) AS (<select>)`),
    /// each after those it reads; joins and the `FROM` of a CTE's rows name them like tables.
    pub with: Vec<CommonTable>,
    /// How a key-value backend (DynamoDB) may read: whether a full-table scan is allowed and
    /// whether reads are strongly consistent. SQL databases and MongoDB ignore it.
    pub read: ReadOptions,
}

/// Read options of key-value backends ([`SelectQuery::read`]); SQL and MongoDB ignore them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ReadOptions {
    /// A filter that no key or index serves may run as a full-table `Scan` (otherwise it is
    /// an [`Error::InvalidQuery`](crate::Error::InvalidQuery) naming the missing index).
    pub allow_scan: bool,
    /// Strongly consistent reads (DynamoDB's `ConsistentRead`); eventually consistent
    /// otherwise.
    pub consistent: bool,
}

/// The name of the common table expression of a [`TreeWalk`].
pub const WALK_TABLE: &str = "walk";

/// The column of a [`TreeWalk`] row holding its depth (0 for the starting rows).
pub const WALK_DEPTH: &str = "depth";

/// `WITH RECURSIVE walk AS (<start rows, depth 0> UNION ALL SELECT next.*, walk.depth + 1 FROM
/// t AS next JOIN walk ON next.step = walk.from WHERE walk.depth < max_depth) SELECT * FROM
/// walk`: the rows a select's filter picks, then the rows a self-relation reaches from them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TreeWalk {
    /// The column of the next level's rows (`reports_to` for the reports of a manager).
    pub step: ColumnRef,
    /// The column of the current level's rows it equals (`id`).
    pub from: ColumnRef,
    /// The deepest level walked to (a guard against cycles in the data).
    pub max_depth: u32,
}

/// A set operation combining a select's rows with another select's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SetOp {
    /// `UNION`: the rows of either, each distinct row once.
    Union,
    /// `UNION ALL`: the rows of both, duplicates kept.
    UnionAll,
    /// `INTERSECT`: the distinct rows of both.
    Intersect,
    /// `EXCEPT`: the distinct rows of the first that the second lacks.
    Except,
}

impl SetOp {
    /// The builder's name of this operation, for errors that name it.
    pub const fn method(self) -> &'static str {
        match self {
            SetOp::Union => "union",
            SetOp::UnionAll => "union_all",
            SetOp::Intersect => "intersect",
            SetOp::Except => "except",
        }
    }
}

/// One member of a compound select: `<op> <query>`.
#[derive(Debug, Clone, PartialEq)]
pub struct Compound {
    /// How its rows combine with those before it.
    pub op: SetOp,
    /// The combined select.
    pub query: SelectQuery,
}

/// `name (c0, c1, ..) AS (<query>)`: a select named in a `WITH` clause, read like a table by
/// the query that lists it (and by the common tables after it).
#[derive(Debug, Clone, PartialEq)]
pub struct CommonTable {
    /// The name the query reads its rows by.
    pub name: &'static str,
    /// Its rows: a projection (its expressions are the columns [`DERIVED_COLUMNS`], in order),
    /// which may itself be a derived table or a set operation.
    pub query: SelectQuery,
}

/// The [`ModelSchema::name`] of a common table's descriptor (what a join of one reads): no
/// Rust struct is named so.
pub const COMMON_TABLE: &str = "common table expression";

/// The alias of the derived table an [`OuterSelect`] reads.
pub const DERIVED_TABLE: &str = "derived";

/// The names of a derived table's columns, by position in the inner select list.
pub const DERIVED_COLUMNS: [&str; 8] = ["c0", "c1", "c2", "c3", "c4", "c5", "c6", "c7"];

/// `SELECT c0, c1, .. FROM (<the select>) AS derived WHERE .. ORDER BY .. LIMIT .. OFFSET ..`:
/// the inner select's expressions, named [`DERIVED_COLUMNS`], filtered, sorted and paged once
/// computed (window functions included).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct OuterSelect {
    /// `WHERE` over the derived columns.
    pub filter: Option<Condition>,
    /// `ORDER BY` over the derived columns.
    pub order: Vec<OrderBy>,
    /// `LIMIT`.
    pub limit: Option<u64>,
    /// `OFFSET`.
    pub offset: Option<u64>,
}

/// What an [`IndexHint`] asks of the optimizer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IndexHintKind {
    /// `USE INDEX (name)`: consider only this index.
    Use,
    /// `FORCE INDEX (name)`: use this index unless it cannot serve the query at all.
    Force,
    /// `IGNORE INDEX (name)`: never use this index.
    Ignore,
}

/// A MySQL/MariaDB index hint on the model's table. PostgreSQL has no optimizer hints and
/// SQLite's `INDEXED BY` fails a query its index cannot serve: both compile the query without
/// it, as does MongoDB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct IndexHint {
    /// Use, force or ignore.
    pub kind: IndexHintKind,
    /// The index, one of the model's (`ModelSchema::indexes`).
    pub index: &'static str,
}

impl SelectQuery {
    /// A select of `schema`'s table returning `projection`, with no filter, order or limit.
    pub fn new(schema: &'static ModelSchema, projection: Projection) -> Self {
        SelectQuery {
            schema,
            projection,
            filter: None,
            order: Vec::new(),
            limit: None,
            offset: None,
            lock: None,
            joins: Vec::new(),
            index_hint: None,
            after: None,
            outer: None,
            compound: Vec::new(),
            walk: None,
            with: Vec::new(),
            read: ReadOptions::default(),
        }
    }
}

/// How rows of the joined table combine with the rows read so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JoinKind {
    /// Only rows that match.
    Inner,
    /// Every row read so far, with the matching joined row or NULLs.
    Left,
    /// Every joined row, with the matching rows read so far or NULLs (PostgreSQL, MySQL and
    /// SQLite 3.39+, the bundled one).
    Right,
    /// Every combination of the rows read so far with the joined rows (no `ON`).
    Cross,
}

impl JoinKind {
    /// The builder's name of this kind, for errors that name it.
    pub const fn method(self) -> &'static str {
        match self {
            JoinKind::Inner => "inner_join",
            JoinKind::Left => "left_join",
            JoinKind::Right => "right_join",
            JoinKind::Cross => "cross_join",
        }
    }
}

/// The equality of a join's `ON`: `joined = other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct JoinOn {
    /// The joined table's column (named through the join's alias when it has one).
    pub joined: ColumnRef,
    /// The column of the model or of an earlier join it equals.
    pub other: ColumnRef,
}

/// `<kind> JOIN other [AS alias] [ON other.column = earlier.column]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JoinClause {
    /// Inner, left, right or cross.
    pub kind: JoinKind,
    /// The joined model.
    pub schema: &'static ModelSchema,
    /// The name the joined table goes by when its name is already taken in the query (a
    /// self-join: employee ⋈ manager); the joined side's [`ColumnRef`]s then name this alias.
    pub alias: Option<&'static str>,
    /// The `ON` equality; `None` for a cross join.
    pub on: Option<JoinOn>,
}

/// The aliases joined tables take when their name is already in use, first free one first.
const JOIN_ALIASES: [&str; 8] = [
    "joined", "joined_2", "joined_3", "joined_4", "joined_5", "joined_6", "joined_7", "joined_8",
];

impl JoinClause {
    /// The alias a table joined to `query` needs: `None` when no table or alias of the
    /// query goes by its name, else the first free name of a fixed list (`None` past it: the
    /// compiler then refuses the query, whose table names clash).
    pub fn alias_in(query: &SelectQuery, joined_table: &'static str) -> Option<&'static str> {
        let taken = |name: &str| query.sources().any(|(qualifier, _)| qualifier == name);
        if !taken(joined_table) {
            return None;
        }
        JOIN_ALIASES.into_iter().find(|alias| !taken(alias))
    }

    /// The name the joined side's columns are qualified with: its alias, else its table.
    pub fn qualifier(&self) -> &'static str {
        self.alias.unwrap_or(self.schema.table)
    }

    /// `column` of the joined model's table as this join names it (through its alias).
    pub fn qualify(&self, column: ColumnRef) -> ColumnRef {
        match self.alias {
            Some(alias) if column.table == self.schema.table => ColumnRef {
                table: alias,
                name: column.name,
            },
            _ => column,
        }
    }
}

/// How a select locks the rows it reads until the end of the transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RowLock {
    /// `FOR UPDATE`: wait for rows locked by others.
    ForUpdate,
    /// `FOR UPDATE SKIP LOCKED`: leave out rows locked by others (job queues).
    SkipLocked,
    /// `FOR UPDATE NOWAIT`: fail at once with [`crate::Error::LockTimeout`] if a row is locked.
    NoWait,
}

/// An `INSERT` of one or more rows.
#[derive(Debug, Clone, PartialEq)]
pub struct InsertQuery {
    /// The model written.
    pub schema: &'static ModelSchema,
    /// Rows of values for [`ModelSchema::insert_columns`], in that order.
    pub rows: Vec<Vec<Value>>,
    /// Return every column of the inserted rows (`RETURNING`, where the dialect has it).
    pub returning: bool,
}

/// What an insert does with a row whose key or unique columns already exist.
#[derive(Debug, Clone, PartialEq)]
pub struct OnConflict {
    /// The unique (or key) columns whose conflict is handled (PostgreSQL and SQLite need a
    /// unique index on exactly these; MySQL applies the action on any unique key).
    pub columns: Vec<&'static str>,
    /// Columns overwritten with the new row's values; empty means "do nothing".
    pub update: Vec<&'static str>,
}

/// An insert that updates (or skips) rows that conflict with existing ones.
#[derive(Debug, Clone, PartialEq)]
pub struct UpsertQuery {
    /// The rows to insert.
    pub insert: InsertQuery,
    /// What to do on a conflict.
    pub on_conflict: OnConflict,
}

/// The new value of a column in an update.
#[derive(Debug, Clone, PartialEq)]
pub enum Assignment {
    /// `column = value`.
    Value(Value),
    /// `column = source + delta` (`$inc` on MongoDB when `source` is the column itself).
    Add {
        /// The column read.
        source: &'static str,
        /// The amount added, bound as a parameter.
        delta: Value,
    },
}

/// An `UPDATE` of the rows matching a condition.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateQuery {
    /// The model written.
    pub schema: &'static ModelSchema,
    /// `SET column = ...` pairs.
    pub assignments: Vec<(&'static str, Assignment)>,
    /// `WHERE` condition.
    pub filter: Option<Condition>,
}

/// A `DELETE` of the rows matching a condition.
#[derive(Debug, Clone, PartialEq)]
pub struct DeleteQuery {
    /// The model deleted from.
    pub schema: &'static ModelSchema,
    /// `WHERE` condition.
    pub filter: Option<Condition>,
}

/// Any statement of the IR.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// A select.
    Select(SelectQuery),
    /// An insert.
    Insert(InsertQuery),
    /// An insert that updates or skips conflicting rows.
    Upsert(UpsertQuery),
    /// An update.
    Update(UpdateQuery),
    /// A delete.
    Delete(DeleteQuery),
}

impl Statement {
    /// The model the statement reads or writes (an upsert's: the one it inserts into).
    pub fn schema(&self) -> &'static ModelSchema {
        match self {
            Statement::Select(q) => q.schema,
            Statement::Insert(q) => q.schema,
            Statement::Upsert(q) => q.insert.schema,
            Statement::Update(q) => q.schema,
            Statement::Delete(q) => q.schema,
        }
    }
}

impl SelectQuery {
    /// The model whose table `column` names in this query: the model's own, or the joined
    /// one (by its alias in a self-join); `None` for a column of neither.
    pub fn schema_of(&self, column: &ColumnRef) -> Option<&'static ModelSchema> {
        self.sources()
            .find(|(name, _)| *name == column.table)
            .map(|(_, schema)| schema)
    }

    /// Each table the query reads at its own level with the name its columns are qualified
    /// with: the model's, then each join's (by its alias when it has one).
    pub fn sources(&self) -> impl Iterator<Item = (&'static str, &'static ModelSchema)> + '_ {
        std::iter::once((self.schema.table, self.schema))
            .chain(self.joins.iter().map(|j| (j.qualifier(), j.schema)))
    }

    /// Every table the query reads: its own, the joined one and those of its subqueries, in
    /// first-seen order without repeats (what a cache entry depends on).
    pub fn tables(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        self.collect_tables(&mut out);
        // A common table's name is no table: the tables its select reads are listed instead.
        if !self.with.is_empty() {
            out.retain(|table| !self.with.iter().any(|c| c.name == *table));
        }
        out
    }

    fn collect_tables(&self, out: &mut Vec<&'static str>) {
        for common in &self.with {
            common.query.collect_tables(out);
        }
        let mut push = |table| {
            if !out.contains(&table) {
                out.push(table);
            }
        };
        push(self.schema.table);
        for join in &self.joins {
            push(join.schema.table);
        }
        let having = match &self.projection {
            Projection::Exprs(aggregation) => aggregation.having.as_ref(),
            _ => None,
        };
        for condition in self.filter.iter().chain(having) {
            condition.visit_subqueries(&mut |sub| sub.collect_tables(out));
        }
        for member in &self.compound {
            member.query.collect_tables(out);
        }
    }
}

impl SelectExpr {
    /// Calls `f` on every column this expression reads, nested operands and `CASE`
    /// conditions included (`COUNT(*)` and values read none).
    pub fn visit_columns_mut(&mut self, f: &mut impl FnMut(&mut ColumnRef)) {
        match self {
            SelectExpr::Column(column)
            | SelectExpr::Fold { column, .. }
            | SelectExpr::Extract { column, .. } => f(column),
            SelectExpr::Aggregate { column, .. } => column.iter_mut().for_each(f),
            SelectExpr::AggregateOf { arg, .. } => arg.visit_columns_mut(f),
            SelectExpr::Value(_) => {}
            SelectExpr::Arith { left, right, .. } => {
                left.visit_columns_mut(f);
                right.visit_columns_mut(f);
            }
            SelectExpr::Coalesce(items) => items.iter_mut().for_each(|e| e.visit_columns_mut(f)),
            SelectExpr::Case {
                branches,
                otherwise,
            } => {
                for (condition, result) in branches {
                    condition.visit_columns_mut(f);
                    result.visit_columns_mut(f);
                }
                otherwise.visit_columns_mut(f);
            }
            SelectExpr::Cast { expr, .. } => expr.visit_columns_mut(f),
            SelectExpr::Window(window) => {
                window.operands_mut().for_each(|e| e.visit_columns_mut(f))
            }
        }
    }

    /// Calls `f` on every column this expression reads (see [`Self::visit_columns_mut`]).
    pub fn visit_columns(&self, f: &mut impl FnMut(&ColumnRef)) {
        self.clone().visit_columns_mut(&mut |c| f(c));
    }

    /// Calls `f` on this expression and on every expression nested in it (operands, `CASE`
    /// conditions and results), outermost first.
    pub fn visit(&self, f: &mut impl FnMut(&SelectExpr)) {
        f(self);
        match self {
            SelectExpr::Arith { left, right, .. } => {
                left.visit(f);
                right.visit(f);
            }
            SelectExpr::Coalesce(items) => items.iter().for_each(|e| e.visit(f)),
            SelectExpr::Case {
                branches,
                otherwise,
            } => {
                for (condition, result) in branches {
                    condition.visit_exprs(f);
                    result.visit(f);
                }
                otherwise.visit(f);
            }
            SelectExpr::Cast { expr, .. } | SelectExpr::AggregateOf { arg: expr, .. } => {
                expr.visit(f)
            }
            SelectExpr::Window(window) => window.operands().for_each(|e| e.visit(f)),
            _ => {}
        }
    }

    /// The builder's name of this expression's outermost nesting construct (`None` for a
    /// column, fold, date part or aggregate), for errors that name it.
    pub fn construct(&self) -> Option<&'static str> {
        Some(match self {
            SelectExpr::Value(_) => "a value operand",
            SelectExpr::Arith { .. } => "arithmetic (`+ - * /`)",
            SelectExpr::Coalesce(_) => "`coalesce`",
            SelectExpr::Case { .. } => "`case_when`",
            SelectExpr::Cast { .. } => "`cast`",
            SelectExpr::Window(_) => "a window function (`over`)",
            SelectExpr::AggregateOf { .. } => "an aggregate over an expression",
            SelectExpr::Aggregate {
                function: AggregateFn::Avg,
                kind: ValueKind::Decimal,
                ..
            } => "`avg` over a decimal column",
            _ => return None,
        })
    }

    /// Whether an aggregate occurs in this expression (at any depth).
    pub fn has_aggregate(&self) -> bool {
        let mut found = false;
        self.visit(&mut |e| {
            found |= matches!(
                e,
                SelectExpr::Aggregate { .. } | SelectExpr::AggregateOf { .. }
            )
        });
        found
    }
}

impl SelectQuery {
    /// Calls `f` on every expression this select reads at its own level (selected, grouped,
    /// compared in its filter or `having`, sorted by), nested ones included.
    pub fn visit_exprs(&self, f: &mut impl FnMut(&SelectExpr)) {
        if let Projection::Exprs(aggregation) = &self.projection {
            aggregation.exprs.iter().for_each(|e| e.visit(f));
            aggregation.group_by.iter().for_each(|e| e.visit(f));
            if let Some(having) = &aggregation.having {
                having.visit_exprs(f);
            }
        }
        if let Some(filter) = &self.filter {
            filter.visit_exprs(f);
        }
        self.order.iter().for_each(|o| o.expr.visit(f));
    }
}

impl Condition {
    /// Calls `f` on every expression this condition compares (and those nested in them; not
    /// inside subqueries).
    pub fn visit_exprs(&self, f: &mut impl FnMut(&SelectExpr)) {
        match self {
            Condition::CompareExpr { expr, .. } => expr.visit(f),
            Condition::And(items) | Condition::Or(items) => {
                items.iter().for_each(|c| c.visit_exprs(f))
            }
            Condition::Not(inner) => inner.visit_exprs(f),
            _ => {}
        }
    }

    /// Calls `f` on every column of the query this condition filters (a subquery's own
    /// columns are left alone; the outer column an `IN (subquery)` or `EXISTS` compares with
    /// is visited).
    pub fn visit_columns_mut(&mut self, f: &mut impl FnMut(&mut ColumnRef)) {
        match self {
            Condition::Compare { column, .. }
            | Condition::Between { column, .. }
            | Condition::InList { column, .. }
            | Condition::Like { column, .. }
            | Condition::IsNull { column, .. }
            | Condition::InSubquery { column, .. }
            | Condition::Exists { outer: column, .. } => f(column),
            Condition::CompareExpr { expr, .. } => expr.visit_columns_mut(f),
            Condition::And(items) | Condition::Or(items) => {
                items.iter_mut().for_each(|c| c.visit_columns_mut(f))
            }
            Condition::Not(inner) => inner.visit_columns_mut(f),
        }
    }

    /// Calls `f` on each subquery of this condition (not on their own nested subqueries).
    pub fn visit_subqueries(&self, f: &mut impl FnMut(&SelectQuery)) {
        match self {
            Condition::InSubquery { subquery, .. } | Condition::Exists { subquery, .. } => {
                f(subquery)
            }
            Condition::And(items) | Condition::Or(items) => {
                items.iter().for_each(|c| c.visit_subqueries(f))
            }
            Condition::Not(inner) => inner.visit_subqueries(f),
            _ => {}
        }
    }

    /// Calls `f` on each subquery of this condition, mutably (not on their own nested
    /// subqueries).
    pub fn visit_subqueries_mut(&mut self, f: &mut impl FnMut(&mut SelectQuery)) {
        match self {
            Condition::InSubquery { subquery, .. } | Condition::Exists { subquery, .. } => {
                f(subquery)
            }
            Condition::And(items) | Condition::Or(items) => {
                items.iter_mut().for_each(|c| c.visit_subqueries_mut(f))
            }
            Condition::Not(inner) => inner.visit_subqueries_mut(f),
            _ => {}
        }
    }

    /// Combines conditions with AND, flattening nested ANDs.
    pub fn and_all(conditions: impl IntoIterator<Item = Condition>) -> Condition {
        let mut conditions = conditions.into_iter();
        let mut out = match conditions.next() {
            None => Vec::new(),
            Some(Condition::And(inner)) => inner,
            Some(single) => match conditions.next() {
                // One condition stands for itself: no vector to allocate.
                None => return single,
                Some(second) => {
                    // Room for the usual few filters without growing.
                    let mut out = Vec::with_capacity(4);
                    out.push(single);
                    push_flattened(&mut out, second);
                    out
                }
            },
        };
        conditions.for_each(|c| push_flattened(&mut out, c));
        from_conjuncts(out)
    }

    /// `existing AND condition`, or just `condition` when there is nothing yet.
    pub fn and_opt(existing: Option<Condition>, condition: Condition) -> Condition {
        match existing {
            // Appending to an existing AND reuses its vector (what `and_all` would build).
            Some(Condition::And(mut items)) if !items.is_empty() => {
                push_flattened(&mut items, condition);
                from_conjuncts(items)
            }
            Some(existing) => Condition::and_all([existing, condition]),
            None => condition,
        }
    }

    /// The condition that the primary key of `schema` equals `values` (in key order).
    pub fn primary_key_eq(schema: &'static ModelSchema, values: Vec<Value>) -> Condition {
        Condition::and_all(schema.primary_key_columns().zip(values).map(|(c, value)| {
            Condition::Compare {
                column: ColumnRef {
                    table: schema.table,
                    name: c.name,
                },
                op: CmpOp::Eq,
                value,
            }
        }))
    }
}

/// Appends `c` to a conjunction, its own conjuncts if it is an AND.
fn push_flattened(out: &mut Vec<Condition>, c: Condition) {
    match c {
        Condition::And(inner) => out.extend(inner),
        other => out.push(other),
    }
}

/// The AND of `conjuncts`, or the one condition alone.
fn from_conjuncts(mut conjuncts: Vec<Condition>) -> Condition {
    if conjuncts.len() == 1 {
        conjuncts.pop().expect("one element")
    } else {
        Condition::And(conjuncts)
    }
}
