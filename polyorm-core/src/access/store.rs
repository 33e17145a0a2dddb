//! The policy's grants in database tables: created by [`create_tables`], read by
//! [`Policy::load`] at start (SeaORM's RBAC tables are the anchor: roles, their parents,
//! grants by table, users' roles, per-user overrides).

use super::{Action, Policy};
use crate::error::{Error, Result};
use crate::exec::Executor;
use crate::sql::Compiled;
use crate::value::FieldType;

/// `role, parent`: a role inherits every grant of its parent.
pub(crate) const PARENTS: &str = "orm_access_role_parents";
/// `role, table_name, action`: a role may do `action` (`read`, `insert`, `update`, `delete`,
/// `raw`, `ddl`) on `table_name` (or `*`).
pub(crate) const GRANTS: &str = "orm_access_grants";
/// `user_name, role`: the user holds the role.
pub(crate) const USER_ROLES: &str = "orm_access_user_roles";
/// `user_name, table_name, action, allowed`: allows (1) or denies (0) the user one action.
pub(crate) const OVERRIDES: &str = "orm_access_overrides";

/// The tables [`create_tables`] creates and [`Policy::load`] reads.
pub const TABLES: [&str; 4] = [GRANTS, PARENTS, USER_ROLES, OVERRIDES];

/// Creates the policy tables if they do not exist (portable SQL: PostgreSQL, MySQL/MariaDB,
/// SQLite). Or create them in a migration of yours with the same columns.
pub async fn create_tables<E: Executor>(db: &E) -> Result<()> {
    let name = "varchar(100) NOT NULL";
    for (table, columns, key) in [
        (
            GRANTS,
            format!("role {name}, table_name {name}, action varchar(10) NOT NULL"),
            "role, table_name, action",
        ),
        (
            PARENTS,
            format!("role {name}, parent {name}"),
            "role, parent",
        ),
        (
            USER_ROLES,
            format!("user_name {name}, role {name}"),
            "user_name, role",
        ),
        (
            OVERRIDES,
            format!(
                "user_name {name}, table_name {name}, action varchar(10) NOT NULL, allowed smallint NOT NULL"
            ),
            "user_name, table_name, action",
        ),
    ] {
        db.execute_raw(&format!(
            "CREATE TABLE IF NOT EXISTS {table} ({columns}, PRIMARY KEY ({key}))"
        ))
        .await?;
    }
    Ok(())
}

impl Policy {
    /// The grants, role parents, users' roles and overrides stored in the policy tables (see
    /// [`create_tables`]), as a policy to add row rules to. An unknown action or a role that
    /// no grant declares is an [`Error::Config`] naming the row.
    pub async fn load<E: Executor>(db: &E) -> Result<Policy> {
        let mut policy = Policy::new();
        for [role, table, action] in rows::<3, _>(db, "role, table_name, action", GRANTS).await? {
            let action = parse(&action, GRANTS, &role)?;
            policy = policy.role(&role, |r| r.allow(&table, [action]));
        }
        for [role, parent] in rows::<2, _>(db, "role, parent", PARENTS).await? {
            policy = policy.role(&role, |r| r.inherit(&parent));
        }
        for [user, role] in rows::<2, _>(db, "user_name, role", USER_ROLES).await? {
            policy = policy.user(&user, [role.as_str()]);
        }
        let overrides = rows::<4, _>(
            db,
            "user_name, table_name, action, CAST(allowed AS CHAR(1))",
            OVERRIDES,
        );
        for [user, table, action, allowed] in overrides.await? {
            let action = parse(&action, OVERRIDES, &user)?;
            policy = if allowed.trim() == "0" {
                policy.deny_user(&user, &table, action)
            } else {
                policy.allow_user(&user, &table, action)
            };
        }
        Ok(policy)
    }
}

fn parse(action: &str, table: &str, who: &str) -> Result<Action> {
    Action::parse(action).ok_or_else(|| {
        Error::Config(format!(
            "access policy: {table} has the action `{action}` for `{who}`; the actions are \
             read, insert, update, delete, raw and ddl"
        ))
    })
}

/// Every row of `table`, its `N` `columns` read as text, in a stable order.
async fn rows<const N: usize, E: Executor>(
    db: &E,
    columns: &str,
    table: &str,
) -> Result<Vec<[String; N]>> {
    let statement = Compiled {
        sql: format!("SELECT {columns} FROM {table} ORDER BY 1, 2"),
        values: Vec::new(),
    };
    db.fetch_compiled(statement, |row| {
        let mut out: [String; N] = std::array::from_fn(|_| String::new());
        for (i, slot) in out.iter_mut().enumerate() {
            *slot = <String as FieldType>::decode(row, i)?;
        }
        Ok(out)
    })
    .await
}
