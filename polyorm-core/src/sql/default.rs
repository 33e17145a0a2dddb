//! Column defaults per dialect: the SQL of `DEFAULT` clauses and of the values the database
//! generates on insert (`#[orm(default = now())]`, `#[orm(default = uuid())]`).
//!
//! | default            | PostgreSQL                          | MySQL/MariaDB       | SQLite                                            |
//! |--------------------|-------------------------------------|---------------------|---------------------------------------------------|
//! | `now()` timestamptz| `now()`                             | `utc_timestamp(6)`  | `strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')`      |
//! | `now()` timestamp  | `timezone('UTC', now())`            | `utc_timestamp(6)`  | `strftime('%Y-%m-%d %H:%M:%f', 'now')`            |
//! | `now()` date       | `(timezone('UTC', now()))::date`    | `utc_date()`        | `date('now')`                                     |
//! | `uuid()`           | `gen_random_uuid()`                 | — (the ORM: v7)     | — (the ORM: v7)                                   |
//! | decimal `"1.50"`   | `1.50`                              | `1.50`              | scaled integer `150`, or `'1.50'` as text         |
//!
//! Everything is UTC: the ORM writes timestamps in UTC, and the database's own clock is read
//! in UTC whatever the session's time zone.

use super::Dialect;
use super::scaled::scaled_storage;
use crate::schema::default::is_decimal_text;
use crate::schema::{ColumnType, DefaultValue};

/// The SQL expression `dialect` evaluates for a generated default ([`DefaultValue::Now`],
/// [`DefaultValue::Uuid`]) of a `ty` column, or `None` where the database cannot generate it
/// (a UUID outside PostgreSQL, which the ORM then generates itself) or for a constant.
pub fn generated_sql<S>(
    default: &DefaultValue<S>,
    ty: ColumnType,
    dialect: Dialect,
) -> Option<&'static str> {
    use Dialect::{MySql, Postgres, Sqlite};
    match (default, ty, dialect) {
        (DefaultValue::Now, ColumnType::TimestampTz, Postgres) => Some("now()"),
        (DefaultValue::Now, ColumnType::Timestamp, Postgres) => Some("timezone('UTC', now())"),
        (DefaultValue::Now, ColumnType::Date, Postgres) => Some("(timezone('UTC', now()))::date"),
        (DefaultValue::Now, ColumnType::TimestampTz | ColumnType::Timestamp, MySql) => {
            Some("utc_timestamp(6)")
        }
        (DefaultValue::Now, ColumnType::Date, MySql) => Some("utc_date()"),
        (DefaultValue::Now, ColumnType::TimestampTz, Sqlite) => {
            Some("strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')")
        }
        (DefaultValue::Now, ColumnType::Timestamp, Sqlite) => {
            Some("strftime('%Y-%m-%d %H:%M:%f', 'now')")
        }
        (DefaultValue::Now, ColumnType::Date, Sqlite) => Some("date('now')"),
        (DefaultValue::Uuid, ColumnType::Uuid, Postgres) => Some("gen_random_uuid()"),
        _ => None,
    }
}

/// The `DEFAULT` clause's SQL for the defaults that are not plain literals of the column's
/// own type (the DDL parenthesizes it, as SQLite and MySQL require of an expression):
/// generated values and decimals (a number, or SQLite's scaled integer). `None` for the others, which the DDL
/// writes as literals, and for a UUID default outside PostgreSQL (no database default: the ORM
/// generates the value).
pub fn default_sql(
    default: &DefaultValue<&str>,
    ty: ColumnType,
    precision: Option<(u32, u32)>,
    dialect: Dialect,
) -> Option<String> {
    if default.is_generated() {
        return generated_sql(default, ty, dialect).map(str::to_owned);
    }
    if ty != ColumnType::Decimal {
        return None;
    }
    let digits = match default {
        DefaultValue::Int(i) => i.to_string(),
        DefaultValue::Float(f) => format!("{f}"),
        DefaultValue::Text(t) if is_decimal_text(t) => (*t).to_owned(),
        // Not a number: written as text (the derive accepts only decimal digits).
        _ => return None,
    };
    if dialect == Dialect::Sqlite {
        return Some(match scaled_storage(ty, precision) {
            Some(scale) => scaled_integer(&digits, scale),
            None => format!("'{digits}'"),
        });
    }
    Some(digits)
}

/// `digits` (a decimal number) times 10^`scale`, rounded toward zero past the scale: SQLite's
/// scaled-integer storage of a decimal.
fn scaled_integer(digits: &str, scale: u32) -> String {
    let (negative, digits) = match digits.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, digits),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    let mut frac: String = frac.chars().take(scale as usize).collect();
    while frac.len() < scale as usize {
        frac.push('0');
    }
    let joined = format!("{int}{frac}");
    let trimmed = joined.trim_start_matches('0');
    let magnitude = if trimmed.is_empty() { "0" } else { trimmed };
    if negative && magnitude != "0" {
        format!("-{magnitude}")
    } else {
        magnitude.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_defaults_are_numbers_or_sqlite_scaled_integers() {
        let text = DefaultValue::Text("-12.5");
        let sql = |d| default_sql(&text, ColumnType::Decimal, Some((10, 2)), d);
        assert_eq!(sql(Dialect::Postgres).as_deref(), Some("-12.5"));
        assert_eq!(sql(Dialect::MySql).as_deref(), Some("-12.5"));
        assert_eq!(sql(Dialect::Sqlite).as_deref(), Some("-1250"));
        assert_eq!(scaled_integer("0.00", 2), "0");
        assert_eq!(scaled_integer("3", 0), "3");
        assert_eq!(scaled_integer("1.239", 2), "123");
        assert_eq!(
            default_sql(&text, ColumnType::Decimal, None, Dialect::Sqlite).as_deref(),
            Some("'-12.5'")
        );
    }

    #[test]
    fn uuids_are_generated_by_postgresql_only() {
        let uuid: DefaultValue<&str> = DefaultValue::Uuid;
        assert_eq!(
            generated_sql(&uuid, ColumnType::Uuid, Dialect::Postgres),
            Some("gen_random_uuid()")
        );
        assert_eq!(generated_sql(&uuid, ColumnType::Uuid, Dialect::MySql), None);
        assert_eq!(
            generated_sql(&uuid, ColumnType::Uuid, Dialect::Sqlite),
            None
        );
    }
}
