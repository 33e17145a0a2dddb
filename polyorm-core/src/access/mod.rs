//! Access control: a [`Layer`](crate::exec::Layer) that checks every statement against a
//! [`Policy`] before it reaches the database.
//!
//! - **Who**: the [`Actor`] of the running task ([`Actor::scope`], a task-local like
//!   [`crate::audit::AuditContext`]): a user id, the roles it holds for this request, and typed
//!   attributes (its tenant, its id) that row rules read.
//! - **What**: roles grant [`Action`]s (read, insert, update, delete, raw SQL, DDL) on models
//!   (by table name, or `*` for every table); roles inherit from any number of others; users
//!   hold roles; a per-user override allows or denies one action on one table and wins over the
//!   roles. Rules can be built in code or loaded from the database ([`Policy::load`]).
//! - **Which rows**: a row rule is a typed filter over one model, made from the actor
//!   (`Post::TENANT_ID.eq(tenant)`), that the layer adds to every read, update and delete of
//!   that model — also where the model is joined or read in a subquery.
//!
//! A refused statement is [`Error::PermissionDenied`](crate::Error::PermissionDenied) naming
//! the actor, its roles, the table and the action, and never reaches the database. A task
//! without an actor is refused everything: access is granted, never assumed.
//!
//! ```
//! # #[cfg(feature = "sqlite")]
//! # async fn run() -> polyorm_core::Result<()> {
//! use polyorm_core::access::{AccessControl, Action, Actor, Policy};
//! use polyorm_core::{Db, Executor};
//!
//! let policy = Policy::new()
//!     .role("reader", |r| r.allow("*", [Action::Read]))
//!     .role("editor", |r| r.inherit("reader").allow("posts", [Action::Insert, Action::Update]))
//!     .user("alice", ["editor"]);
//! let db = Db::connect("sqlite::memory:").await?;
//! let guarded = db.layer(AccessControl::new(policy));
//! let refused = Actor::new("alice").scope(guarded.execute_raw("DROP TABLE posts")).await;
//! assert!(matches!(refused, Err(polyorm_core::Error::PermissionDenied { .. })));
//! # Ok(()) }
//! ```
//!
//! The layer is a guard in the application, not a replacement for the database's own
//! privileges: code that holds the `Db` below the layer is not checked. Where the database
//! must enforce it too, give each role its own database user and its own `Db` (README,
//! "Access control").

mod actor;
mod layer;
mod policy;
mod store;

pub use actor::Actor;
pub use layer::AccessControl;
pub use policy::{Action, Policy, RoleBuilder};
pub use store::{TABLES, create_tables};
