//! [`Policy`]: roles, their grants and parents, users, per-user overrides and row rules; and
//! the decision for one actor, table and action.

use std::collections::{HashMap, HashSet};

use rustc_hash::FxHashMap;
use std::fmt;
use std::sync::Arc;

use super::Actor;
use crate::error::{Error, Result};
use crate::model::Model;
use crate::query::Filter;
use crate::query::ir::Condition;

/// What a statement does to a table, as a policy grants it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// Reads rows (selects, counts, joins, subqueries, streams).
    Read,
    /// Inserts rows (an upsert also needs [`Action::Update`] when it updates).
    Insert,
    /// Updates rows.
    Update,
    /// Deletes rows.
    Delete,
    /// Runs SQL the caller wrote (`raw`, `execute_raw` other than DDL); granted on `*`, since
    /// its tables are not known.
    Raw,
    /// Changes the schema (`CREATE`, `ALTER`, `DROP`, `TRUNCATE` through `execute_raw`,
    /// `create_table`, migrations); granted on `*`.
    Ddl,
}

impl Action {
    /// Every action, in the order above.
    pub const ALL: [Action; 6] = [
        Action::Read,
        Action::Insert,
        Action::Update,
        Action::Delete,
        Action::Raw,
        Action::Ddl,
    ];

    /// The name stored in the policy tables and shown in errors (`read`, `insert`, `update`,
    /// `delete`, `raw`, `ddl`).
    pub fn name(self) -> &'static str {
        match self {
            Action::Read => "read",
            Action::Insert => "insert",
            Action::Update => "update",
            Action::Delete => "delete",
            Action::Raw => "raw",
            Action::Ddl => "ddl",
        }
    }

    /// The action named `name` (as [`Action::name`] spells it, any case).
    pub fn parse(name: &str) -> Option<Action> {
        Action::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name.trim()))
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Action::Raw => "run raw SQL on",
            Action::Ddl => "change the schema of",
            other => other.name(),
        })
    }
}

/// The table name that stands for every table in grants and overrides.
pub(crate) const EVERY_TABLE: &str = "*";

/// A row rule: the condition an actor's reads, updates and deletes of one table get, or
/// `None` when the actor lacks what the rule needs (then the statement is refused).
pub(crate) type RowRule = Arc<dyn Fn(&Actor) -> Option<Condition> + Send + Sync>;

/// One role as declared: its grants by table and the roles it inherits from.
#[derive(Debug, Clone, Default)]
struct Role {
    grants: HashMap<String, u8>,
    parents: Vec<String>,
    all_rows: bool,
}

/// Declares one role of a [`Policy`] (see [`Policy::role`]).
#[derive(Debug, Default)]
pub struct RoleBuilder {
    role: Role,
}

impl RoleBuilder {
    /// Grants `actions` on `table` (a model's table name, or `*` for every table).
    pub fn allow(mut self, table: &str, actions: impl IntoIterator<Item = Action>) -> Self {
        let bits = actions.into_iter().fold(0, |bits, a| bits | a.bit());
        *self.role.grants.entry(table.to_owned()).or_default() |= bits;
        self
    }

    /// Also has every grant of `parent` (and of its parents); a role may inherit from many.
    pub fn inherit(mut self, parent: &str) -> Self {
        self.role.parents.push(parent.to_owned());
        self
    }

    /// Row rules do not apply to actors holding this role (an administrator, a support
    /// tool that reads every tenant).
    pub fn all_rows(mut self) -> Self {
        self.role.all_rows = true;
        self
    }
}

/// Who may do what: roles with grants and parents, users with roles, per-user overrides, and
/// row rules. Build it in code or load its grants from the database ([`Policy::load`]), then
/// put it on an executor with [`AccessControl`](super::AccessControl).
#[derive(Clone, Default)]
pub struct Policy {
    roles: HashMap<String, Role>,
    users: HashMap<String, Vec<String>>,
    /// (user, table) → (allowed, denied) actions.
    overrides: HashMap<(String, String), (u8, u8)>,
    row_rules: HashMap<&'static str, RowRule>,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("roles", &self.roles)
            .field("users", &self.users)
            .field("overrides", &self.overrides)
            .field("row_rules", &self.row_rules.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Policy {
    /// A policy that grants nothing.
    pub fn new() -> Self {
        Self::default()
    }

    /// Declares role `name` (declaring it again adds to it).
    pub fn role(mut self, name: &str, build: impl FnOnce(RoleBuilder) -> RoleBuilder) -> Self {
        let existing = self.roles.remove(name).unwrap_or_default();
        let built = build(RoleBuilder { role: existing }).role;
        self.roles.insert(name.to_owned(), built);
        self
    }

    /// Gives `user` the `roles`.
    pub fn user<'a>(mut self, user: &str, roles: impl IntoIterator<Item = &'a str>) -> Self {
        self.users
            .entry(user.to_owned())
            .or_default()
            .extend(roles.into_iter().map(str::to_owned));
        self
    }

    /// Allows `user` `action` on `table` (or `*`) whatever its roles say, unless an override
    /// denies it.
    pub fn allow_user(mut self, user: &str, table: &str, action: Action) -> Self {
        self.overrides
            .entry((user.to_owned(), table.to_owned()))
            .or_default()
            .0 |= action.bit();
        self
    }

    /// Denies `user` `action` on `table` (or `*`) whatever its roles and allowances say.
    pub fn deny_user(mut self, user: &str, table: &str, action: Action) -> Self {
        self.overrides
            .entry((user.to_owned(), table.to_owned()))
            .or_default()
            .1 |= action.bit();
        self
    }

    /// Adds `rule(actor)` to every read, update and delete of `M`'s rows, wherever `M` is
    /// read (joined, in a subquery, streamed), e.g. `|a| Some(Post::TENANT_ID.eq(a.get::<Tenant>()?.0))`.
    /// A rule that returns `None` (the actor lacks what it needs) refuses the statement.
    /// Inserts are not filtered: grant [`Action::Insert`] only to roles trusted with it.
    pub fn row_rule<M: Model>(
        mut self,
        rule: impl Fn(&Actor) -> Option<Filter<M>> + Send + Sync + 'static,
    ) -> Self {
        let rule: RowRule = Arc::new(move |actor| rule(actor).map(Filter::into_condition));
        self.row_rules.insert(M::SCHEMA.table, rule);
        self
    }

    /// The policy ready to answer: each role's grants with its ancestors', each user's with
    /// its roles'. Refuses a role that names an undeclared parent or inherits from itself,
    /// and a user given an undeclared role, naming them.
    pub(crate) fn resolve(self) -> Result<Resolved> {
        let mut roles = FxHashMap::default();
        for name in self.roles.keys() {
            let mut seen = HashSet::new();
            let resolved = self.flatten(name, &mut seen, &mut Vec::new())?;
            roles.insert(name.clone(), resolved);
        }
        let mut users = FxHashMap::default();
        for (user, names) in &self.users {
            let mut merged = ResolvedRole::default();
            for name in names {
                let role = roles.get(name).ok_or_else(|| {
                    Error::Config(format!(
                        "access policy: user `{user}` is given role `{name}`, which is not \
                         declared; declare it with `Policy::role` (or in {})",
                        super::store::GRANTS
                    ))
                })?;
                merged.merge(role);
            }
            users.insert(user.clone(), (names.clone(), merged));
        }
        let mut overrides: FxHashMap<String, FxHashMap<String, (u8, u8)>> = FxHashMap::default();
        for ((user, table), bits) in self.overrides {
            overrides.entry(user).or_default().insert(table, bits);
        }
        Ok(Resolved {
            roles,
            users,
            overrides,
            row_rules: self.row_rules.into_iter().collect(),
        })
    }

    fn flatten(
        &self,
        name: &str,
        seen: &mut HashSet<String>,
        path: &mut Vec<String>,
    ) -> Result<ResolvedRole> {
        let role = self.roles.get(name).ok_or_else(|| {
            Error::Config(format!(
                "access policy: role `{}` inherits from `{name}`, which is not declared",
                path.last().map_or("?", String::as_str)
            ))
        })?;
        if path.iter().any(|p| p == name) {
            return Err(Error::Config(format!(
                "access policy: roles inherit from each other in a cycle: {} -> {name}",
                path.join(" -> ")
            )));
        }
        let mut out = ResolvedRole {
            grants: role.grants.iter().map(|(t, b)| (t.clone(), *b)).collect(),
            every_table: role.grants.get(EVERY_TABLE).copied().unwrap_or(0),
            all_rows: role.all_rows,
        };
        if !seen.insert(name.to_owned()) {
            return Ok(out);
        }
        path.push(name.to_owned());
        for parent in &role.parents {
            let inherited = self.flatten(parent, seen, path)?;
            out.merge(&inherited);
        }
        path.pop();
        Ok(out)
    }
}

/// A role with every inherited grant.
#[derive(Debug, Clone, Default)]
pub(crate) struct ResolvedRole {
    grants: FxHashMap<String, u8>,
    /// The actions granted on `*` (also in `grants`), read without a lookup.
    every_table: u8,
    all_rows: bool,
}

impl ResolvedRole {
    fn merge(&mut self, other: &ResolvedRole) {
        for (table, bits) in &other.grants {
            *self.grants.entry(table.clone()).or_default() |= bits;
        }
        self.every_table |= other.every_table;
        self.all_rows |= other.all_rows;
    }

    fn grants(&self, table: &str, action: Action) -> bool {
        self.every_table & action.bit() != 0
            || self
                .grants
                .get(table)
                .is_some_and(|b| b & action.bit() != 0)
    }
}

/// A policy ready to answer (see [`Policy::resolve`]); its maps are looked up on every
/// statement, with a hasher made for short keys.
pub(crate) struct Resolved {
    roles: FxHashMap<String, ResolvedRole>,
    /// user → (its role names, their merged grants).
    users: FxHashMap<String, (Vec<String>, ResolvedRole)>,
    /// user → table → (allowed, denied) actions.
    overrides: FxHashMap<String, FxHashMap<String, (u8, u8)>>,
    pub(crate) row_rules: FxHashMap<&'static str, RowRule>,
}

impl Resolved {
    /// Refuses `action` on `table` for `actor` with the reason, or lets it pass.
    pub(crate) fn check(&self, actor: &Actor, table: &str, action: Action) -> Result<()> {
        if let Some(overrides) = self.overrides.get(actor.user()) {
            let (allow, deny) = [table, EVERY_TABLE]
                .into_iter()
                .filter_map(|t| overrides.get(t))
                .fold((0, 0), |(a, d), (oa, od)| (a | oa, d | od));
            if deny & action.bit() != 0 {
                return Err(self.denied(
                    actor,
                    table,
                    action,
                    "an override denies it to this user",
                ));
            }
            if allow & action.bit() != 0 {
                return Ok(());
            }
        }
        let user = self.users.get(actor.user());
        if user.is_some_and(|(_, role)| role.grants(table, action)) {
            return Ok(());
        }
        let by_scope = actor
            .roles()
            .iter()
            .filter_map(|r| self.roles.get(r))
            .any(|role| role.grants(table, action));
        if by_scope {
            return Ok(());
        }
        Err(self.denied(actor, table, action, "none of its roles grants it"))
    }

    /// Whether `actor` may run `action` on every table (a role granting it on `*`, and no
    /// override for the user): then [`check`](Self::check) passes for any table, and a read
    /// needs no walk over the tables it reads.
    pub(crate) fn grants_everywhere(&self, actor: &Actor, action: Action) -> bool {
        if !self.overrides.is_empty() && self.overrides.contains_key(actor.user()) {
            return false;
        }
        let bit = action.bit();
        self.users
            .get(actor.user())
            .is_some_and(|(_, role)| role.every_table & bit != 0)
            || actor
                .roles()
                .iter()
                .filter_map(|r| self.roles.get(r))
                .any(|role| role.every_table & bit != 0)
    }

    /// Whether `actor` holds a role that row rules do not apply to.
    pub(crate) fn sees_all_rows(&self, actor: &Actor) -> bool {
        let user = self.users.get(actor.user());
        user.is_some_and(|(_, role)| role.all_rows)
            || actor
                .roles()
                .iter()
                .filter_map(|r| self.roles.get(r))
                .any(|role| role.all_rows)
    }

    /// [`Error::PermissionDenied`] for `actor`, naming every role it holds.
    pub(crate) fn denied(&self, actor: &Actor, table: &str, action: Action, reason: &str) -> Error {
        let mut roles: Vec<&str> = self
            .users
            .get(actor.user())
            .map(|(names, _)| names.iter().map(String::as_str).collect())
            .unwrap_or_default();
        roles.extend(actor.roles().iter().map(String::as_str));
        Error::PermissionDenied {
            actor: actor.user().to_owned(),
            roles: roles.into_iter().map(str::to_owned).collect(),
            table: table.to_owned(),
            action: action.name().to_owned(),
            reason: reason.to_owned(),
        }
    }
}
