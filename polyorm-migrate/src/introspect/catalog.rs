//! What each dialect's live catalog looks like, as data: one query per kind of object, each
//! returning the same row shape on every dialect, and the catalog's spellings of storage types.
//! The introspection reads them and decodes them once for all dialects; a new dialect is one more [`Catalog`].

use polyorm_core::Dialect;

/// The catalog queries and type spellings of one dialect.
///
/// Every query reads the current schema (PostgreSQL's `current_schema()`, MySQL's `DATABASE()`,
/// SQLite's main database) and returns integers for flags (`0`/`1`) so one decoder serves all.
#[derive(Debug)]
pub struct Catalog {
    /// The dialect.
    pub dialect: Dialect,
    /// `(table, column, type, nullable, default, auto_increment, collation, key_position)` of
    /// every column of every base table, in table and column order; `key_position` is the
    /// column's 1-based place in the primary key, `0` outside it; `default` is the catalog's
    /// text of the default expression (`NULL` for none and for a sequence that makes the column
    /// auto-increment).
    pub columns: &'static str,
    /// `(table, index, unique, position, column, method, predicate, descending)`: one row per
    /// key column of each index other than the primary key and those the database made for a
    /// foreign key; `column` is `NULL` for an expression, `method` names a non-default access
    /// method, `predicate` the condition of a partial index, and `descending` is 1 for a key
    /// in descending order.
    pub indexes: &'static str,
    /// `(table, key, name, column, ref_table, ref_column, on_delete, on_update)`: one row per
    /// column of each foreign key, in key order; `key` groups the rows of one key, `ref_column`
    /// is `NULL` where the key names no column (the referenced table's primary key), the
    /// actions are spelled as in SQL (`NO ACTION`, `SET NULL`, ...) or as PostgreSQL's codes.
    pub foreign_keys: &'static str,
    /// `(table, kind, text, definition)` of CHECK constraints (`c`: the name, and the
    /// condition), triggers (`t`: the name) and, where the catalog keeps no list of checks, the
    /// `CREATE TABLE` text to find them in (`s`).
    pub named: &'static str,
    /// `(name)` of every view and materialized view.
    pub views: &'static str,
    /// Catalog spellings of storage types (lower case) and the DDL's spelling of the same
    /// type; a spelling followed by `(` (a length, a precision) matches with it.
    pub type_aliases: &'static [(&'static str, &'static str)],
    /// Whether foreign keys keep their names (SQLite forgets them).
    pub keeps_foreign_key_names: bool,
    /// Whether `NO ACTION` is `RESTRICT` (InnoDB checks both immediately and reports either).
    pub no_action_is_restrict: bool,
    /// Whether the catalog reports the collations of columns.
    pub reports_collations: bool,
    /// Whether string literals escape with a backslash (`'it\'s'`) besides doubling quotes.
    pub backslash_escapes: bool,
}

/// The catalog of `dialect`.
pub fn of(dialect: Dialect) -> &'static Catalog {
    match dialect {
        Dialect::Postgres => &POSTGRES,
        Dialect::MySql => &MYSQL,
        Dialect::Sqlite => &SQLITE,
    }
}

/// PostgreSQL: `pg_catalog` of the current schema.
pub static POSTGRES: Catalog = Catalog {
    dialect: Dialect::Postgres,
    columns: "SELECT c.relname::text, a.attname::text, format_type(a.atttypid, a.atttypmod), \
        (NOT a.attnotnull)::int::int8, CASE WHEN pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%' \
        THEN NULL ELSE pg_get_expr(d.adbin, d.adrelid) END, (a.attidentity <> '' OR \
        COALESCE(pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval(%', false))::int::int8, \
        (SELECT co.collname::text FROM pg_collation co WHERE co.oid = a.attcollation), \
        COALESCE(array_position(pk.conkey, a.attnum), 0)::int8 \
        FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid \
        JOIN pg_namespace n ON n.oid = c.relnamespace \
        LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum \
        LEFT JOIN pg_constraint pk ON pk.conrelid = c.oid AND pk.contype = 'p' \
        WHERE n.nspname = current_schema() AND c.relkind = 'r' AND a.attnum > 0 \
        AND NOT a.attisdropped ORDER BY 1, a.attnum",
    indexes: "SELECT t.relname::text, i.relname::text, ix.indisunique::int::int8, k.ord::int8, \
        a.attname::text, (SELECT am.amname::text FROM pg_am am WHERE am.oid = i.relam \
        AND am.amname <> 'btree'), pg_get_expr(ix.indpred, ix.indrelid), \
        (ix.indoption[(k.ord - 1)::int] & 1)::int8 \
        FROM pg_index ix JOIN pg_class t ON t.oid = ix.indrelid \
        JOIN pg_class i ON i.oid = ix.indexrelid \
        JOIN pg_namespace n ON n.oid = t.relnamespace \
        CROSS JOIN LATERAL unnest(ix.indkey) WITH ORDINALITY k(num, ord) \
        LEFT JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.num \
        WHERE n.nspname = current_schema() AND NOT ix.indisprimary \
        AND k.ord <= ix.indnkeyatts ORDER BY 1, 2, 4",
    foreign_keys: "SELECT t.relname::text, con.conname::text, con.conname::text, \
        a.attname::text, rt.relname::text, ra.attname::text, con.confdeltype::text, \
        con.confupdtype::text FROM pg_constraint con \
        JOIN pg_class t ON t.oid = con.conrelid JOIN pg_class rt ON rt.oid = con.confrelid \
        JOIN pg_namespace n ON n.oid = t.relnamespace \
        CROSS JOIN LATERAL unnest(con.conkey, con.confkey) WITH ORDINALITY k(num, ref_num, ord) \
        JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.num \
        JOIN pg_attribute ra ON ra.attrelid = con.confrelid AND ra.attnum = k.ref_num \
        WHERE con.contype = 'f' AND n.nspname = current_schema() ORDER BY 1, 2, k.ord",
    named: "SELECT t.relname::text, 'c', con.conname::text, pg_get_constraintdef(con.oid) \
        FROM pg_constraint con JOIN pg_class t ON t.oid = con.conrelid \
        JOIN pg_namespace n ON n.oid = t.relnamespace \
        WHERE con.contype = 'c' AND n.nspname = current_schema() \
        UNION ALL SELECT t.relname::text, 't', tg.tgname::text, NULL FROM pg_trigger tg \
        JOIN pg_class t ON t.oid = tg.tgrelid \
        JOIN pg_namespace n ON n.oid = t.relnamespace \
        WHERE NOT tg.tgisinternal AND n.nspname = current_schema()",
    views: "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
        WHERE n.nspname = current_schema() AND c.relkind IN ('v', 'm') ORDER BY 1",
    type_aliases: &[
        ("character varying", "varchar"),
        ("boolean", "bool"),
        ("timestamp with time zone", "timestamptz"),
        ("timestamp without time zone", "timestamp"),
        ("time without time zone", "time"),
        ("time with time zone", "timetz"),
    ],
    keeps_foreign_key_names: true,
    no_action_is_restrict: false,
    reports_collations: true,
    backslash_escapes: false,
};

/// MySQL and MariaDB: `information_schema` of the current database.
pub static MYSQL: Catalog = Catalog {
    dialect: Dialect::MySql,
    // MariaDB's JSON is LONGTEXT with a column-level `json_valid` CHECK named after the
    // column: reported as `json`, as MySQL reports its own.
    columns: "SELECT CAST(c.TABLE_NAME AS CHAR), CAST(c.COLUMN_NAME AS CHAR), \
        CAST(CASE WHEN EXISTS (SELECT 1 FROM information_schema.CHECK_CONSTRAINTS k \
        WHERE k.CONSTRAINT_SCHEMA = c.TABLE_SCHEMA AND k.TABLE_NAME = c.TABLE_NAME \
        AND k.LEVEL = 'Column' AND k.CONSTRAINT_NAME = c.COLUMN_NAME \
        AND k.CHECK_CLAUSE LIKE 'json\\_valid(%') THEN 'json' ELSE c.COLUMN_TYPE END AS CHAR), \
        CAST(c.IS_NULLABLE = 'YES' AS SIGNED), \
        CAST(c.COLUMN_DEFAULT AS CHAR), CAST(c.EXTRA LIKE '%auto_increment%' AS SIGNED), \
        CAST(c.COLLATION_NAME AS CHAR), CAST(COALESCE(s.SEQ_IN_INDEX, 0) AS SIGNED) \
        FROM information_schema.COLUMNS c JOIN information_schema.TABLES t \
        ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME \
        AND t.TABLE_TYPE = 'BASE TABLE' \
        LEFT JOIN information_schema.STATISTICS s ON s.TABLE_SCHEMA = c.TABLE_SCHEMA \
        AND s.TABLE_NAME = c.TABLE_NAME AND s.COLUMN_NAME = c.COLUMN_NAME \
        AND s.INDEX_NAME = 'PRIMARY' \
        WHERE c.TABLE_SCHEMA = DATABASE() ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION",
    // InnoDB creates an index for each foreign key that lacks one, named after the key (or,
    // for a key the database named itself, such as `orders_ibfk_1`, after its first column),
    // and keeps it after the key is dropped: the derive's `fk_*` names are skipped too.
    indexes: "SELECT CAST(s.TABLE_NAME AS CHAR), CAST(s.INDEX_NAME AS CHAR), \
        CAST(s.NON_UNIQUE = 0 AS SIGNED), CAST(s.SEQ_IN_INDEX AS SIGNED), \
        CAST(s.COLUMN_NAME AS CHAR), \
        CAST(CASE WHEN s.INDEX_TYPE <> 'BTREE' THEN LOWER(s.INDEX_TYPE) END AS CHAR), \
        CAST(NULL AS CHAR), CAST(COALESCE(s.COLLATION = 'D', 0) AS SIGNED) \
        FROM information_schema.STATISTICS s WHERE s.TABLE_SCHEMA = DATABASE() \
        AND s.INDEX_NAME <> 'PRIMARY' AND NOT (s.INDEX_NAME LIKE 'fk\\_%' AND s.NON_UNIQUE = 1) \
        AND NOT EXISTS (SELECT 1 FROM information_schema.REFERENTIAL_CONSTRAINTS r \
        WHERE r.CONSTRAINT_SCHEMA = s.TABLE_SCHEMA AND r.TABLE_NAME = s.TABLE_NAME \
        AND r.CONSTRAINT_NAME = s.INDEX_NAME) \
        AND NOT (s.NON_UNIQUE = 1 AND EXISTS (SELECT 1 FROM information_schema.KEY_COLUMN_USAGE k \
        WHERE k.TABLE_SCHEMA = s.TABLE_SCHEMA AND k.TABLE_NAME = s.TABLE_NAME \
        AND k.REFERENCED_TABLE_NAME IS NOT NULL AND k.ORDINAL_POSITION = 1 \
        AND k.COLUMN_NAME = s.INDEX_NAME)) \
        ORDER BY s.TABLE_NAME, s.INDEX_NAME, s.SEQ_IN_INDEX",
    foreign_keys: "SELECT CAST(k.TABLE_NAME AS CHAR), CAST(k.CONSTRAINT_NAME AS CHAR), \
        CAST(k.CONSTRAINT_NAME AS CHAR), CAST(k.COLUMN_NAME AS CHAR), \
        CAST(k.REFERENCED_TABLE_NAME AS CHAR), CAST(k.REFERENCED_COLUMN_NAME AS CHAR), \
        CAST(r.DELETE_RULE AS CHAR), CAST(r.UPDATE_RULE AS CHAR) \
        FROM information_schema.KEY_COLUMN_USAGE k \
        JOIN information_schema.REFERENTIAL_CONSTRAINTS r \
        ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA \
        AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME AND r.TABLE_NAME = k.TABLE_NAME \
        WHERE k.TABLE_SCHEMA = DATABASE() AND k.REFERENCED_TABLE_NAME IS NOT NULL \
        ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION",
    // MariaDB's JSON type is LONGTEXT with a column-level `json_valid` CHECK named after the
    // column: part of the type, not a constraint of the models.
    named: "SELECT CAST(TABLE_NAME AS CHAR), 'c', CAST(CONSTRAINT_NAME AS CHAR), \
        CAST(CHECK_CLAUSE AS CHAR) \
        FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = DATABASE() \
        AND NOT (LEVEL = 'Column' AND CHECK_CLAUSE LIKE 'json\\_valid(%') \
        UNION ALL SELECT CAST(EVENT_OBJECT_TABLE AS CHAR), 't', \
        CAST(TRIGGER_NAME AS CHAR), CAST(NULL AS CHAR) FROM information_schema.TRIGGERS \
        WHERE TRIGGER_SCHEMA = DATABASE()",
    views: "SELECT CAST(TABLE_NAME AS CHAR) FROM information_schema.TABLES \
        WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'VIEW' ORDER BY 1",
    type_aliases: &[
        ("tinyint(1)", "bool"),
        // MariaDB's JSON is an alias of LONGTEXT (plus a `json_valid` CHECK).
        ("json", "longtext"),
    ],
    keeps_foreign_key_names: true,
    no_action_is_restrict: true,
    reports_collations: true,
    backslash_escapes: true,
};

/// SQLite: `sqlite_master` and the table-valued pragmas of the main database.
pub static SQLITE: Catalog = Catalog {
    dialect: Dialect::Sqlite,
    columns: "SELECT m.name, p.name, p.type, p.\"notnull\" = 0 AND p.pk = 0, p.dflt_value, \
        p.pk > 0 AND instr(upper(m.sql), 'AUTOINCREMENT') > 0, NULL, p.pk \
        FROM sqlite_master m JOIN pragma_table_info(m.name) p \
        WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
        ORDER BY m.name, p.cid",
    indexes: "SELECT m.name, l.name, l.\"unique\", i.seqno, i.name, NULL, \
        CASE WHEN l.partial THEN '(partial)' END, i.\"desc\" \
        FROM sqlite_master m JOIN pragma_index_list(m.name) l \
        JOIN pragma_index_xinfo(l.name) i \
        WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
        AND l.origin IN ('c', 'u') AND i.key = 1 ORDER BY m.name, l.name, i.seqno",
    foreign_keys: "SELECT m.name, CAST(f.id AS TEXT), '', f.\"from\", f.\"table\", f.\"to\", \
        f.on_delete, f.on_update FROM sqlite_master m \
        JOIN pragma_foreign_key_list(m.name) f \
        WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
        ORDER BY m.name, f.id, f.seq",
    named: "SELECT tbl_name, 't', name, NULL FROM sqlite_master WHERE type = 'trigger' \
        UNION ALL SELECT name, 's', sql, NULL FROM sqlite_master WHERE type = 'table' \
        AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'",
    views: "SELECT name FROM sqlite_master WHERE type = 'view' ORDER BY name",
    // One storage class: SQLite's `bigint` is the 64-bit `integer` the ORM declares.
    type_aliases: &[("boolean", "bool"), ("bigint", "integer")],
    keeps_foreign_key_names: false,
    no_action_is_restrict: false,
    reports_collations: false,
    backslash_escapes: false,
};
