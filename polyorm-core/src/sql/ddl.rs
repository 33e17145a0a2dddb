//! DDL for a model's table: the same renderer the migration engine uses.
//!
//! Every table the ORM creates compares text by code point, without ignoring trailing spaces:
//! MySQL/MariaDB tables use the `utf8mb4_nopad_bin` collation (`utf8mb4_bin` is a PAD SPACE
//! collation, where `'a' = 'a '`), PostgreSQL text columns are declared `COLLATE "C"` (whatever
//! the database's default locale), and SQLite compares bytes by default (`BINARY`). A column's
//! `collation` option replaces that with a collation of the user's choice.

use sea_query::{
    Check, ColumnDef, Expr, ExprTrait, ForeignKey, ForeignKeyAction, Index, IndexCreateStatement,
    IndexOrder, MysqlQueryBuilder, PostgresQueryBuilder, Query, SchemaStatementBuilder,
    SqliteQueryBuilder, Table, TableCreateStatement,
};

use super::Dialect;
pub use super::scaled::{MAX_SCALED_PRECISION, scaled_storage};
use crate::error::Error;
use crate::schema::{
    CheckExpr, ColumnSchema, ColumnType, DefaultValue, IndexKey, IndexMethod, IndexSchema,
    ModelSchema, ReferentialAction,
};

/// Renders a sea-query schema statement for `dialect` (the one place DDL text is produced).
pub fn render(statement: &impl SchemaStatementBuilder, dialect: Dialect) -> String {
    match dialect {
        Dialect::Postgres => statement.to_string(PostgresQueryBuilder),
        Dialect::MySql => statement.to_string(MysqlQueryBuilder),
        Dialect::Sqlite => statement.to_string(SqliteQueryBuilder),
    }
}

/// The statements that create `schema`'s table and its indexes, in execution order.
///
/// With `if_not_exists`, running them against an existing table is a no-op.
pub fn create_table(
    schema: &ModelSchema,
    dialect: Dialect,
    if_not_exists: bool,
) -> Result<Vec<String>, Error> {
    let mut table = table_statement(schema, dialect)?;
    if if_not_exists {
        table.if_not_exists();
    }
    let predicates = schema
        .indexes
        .iter()
        .map(IndexSchema::predicate_expr)
        .collect::<Result<Vec<_>, _>>()?;
    let specs: Vec<IndexSpec<'_>> = schema
        .indexes
        .iter()
        .zip(&predicates)
        .filter(|(ix, _)| index_is_built(ix.method, dialect))
        .map(|(ix, predicate)| IndexSpec::of_model(schema, ix, predicate.as_ref()))
        .collect();
    let storage = |name: &str| schema.column(name).map(|c| (c.ty, c.precision));
    if dialect == Dialect::MySql {
        // MySQL has no CREATE INDEX IF NOT EXISTS: declare the indexes inside CREATE TABLE so
        // that IF NOT EXISTS covers them too.
        for spec in &specs {
            check_index(spec, &storage, dialect)?;
            table.index(&mut mysql_index_statement(spec));
        }
        return Ok(vec![render(&table, dialect)]);
    }
    let mut out = vec![render(&table, dialect)];
    for spec in &specs {
        out.push(index_sql(spec, &storage, if_not_exists, dialect)?);
    }
    Ok(out)
}

/// Whether `dialect` builds an index of `method` at all: `gin` and `gist` indexes exist on
/// PostgreSQL only. Elsewhere they are left out (a b-tree in their place would serve none of
/// the containment or overlap lookups they are for, and MySQL/MariaDB cannot index a JSON
/// column); `hash` becomes the dialect's b-tree, which serves the same equality lookups.
pub fn index_is_built(method: Option<IndexMethod>, dialect: Dialect) -> bool {
    dialect == Dialect::Postgres || !matches!(method, Some(IndexMethod::Gin | IndexMethod::Gist))
}

/// An index definition borrowed from any description (a model's static one or the migration
/// engine's owned one): what [`index_sql`] renders.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexSpec<'a> {
    /// The indexed table.
    pub table: &'a str,
    /// The index's name.
    pub name: &'a str,
    /// Each key: its column, whether the column is nullable, and how it is indexed.
    pub keys: Vec<(&'a str, bool, IndexKey)>,
    /// Whether the index enforces uniqueness.
    pub unique: bool,
    /// The access method; `None` is the dialect's default.
    pub method: Option<IndexMethod>,
    /// Non-key columns stored in the index.
    pub include: Vec<&'a str>,
    /// The condition of a partial index.
    pub predicate: Option<&'a CheckExpr>,
}

impl<'a> IndexSpec<'a> {
    /// The spec of an index of a model, whose predicate was built by
    /// [`IndexSchema::predicate_expr`].
    pub fn of_model(
        schema: &'a ModelSchema,
        ix: &'a IndexSchema,
        predicate: Option<&'a CheckExpr>,
    ) -> Self {
        IndexSpec {
            table: schema.table,
            name: ix.name,
            keys: ix
                .key_specs()
                .map(|(c, key)| (c, schema.column(c).is_some_and(|c| c.nullable), key))
                .collect(),
            unique: ix.unique,
            method: ix.method,
            include: ix.include.to_vec(),
            predicate,
        }
    }

    /// Whether every key is an ascending column, the method the default, with no included
    /// columns and no condition.
    fn is_plain(&self) -> bool {
        self.keys.iter().all(|(_, _, k)| *k == IndexKey::ASC)
            && self.method.is_none()
            && self.include.is_empty()
            && self.predicate.is_none()
    }
}

/// `CREATE [UNIQUE] INDEX` of `columns` (each with whether it is nullable) on `table`: a plain
/// index of ascending columns (see [`index_sql`] for the others).
///
/// The ORM orders NULLs first ascending and last descending on every dialect. MySQL and SQLite
/// do so natively; PostgreSQL sorts NULL as the largest value, so the compiler writes `ASC
/// NULLS FIRST` / `DESC NULLS LAST` for a nullable column — which a plain b-tree index cannot
/// return in order. A nullable column is therefore indexed `NULLS FIRST` on PostgreSQL: the
/// index then serves the ORM's order both ways (forward ascending, backward descending).
pub fn create_index_sql(
    table: &str,
    name: &str,
    columns: &[(&str, bool)],
    unique: bool,
    if_not_exists: bool,
    dialect: Dialect,
) -> String {
    let spec = IndexSpec {
        table,
        name,
        keys: columns
            .iter()
            .map(|(c, nullable)| (*c, *nullable, IndexKey::ASC))
            .collect(),
        unique,
        method: None,
        include: Vec::new(),
        predicate: None,
    };
    index_sql(&spec, &|_| None, if_not_exists, dialect).expect("a plain index always renders")
}

/// `CREATE [UNIQUE] INDEX` of `spec` on `dialect`; `storage` describes the columns a partial
/// index's condition reads.
///
/// - PostgreSQL writes everything: `USING <method>`, descending and function keys, `INCLUDE`,
///   `WHERE`. A nullable key is indexed `NULLS FIRST` ascending and `DESC NULLS LAST`
///   descending, the ORM's order (see [`create_index_sql`]).
/// - SQLite writes descending and function keys and `WHERE`; it has one kind of index, so a
///   method is ignored, and no `INCLUDE` (the included columns are left out).
/// - MySQL/MariaDB write descending keys (honoured by MariaDB 10.8+); InnoDB's indexes are all
///   b-trees, so a method and `INCLUDE` are ignored. They have no partial indexes: a
///   non-unique partial index covers every row there (the same lookups, a larger index), and
///   a unique one is refused (it would reject rows its condition leaves out), as is a function
///   key (MariaDB has no expression indexes).
pub fn index_sql(
    spec: &IndexSpec<'_>,
    storage: &dyn Fn(&str) -> Option<super::constraint::ColumnStorage>,
    if_not_exists: bool,
    dialect: Dialect,
) -> Result<String, Error> {
    check_index(spec, storage, dialect)?;
    let plain_columns = spec.is_plain()
        && (dialect != Dialect::Postgres || !spec.keys.iter().any(|(_, nullable, _)| *nullable));
    if plain_columns || dialect == Dialect::MySql {
        let mut index = if dialect == Dialect::MySql {
            mysql_index_statement(spec)
        } else {
            let mut index = Index::create();
            for (c, _, _) in &spec.keys {
                index.col(sea_query::Alias::new(*c));
            }
            if spec.unique {
                index.unique();
            }
            index
        };
        index
            .name(spec.name)
            .table(sea_query::Alias::new(spec.table));
        if if_not_exists {
            index.if_not_exists();
        }
        return Ok(render(&index, dialect));
    }
    let keys: Vec<String> = spec
        .keys
        .iter()
        .map(|(c, nullable, key)| {
            let mut sql = match key.function {
                Some(f) => format!("{}({})", f.sql(), quote(c, dialect)),
                None => quote(c, dialect),
            };
            match (key.descending, dialect == Dialect::Postgres && *nullable) {
                (false, false) => {}
                (false, true) => sql.push_str(" NULLS FIRST"),
                (true, false) => sql.push_str(" DESC"),
                (true, true) => sql.push_str(" DESC NULLS LAST"),
            }
            sql
        })
        .collect();
    let mut sql = format!(
        "CREATE {}INDEX {}{} ON {}",
        if spec.unique { "UNIQUE " } else { "" },
        if if_not_exists { "IF NOT EXISTS " } else { "" },
        quote(spec.name, dialect),
        quote(spec.table, dialect),
    );
    if let (Some(method), Dialect::Postgres) = (spec.method, dialect) {
        sql.push_str(" USING ");
        sql.push_str(method.sql());
    }
    sql.push_str(&format!(" ({})", keys.join(", ")));
    if !spec.include.is_empty() && dialect == Dialect::Postgres {
        let include: Vec<String> = spec.include.iter().map(|c| quote(c, dialect)).collect();
        sql.push_str(&format!(" INCLUDE ({})", include.join(", ")));
    }
    if let Some(predicate) = spec.predicate {
        let condition =
            super::constraint::check_condition(spec.table, spec.name, predicate, storage, dialect)?;
        sql.push_str(" WHERE ");
        sql.push_str(&condition_sql(condition, dialect));
    }
    Ok(sql)
}

/// Refuses what `dialect` cannot build of an index, saying what to do instead.
fn check_index(
    spec: &IndexSpec<'_>,
    storage: &dyn Fn(&str) -> Option<super::constraint::ColumnStorage>,
    dialect: Dialect,
) -> Result<(), Error> {
    let (table, name) = (spec.table, spec.name);
    if dialect == Dialect::MySql {
        if let Some((c, _, key)) = spec.keys.iter().find(|(_, _, k)| k.function.is_some()) {
            let f = key.function.map_or("", |f| f.sql());
            return Err(Error::Schema(format!(
                "index `{name}` of `{table}` indexes `{f}({c})`, and MySQL/MariaDB have no \
                 expression indexes; index the column itself and give it a case-insensitive \
                 collation (`#[orm(collation = \"utf8mb4_unicode_ci\")]`), or keep this index \
                 to PostgreSQL and SQLite"
            )));
        }
        if spec.unique && spec.predicate.is_some() {
            return Err(Error::Schema(format!(
                "unique index `{name}` of `{table}` is partial (`where`), and MySQL/MariaDB have \
                 no partial indexes: a full unique index would reject rows its condition leaves \
                 out; enforce the rule in the application on MySQL, or keep this index to \
                 PostgreSQL and SQLite"
            )));
        }
    }
    if let Some(predicate) = spec.predicate {
        // The condition's columns and literals are checked where they are rendered.
        super::constraint::check_condition(table, name, predicate, storage, dialect)?;
    }
    Ok(())
}

/// The sea-query index of `spec` for MySQL/MariaDB: its columns, in their order (function keys
/// are refused by [`check_index`]; a method, `INCLUDE` and a condition have no MySQL form).
fn mysql_index_statement(spec: &IndexSpec<'_>) -> IndexCreateStatement {
    let mut index = Index::create();
    index
        .name(spec.name)
        .table(sea_query::Alias::new(spec.table));
    for (c, _, key) in &spec.keys {
        if key.descending {
            index.col((sea_query::Alias::new(*c), IndexOrder::Desc));
        } else {
            index.col(sea_query::Alias::new(*c));
        }
    }
    if spec.unique {
        index.unique();
    }
    index
}

/// The statement that drops `schema`'s table (if it exists).
pub fn drop_table(schema: &ModelSchema, dialect: Dialect) -> String {
    render(Table::drop().table(schema.table).if_exists(), dialect)
}

fn table_statement(schema: &ModelSchema, dialect: Dialect) -> Result<TableCreateStatement, Error> {
    let mut table = Table::create();
    table.table(schema.table);
    let single_key = schema.primary_key.len() == 1;
    for column in schema.columns {
        check_column(schema, column, dialect)?;
        table.col(column_def(column, single_key, dialect));
    }
    for column in schema.columns {
        for check in checks(schema, column, dialect) {
            table.check(check);
        }
    }
    for (name, condition) in model_user_checks(schema, dialect)? {
        table.check(Check::named(name, condition));
    }
    if !single_key {
        let mut key = Index::create();
        for c in schema.primary_key_columns() {
            key.col(c.name);
        }
        table.primary_key(&mut key);
    }
    for fk in schema.foreign_keys {
        check_foreign_key_actions(schema.table, fk.name, fk.on_delete, fk.on_update, dialect)?;
        let mut key = ForeignKey::create();
        key.name(fk.name)
            .from_tbl(schema.table)
            .to_tbl(fk.ref_table)
            .on_delete(action(fk.on_delete))
            .on_update(action(fk.on_update));
        for (column, referenced) in fk.columns.iter().zip(fk.ref_columns) {
            key.from_col(*column).to_col(*referenced);
        }
        table.foreign_key(&mut key);
    }
    table_options(&mut table, dialect);
    Ok(table)
}

/// The collation of the tables the ORM creates on MySQL/MariaDB: code-point order, and no
/// padding, so that `'a' <> 'a '` as on PostgreSQL and SQLite (MariaDB 10.2+).
pub const MYSQL_COLLATION: &str = "utf8mb4_nopad_bin";

/// Adds the options every table the ORM creates gets on `dialect` (on MySQL/MariaDB: InnoDB,
/// `utf8mb4`, binary no-pad collation so that text compares by code point).
pub fn table_options(table: &mut TableCreateStatement, dialect: Dialect) {
    if dialect == Dialect::MySql {
        table
            .engine("InnoDB")
            .character_set("utf8mb4")
            .collate(MYSQL_COLLATION);
    }
}

/// Refuses a foreign key whose actions `dialect` would not carry out. MySQL/MariaDB (InnoDB)
/// accept `ON DELETE SET DEFAULT` / `ON UPDATE SET DEFAULT` and silently keep `RESTRICT`
/// instead, so deleting a parent would fail there while PostgreSQL and SQLite set the
/// children's column to its default: one declaration, two meanings. Checked by `CREATE TABLE`
/// and by the migration renderer.
pub fn check_foreign_key_actions(
    table: &str,
    name: &str,
    on_delete: ReferentialAction,
    on_update: ReferentialAction,
    dialect: Dialect,
) -> Result<(), Error> {
    if dialect != Dialect::MySql {
        return Ok(());
    }
    for (event, action) in [("DELETE", on_delete), ("UPDATE", on_update)] {
        if action == ReferentialAction::SetDefault {
            return Err(Error::Schema(format!(
                "foreign key `{name}` of `{table}` is `ON {event} SET DEFAULT`, which MySQL and \
                 MariaDB (InnoDB) accept but do not carry out (they keep RESTRICT); use \
                 `set_null`, `cascade` or `restrict`, or set the default in the application"
            )));
        }
    }
    Ok(())
}

/// The sea-query spelling of a referential action.
pub fn action(action: ReferentialAction) -> ForeignKeyAction {
    match action {
        ReferentialAction::NoAction => ForeignKeyAction::NoAction,
        ReferentialAction::Restrict => ForeignKeyAction::Restrict,
        ReferentialAction::Cascade => ForeignKeyAction::Cascade,
        ReferentialAction::SetNull => ForeignKeyAction::SetNull,
        ReferentialAction::SetDefault => ForeignKeyAction::SetDefault,
    }
}

/// What the CHECK constraints of one column depend on (see [`column_checks`]).
#[derive(Debug, Clone, PartialEq)]
pub struct CheckSpec<'a> {
    /// The column's name.
    pub column: &'a str,
    /// Its logical type (integer ranges).
    pub ty: ColumnType,
    /// Its declared `max_length`.
    pub max_length: Option<u32>,
    /// The values an enum column accepts.
    pub allowed_values: Option<Vec<&'a str>>,
}

impl<'a> CheckSpec<'a> {
    /// The check spec of a model column.
    pub fn of(column: &'a ColumnSchema) -> Self {
        CheckSpec {
            column: column.name,
            ty: column.ty,
            max_length: column.max_length,
            allowed_values: column.allowed_values.map(<[&str]>::to_vec),
        }
    }
}

/// One CHECK constraint: its conventional name and the condition, rendered for a dialect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnCheck {
    /// `ck_<table>_<column>[_length|_range]`.
    pub name: String,
    /// The condition, as SQL of the dialect.
    pub condition: String,
}

/// The CHECK constraints of a column of `table` on `dialect`, named by convention so that a
/// violation maps to the right error (see `exec/errors.rs`):
/// - `ck_<table>_<col>`: the allowed values of an enum column (every dialect);
/// - `ck_<table>_<col>_length`: `max_length` on SQLite, which does not enforce `varchar(N)`
///   (not for enums, whose values check bounds the length already);
/// - `ck_<table>_<col>_range`: the range of an integer type stored in a wider column (unsigned
///   types on PostgreSQL and SQLite, `i16`/`i32` on SQLite whose integers are all 64-bit);
/// - `ck_<table>_<col>_oid`: an ObjectId is exactly 12 bytes, on PostgreSQL (`bytea`) and SQLite
///   (`BLOB`); MySQL's `BINARY(12)` has the size in its type.
///
/// `CREATE TABLE` (here) and the migration renderer both use it, so a table created either
/// way carries the same constraints.
pub fn column_checks(table: &str, spec: &CheckSpec<'_>, dialect: Dialect) -> Vec<(String, Expr)> {
    let name = |suffix: &str| format!("ck_{table}_{}{suffix}", spec.column);
    let mut out = Vec::new();
    if let Some(values) = &spec.allowed_values {
        let expr = Expr::col(spec.column.to_owned()).is_in(values.iter().copied());
        out.push((name(""), expr));
    } else if let (Some(max), Dialect::Sqlite) = (spec.max_length, dialect) {
        let expr = Expr::cust(format!("length({})", quote(spec.column, dialect))).lte(max);
        out.push((name("_length"), expr));
    }
    let wider = match dialect {
        Dialect::MySql => false,
        Dialect::Postgres => matches!(spec.ty, ColumnType::U8 | ColumnType::U16 | ColumnType::U32),
        Dialect::Sqlite => true,
    };
    if let (Some((low, high)), true) = (spec.ty.integer_range(), wider) {
        let expr = Expr::col(spec.column.to_owned()).between(low, high);
        out.push((name("_range"), expr));
    }
    let octets = match dialect {
        Dialect::Postgres => Some("octet_length"),
        Dialect::Sqlite => Some("length"),
        Dialect::MySql => None,
    };
    if let (ColumnType::ObjectId, Some(octets)) = (spec.ty, octets) {
        let expr = Expr::cust(format!("{octets}({})", quote(spec.column, dialect))).eq(12);
        out.push((name("_oid"), expr));
    }
    out
}

/// [`column_checks`] rendered: each constraint's name and its condition as SQL text.
pub fn column_check_sql(table: &str, spec: &CheckSpec<'_>, dialect: Dialect) -> Vec<ColumnCheck> {
    column_checks(table, spec, dialect)
        .into_iter()
        .map(|(name, expr)| ColumnCheck {
            name,
            condition: condition_sql(expr, dialect),
        })
        .collect()
}

/// A condition as SQL text of `dialect`, literals inlined and quoted by sea-query (DDL has no
/// bound parameters).
pub fn condition_sql(expr: Expr, dialect: Dialect) -> String {
    // The condition alone, as a `SELECT` list renders it.
    let mut select = Query::select();
    select.expr(expr);
    let select = match dialect {
        Dialect::Postgres => select.to_string(PostgresQueryBuilder),
        Dialect::MySql => select.to_string(MysqlQueryBuilder),
        Dialect::Sqlite => select.to_string(SqliteQueryBuilder),
    };
    select.trim_start_matches("SELECT ").to_owned()
}

/// The user CHECK constraints of a model (`#[orm(check = ...)]`): name and condition.
pub fn model_user_checks(
    schema: &ModelSchema,
    dialect: Dialect,
) -> Result<Vec<(String, Expr)>, Error> {
    let storage = |name: &str| schema.column(name).map(|c| (c.ty, c.precision));
    schema
        .checks
        .iter()
        .map(|check| {
            let expr = check.expr()?;
            let condition = super::constraint::check_condition(
                schema.table,
                check.name,
                &expr,
                &storage,
                dialect,
            )?;
            Ok((check.name.to_owned(), condition))
        })
        .collect()
}

/// The named CHECK constraints of `column` (see [`column_checks`]).
fn checks(schema: &ModelSchema, column: &ColumnSchema, dialect: Dialect) -> Vec<Check> {
    column_checks(schema.table, &CheckSpec::of(column), dialect)
        .into_iter()
        .map(|(name, expr)| Check::named(name, expr))
        .collect()
}

/// `name` quoted as an identifier of `dialect` (for expressions sea-query cannot build).
fn quote(name: &str, dialect: Dialect) -> String {
    match dialect {
        Dialect::MySql => format!("`{}`", name.replace('`', "``")),
        Dialect::Postgres | Dialect::Sqlite => format!("\"{}\"", name.replace('"', "\"\"")),
    }
}

fn column_def(column: &ColumnSchema, single_key: bool, dialect: Dialect) -> ColumnDef {
    let spec = ColumnSpec {
        name: column.name,
        ty: column.ty,
        max_length: effective_max_length(column),
        precision: column.precision,
        collation: column.collation,
        nullable: column.nullable,
        primary_key: column.primary_key && single_key,
        auto_increment: column.auto_increment,
        default: column.default,
    };
    column_def_for(&spec, dialect)
}

/// The `VARCHAR(N)` bound of a column: its `max_length`, or for an enum column the length of
/// its longest value (so that MySQL can index it).
pub fn effective_max_length(column: &ColumnSchema) -> Option<u32> {
    column.max_length.or_else(|| {
        column.allowed_values.map(|values| {
            let longest = values.iter().map(|v| v.chars().count()).max().unwrap_or(1);
            u32::try_from(longest.max(1)).unwrap_or(u32::MAX)
        })
    })
}

/// A default value borrowed from any column description (static or owned).
pub type DefaultRef<'a> = DefaultValue<&'a str>;

/// A column definition borrowed from any column description: what [`column_def_for`] renders.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColumnSpec<'a> {
    /// Column name.
    pub name: &'a str,
    /// Logical type.
    pub ty: ColumnType,
    /// `VARCHAR(N)` bound for text columns.
    pub max_length: Option<u32>,
    /// `(precision, scale)` of a decimal column.
    pub precision: Option<(u32, u32)>,
    /// The collation of a text column; `None` is code-point order.
    pub collation: Option<&'a str>,
    /// Whether NULL is accepted.
    pub nullable: bool,
    /// Whether to declare `PRIMARY KEY` inline (single-column keys only).
    pub primary_key: bool,
    /// Whether the database generates the value.
    pub auto_increment: bool,
    /// Database default.
    pub default: Option<DefaultRef<'a>>,
}

/// The storage type of a column on `dialect`: the one mapping from [`ColumnType`] to each
/// dialect's type, used by `CREATE TABLE` and by the migration engine.
pub fn set_column_type(def: &mut ColumnDef, spec: &ColumnSpec<'_>, dialect: Dialect) {
    use Dialect::{MySql, Postgres, Sqlite};
    match (spec.ty, spec.max_length, dialect) {
        (ColumnType::Bool, _, _) => def.boolean(),
        (ColumnType::SmallInt, _, _) => def.small_integer(),
        (ColumnType::Int, _, _) => def.integer(),
        (ColumnType::BigInt, _, _) => def.big_integer(),
        (ColumnType::Float, _, _) => def.float(),
        (ColumnType::Double, _, _) => def.double(),
        (ColumnType::Text, Some(n), _) => def.string_len(n),
        // Unbounded text and bytes hold what PostgreSQL's `text`/`bytea` and SQLite's hold: on
        // MySQL/MariaDB that is LONGTEXT/LONGBLOB (4 GiB; TEXT/BLOB stop at 65,535 bytes), in
        // practice bounded by the server's `max_allowed_packet`.
        (ColumnType::Text, None, MySql) => def.custom("longtext"),
        (ColumnType::Bytes, _, MySql) => def.custom("longblob"),
        (ColumnType::Text, None, _) => def.text(),
        (ColumnType::Bytes, _, _) => def.blob(),
        (ColumnType::U8, _, MySql) => def.tiny_unsigned(),
        (ColumnType::U16, _, MySql) => def.small_unsigned(),
        (ColumnType::U32, _, MySql) => def.unsigned(),
        (ColumnType::U64, _, MySql) => def.big_unsigned(),
        (ColumnType::U8, _, _) => def.small_integer(),
        (ColumnType::U16, _, _) => def.integer(),
        (ColumnType::U32 | ColumnType::U64, _, _) => def.big_integer(),
        (ColumnType::TimestampTz, _, Postgres) => def.custom("timestamptz"),
        (ColumnType::Timestamp, _, Postgres) => def.custom("timestamp"),
        (ColumnType::TimestampTz | ColumnType::Timestamp, _, MySql) => def.custom("DATETIME(6)"),
        (ColumnType::Date, _, Postgres | MySql) => def.custom("date"),
        (ColumnType::Time, _, Postgres) => def.custom("time"),
        (ColumnType::Time, _, MySql) => def.custom("TIME(6)"),
        (ColumnType::Uuid, _, Postgres) => def.custom("uuid"),
        (ColumnType::Uuid, _, MySql) => def.custom("BINARY(16)"),
        (ColumnType::Uuid, _, Sqlite) => def.custom("BLOB"),
        // 12 bytes in MongoDB's order; PostgreSQL and SQLite get a length CHECK.
        (ColumnType::ObjectId, _, Postgres) => def.custom("bytea"),
        (ColumnType::ObjectId, _, MySql) => def.custom("BINARY(12)"),
        (ColumnType::ObjectId, _, Sqlite) => def.custom("BLOB"),
        (ColumnType::Decimal, _, Postgres) => match spec.precision {
            Some((p, s)) => def.custom(format!("numeric({p}, {s})")),
            None => def.custom("numeric"),
        },
        // rust_decimal holds 28 decimal places and at most 29 integer digits.
        (ColumnType::Decimal, _, MySql) => {
            let (p, s) = spec.precision.unwrap_or((65, 28));
            def.custom(format!("DECIMAL({p}, {s})"))
        }
        (ColumnType::Json, _, Postgres) => def.custom("jsonb"),
        (ColumnType::Json, _, MySql) => def.custom("JSON"),
        // SQLite: a decimal of at most 18 digits is an integer scaled by 10^scale (exact
        // order, comparison and sums; see `sql/scaled.rs`).
        (ColumnType::Decimal, _, Sqlite)
            if super::scaled::scaled_storage(spec.ty, spec.precision).is_some() =>
        {
            def.big_integer()
        }
        // SQLite: dates, times, other decimals and JSON are text (exact, ISO-8601 for dates).
        (
            ColumnType::TimestampTz
            | ColumnType::Timestamp
            | ColumnType::Date
            | ColumnType::Time
            | ColumnType::Decimal
            | ColumnType::Json,
            _,
            Sqlite,
        ) => def.custom("TEXT"),
    };
}

/// The storage type `dialect` uses for a column, as SQL text (`integer`, `varchar(120)`,
/// ...), rendered by the same mapping as `CREATE TABLE`.
pub fn column_type_sql(spec: &ColumnSpec<'_>, dialect: Dialect) -> String {
    let mut def = ColumnDef::new("c");
    set_column_type(&mut def, spec, dialect);
    let sql = render(Table::create().table("t").col(def), dialect);
    // `CREATE TABLE "t" ( "c" <type> )`: the type sits between the column name and `)`.
    let start = sql.find(['"', '`']).map_or(0, |i| i + 1);
    let after_table = &sql[start..];
    let column = after_table
        .find("c\" ")
        .or_else(|| after_table.find("c` "))
        .map_or(0, |i| i + 3);
    after_table[column..]
        .trim_end()
        .trim_end_matches(')')
        .trim()
        .to_owned()
}

/// The collation a text column is declared with on `dialect`: its own, or `"C"` on PostgreSQL,
/// whose text otherwise compares by the database's locale. `None` for a column that names none
/// (MySQL/MariaDB text takes the table's code-point collation, SQLite compares bytes by default)
/// and for columns that are not text.
pub fn declared_collation<'a>(spec: &ColumnSpec<'a>, dialect: Dialect) -> Option<&'a str> {
    if spec.ty != ColumnType::Text {
        return None;
    }
    match (spec.collation, dialect) {
        (Some(name), _) => Some(name),
        (None, Dialect::Postgres) => Some("C"),
        (None, Dialect::MySql | Dialect::Sqlite) => None,
    }
}

/// A sea-query column definition for `spec` on `dialect`: type, nullability, inline key,
/// default.
pub fn column_def_for(spec: &ColumnSpec<'_>, dialect: Dialect) -> ColumnDef {
    let mut def = ColumnDef::new(spec.name.to_owned());
    set_column_type(&mut def, spec, dialect);
    if let Some(name) = declared_collation(spec, dialect) {
        def.extra(format!("COLLATE {}", quote(name, dialect)));
    }
    if !spec.nullable {
        def.not_null();
    }
    if spec.primary_key {
        def.primary_key();
    }
    if spec.auto_increment {
        def.auto_increment();
    }
    if let Some(default) = spec.default {
        if let Some(sql) = super::default::default_sql(&default, spec.ty, spec.precision, dialect) {
            def.default(Expr::cust(sql));
        } else {
            match default {
                DefaultRef::Bool(b) => def.default(b),
                DefaultRef::Int(i) => def.default(i),
                DefaultRef::Float(f) => def.default(f),
                DefaultRef::Text(s) => def.default(s.to_owned()),
                // A UUID outside PostgreSQL: no database default, the ORM generates it.
                DefaultRef::Now | DefaultRef::Uuid => &mut def,
            };
        }
    }
    def
}

/// Rejects what a dialect cannot store, with a message that says how to fix the model.
fn check_column(
    schema: &ModelSchema,
    column: &ColumnSchema,
    dialect: Dialect,
) -> Result<(), Error> {
    let keyed = column.primary_key
        || schema
            .indexes
            .iter()
            .any(|ix| index_is_built(ix.method, dialect) && ix.columns.contains(&column.name));
    if dialect == Dialect::MySql && keyed && column.ty == ColumnType::Bytes {
        return Err(Error::Schema(format!(
            "`{}.{}` is a key or indexed byte-string column, which MySQL cannot index without a \
             prefix length; use a bounded `String` key instead",
            schema.table, column.name
        )));
    }
    if column.ty == ColumnType::U64 && dialect != Dialect::MySql {
        return Err(Error::Schema(format!(
            "`{}.{}` is a `u64`, which {} cannot store (its largest integer is a signed 64-bit \
             one); use `i64`, or `u32` if the values are smaller",
            schema.table,
            column.name,
            if dialect == Dialect::Postgres {
                "PostgreSQL"
            } else {
                "SQLite"
            }
        )));
    }
    if dialect == Dialect::MySql
        && keyed
        && matches!(column.ty, ColumnType::Text | ColumnType::Json)
        && column.max_length.is_none()
        && column.allowed_values.is_none()
    {
        return Err(Error::Schema(format!(
            "`{}.{}` is a key or indexed column of unbounded length, which MySQL cannot index; \
             add `#[orm(max_length = N)]` to the field",
            schema.table, column.name
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_type_sql_is_the_create_table_type() {
        let cases = [
            (ColumnType::Bool, None, ["bool", "bool", "boolean"]),
            (
                ColumnType::SmallInt,
                None,
                ["smallint", "smallint", "smallint"],
            ),
            (ColumnType::Int, None, ["integer", "int", "integer"]),
            (ColumnType::BigInt, None, ["bigint", "bigint", "integer"]),
            (ColumnType::Float, None, ["real", "float", "float"]),
            (
                ColumnType::Double,
                None,
                ["double precision", "double", "double"],
            ),
            (ColumnType::Text, None, ["text", "longtext", "text"]),
            (
                ColumnType::Text,
                Some(12),
                ["varchar(12)", "varchar(12)", "varchar(12)"],
            ),
            (ColumnType::Bytes, None, ["bytea", "longblob", "blob"]),
            (ColumnType::ObjectId, None, ["bytea", "BINARY(12)", "BLOB"]),
        ];
        for (ty, len, expected) in cases {
            for (d, want) in Dialect::ALL.into_iter().zip(expected) {
                let spec = ColumnSpec {
                    name: "c",
                    ty,
                    max_length: len,
                    precision: None,
                    collation: None,
                    nullable: true,
                    primary_key: false,
                    auto_increment: false,
                    default: None,
                };
                assert_eq!(column_type_sql(&spec, d), want, "{ty:?} on {d}");
            }
        }
    }

    #[test]
    fn object_id_columns_check_their_12_bytes_where_the_type_does_not() {
        let spec = CheckSpec {
            column: "ref",
            ty: ColumnType::ObjectId,
            max_length: None,
            allowed_values: None,
        };
        let checks = |d| column_check_sql("docs", &spec, d);
        let expected = |condition: &str| {
            vec![ColumnCheck {
                name: "ck_docs_ref_oid".to_owned(),
                condition: condition.to_owned(),
            }]
        };
        assert_eq!(
            checks(Dialect::Postgres),
            expected(r#"(octet_length("ref")) = 12"#)
        );
        assert_eq!(checks(Dialect::Sqlite), expected(r#"(length("ref")) = 12"#));
        // `BINARY(12)` holds exactly 12 bytes.
        assert_eq!(checks(Dialect::MySql), vec![]);
    }
}
