//! The workloads, written once per library the way that library's documentation writes them.
//! Each function returns the library's own values; `check.rs` reduces them to plain rows.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use polyorm::Dialect;

use crate::models::{dsl, ours, sea};

/// Users per task and tasks of the concurrent primary-key workload.
pub const TASKS: usize = 16;
/// Lookups each of the [`TASKS`] performs per iteration.
pub const LOOKUPS_PER_TASK: usize = 8;

/// One connection (or pool) per library, all on the same database.
pub struct Ctx {
    pub dialect: Dialect,
    pub orm: polyorm::Db,
    /// The ORM on sqlx's driver (`PostgresDriver::Sqlx`, `MySqlDriver::Sqlx`; PostgreSQL and
    /// MariaDB/MySQL): the `orm_sqlx` column, beside `orm` on the native driver.
    pub orm_sqlx: Option<polyorm::Db>,
    /// sqlx as diesel_bench runs it: one bare connection on PostgreSQL and MariaDB/MySQL (no
    /// pool, so no ping on acquire or release), the pool on SQLite.
    pub sqlx: Sqlx,
    /// Raw mysql_async on one bare connection (MariaDB/MySQL only): the `mysql_async` column,
    /// the candidate for a native MariaDB driver, measured beside raw sqlx.
    pub mysql_async: Option<MyAsync>,
    /// A pool of [`TASKS`] sqlx connections for the concurrent workload (and the SQLite cells).
    pub sqlx_pool: SqlxPool,
    pub sql: HandSql,
    pub sea: sea_orm::DatabaseConnection,
    /// One connection per concurrent task; the single-task workloads use the first.
    pub diesel: Vec<Arc<Mutex<DieselConn>>>,
}

/// Users, each with their posts, each with its comments: eager loading's result.
pub type Nested<U, P, C> = Vec<(U, Vec<(P, Vec<C>)>)>;

/// The input of the insert workload: `(name, hair_color)`.
pub type NewRow = (String, Option<String>);

// ---------------------------------------------------------------- this ORM

pub mod orm_side {
    use super::*;
    use ours::{Comment, NewUser, Post, User};
    use polyorm::prelude::*;

    pub async fn select_users(ctx: &Ctx) -> Vec<User> {
        select_users_on(&ctx.orm).await
    }

    pub async fn select_users_on(db: &impl Executor) -> Vec<User> {
        User::query().all(db).await.unwrap()
    }

    pub async fn join(ctx: &Ctx) -> Vec<(User, Option<Post>)> {
        join_on(&ctx.orm).await
    }

    pub async fn join_on(db: &impl Executor) -> Vec<(User, Option<Post>)> {
        User::query()
            .left_join(User::posts())
            .filter(User::HAIR_COLOR.eq("black"))
            .all(db)
            .await
            .unwrap()
    }

    pub async fn insert(ctx: &Ctx, rows: &[NewRow]) -> u64 {
        insert_on(&ctx.orm, rows).await
    }

    pub async fn insert_on(db: &impl Executor, rows: &[NewRow]) -> u64 {
        let rows: Vec<NewUser> = rows
            .iter()
            .map(|(name, hair)| NewUser {
                id: 0,
                name: name.clone(),
                hair_color: hair.clone(),
            })
            .collect();
        NewUser::insert_many(db, &rows).await.unwrap()
    }

    pub async fn associations(ctx: &Ctx) -> Nested<User, Post, Comment> {
        associations_on(&ctx.orm).await
    }

    pub async fn associations_on(db: &impl Executor) -> Nested<User, Post, Comment> {
        User::query()
            .with(User::posts().with(Post::comments()))
            .all(db)
            .await
            .unwrap()
    }

    pub async fn find(db: &impl Executor, id: i64) -> Option<User> {
        User::find(db, id).await.unwrap()
    }

    /// The mixed workload's write: one user renamed.
    pub async fn rename(db: &impl Executor, id: i64) -> u64 {
        User::update_many()
            .set(User::NAME, format!("Renamed {id}"))
            .filter(User::ID.eq(id))
            .execute(db)
            .await
            .unwrap()
    }

    /// A layer that only passes each operation on (it overrides nothing and hands no
    /// operation to `call`): three of them stacked measure what the layer seam costs a query
    /// (`orm_layers3` in instruction counts).
    #[derive(Clone, Copy)]
    pub struct PassThrough;

    impl polyorm::exec::Layer for PassThrough {
        const CALLS: polyorm::exec::OpKinds = polyorm::exec::OpKinds::NONE;
    }

    /// `db` under three [`PassThrough`] layers.
    pub fn layers3(db: &Db) -> impl Executor {
        db.layer(PassThrough).layer(PassThrough).layer(PassThrough)
    }

    /// `db` under the tracing and metrics layers, with no subscriber or recorder installed
    /// (`orm_observed` in instruction counts).
    pub fn observed(db: &Db) -> impl Executor {
        db.layer(polyorm::observe::Metrics::new())
            .layer(polyorm::observe::Tracing::new())
    }

    /// `db` under the access-control layer: a reader of every table, with a policy of a few
    /// roles and users (`orm_access` in instruction counts).
    pub fn guarded(db: &Db) -> impl Executor {
        use polyorm::access::{AccessControl, Action, Policy};
        let policy = Policy::new()
            .role("reader", |r| r.allow("*", [Action::Read]))
            .role("writer", |r| {
                r.inherit("reader").allow("users", [Action::Insert])
            })
            .user("bench", ["reader"])
            .user("other", ["writer"]);
        db.layer(AccessControl::new(policy))
    }

    /// A topology whose primary and replica are the benchmark's server, probed once an hour
    /// (so that no probe runs while instructions are counted): the cost of routing
    /// (`orm_topology` in instruction counts).
    pub async fn topology(dialect: Dialect) -> polyorm::topology::Topology {
        let url = crate::setup::url(dialect);
        Db::topology()
            .primary(url.clone())
            .replica(url)
            .pool_options(polyorm::PoolOptions::new().max_connections(crate::libs::TASKS as u32))
            .probe_interval(std::time::Duration::from_secs(3600))
            .connect()
            .await
            .expect("connect the topology")
    }

    pub fn build(dialect: Dialect) -> polyorm::Compiled {
        User::query()
            .filter(User::ID.gt(10))
            .filter(User::NAME.like("User 1%"))
            .filter(User::HAIR_COLOR.eq("black"))
            .compile(dialect)
            .unwrap()
    }
}

// ---------------------------------------------------------------- raw sqlx

/// A sqlx pool of the dialect under test.
#[derive(Clone)]
pub enum SqlxPool {
    Pg(sqlx::PgPool),
    My(sqlx::MySqlPool),
    Lite(sqlx::SqlitePool),
}

/// Runs `$body` with `$p` bound to the concrete pool and `$row` naming its row type (the body
/// is type-checked once per driver).
macro_rules! with_pool {
    ($pool:expr, $p:ident, $row:ident => $body:expr) => {
        match $pool {
            SqlxPool::Pg($p) => {
                #[allow(dead_code)]
                type $row = sqlx::postgres::PgRow;
                $body
            }
            SqlxPool::My($p) => {
                #[allow(dead_code)]
                type $row = sqlx::mysql::MySqlRow;
                $body
            }
            SqlxPool::Lite($p) => {
                #[allow(dead_code)]
                type $row = sqlx::sqlite::SqliteRow;
                $body
            }
        }
    };
}

/// What the sqlx workloads run on: one bare connection (PostgreSQL, MariaDB/MySQL), or a pool.
#[derive(Clone)]
pub enum Sqlx {
    Pg(Arc<tokio::sync::Mutex<sqlx::PgConnection>>),
    My(Arc<tokio::sync::Mutex<sqlx::MySqlConnection>>),
    Pool(SqlxPool),
}

/// Like [`with_pool!`] over a [`Sqlx`]: a bare connection is locked (uncontended, once per
/// statement, as the ORM's own `Connection` is) and `$p` is `&mut` that connection.
macro_rules! with_sqlx {
    ($sqlx:expr, $p:ident, $row:ident => $body:expr) => {
        match $sqlx {
            Sqlx::Pg(conn) => {
                #[allow(dead_code)]
                type $row = sqlx::postgres::PgRow;
                let mut guard = conn.lock().await;
                let $p = &mut *guard;
                $body
            }
            Sqlx::My(conn) => {
                #[allow(dead_code)]
                type $row = sqlx::mysql::MySqlRow;
                let mut guard = conn.lock().await;
                let $p = &mut *guard;
                $body
            }
            Sqlx::Pool(pool) => with_pool!(pool, $p, $row => $body),
        }
    };
}

/// Hand-written SQL, in the dialect's placeholder style.
pub struct HandSql {
    pub join: &'static str,
    pub find: &'static str,
    /// `$` (PostgreSQL) or `?`: the placeholder of generated `IN` lists.
    pub numbered: bool,
}

impl HandSql {
    pub fn new(dialect: Dialect) -> HandSql {
        match dialect {
            Dialect::Postgres => HandSql {
                join: "SELECT u.id, u.name, u.hair_color, p.id, p.user_id, p.title, p.body \
                       FROM bench_users u LEFT JOIN bench_posts p ON p.user_id = u.id \
                       WHERE u.hair_color = $1",
                find: "SELECT id, name, hair_color FROM bench_users WHERE id = $1",
                numbered: true,
            },
            _ => HandSql {
                join: "SELECT u.id, u.name, u.hair_color, p.id, p.user_id, p.title, p.body \
                       FROM bench_users u LEFT JOIN bench_posts p ON p.user_id = u.id \
                       WHERE u.hair_color = ?",
                find: "SELECT id, name, hair_color FROM bench_users WHERE id = ?",
                numbered: false,
            },
        }
    }
}

/// A user decoded by hand.
#[derive(Debug, Clone)]
pub struct SqUser {
    pub id: i64,
    pub name: String,
    pub hair_color: Option<String>,
}

/// A post decoded by hand.
#[derive(Debug, Clone)]
pub struct SqPost {
    pub id: i64,
    pub user_id: i64,
    pub title: String,
    pub body: Option<String>,
}

/// A comment decoded by hand.
#[derive(Debug, Clone)]
pub struct SqComment {
    pub id: i64,
    pub post_id: i64,
    pub text: String,
}

/// `SELECT .. FROM table WHERE column IN (ids)`, placeholders in the dialect's style.
fn in_list(head: &str, ids: &[i64], numbered: bool) -> String {
    let mut sql = String::with_capacity(head.len() + ids.len() * 6 + 2);
    sql.push_str(head);
    sql.push_str(" IN (");
    for i in 0..ids.len() {
        if i > 0 {
            sql.push_str(", ");
        }
        if numbered {
            sql.push('$');
            sql.push_str(&(i + 1).to_string());
        } else {
            sql.push('?');
        }
    }
    sql.push(')');
    sql
}

/// Hand-decoded users, posts and comments nested as eager loading returns them.
fn nest(
    users: Vec<SqUser>,
    posts: Vec<SqPost>,
    comments: Vec<SqComment>,
) -> Nested<SqUser, SqPost, SqComment> {
    let mut by_post: HashMap<i64, Vec<SqComment>> = HashMap::new();
    for c in comments {
        by_post.entry(c.post_id).or_default().push(c);
    }
    let mut by_user: HashMap<i64, Vec<(SqPost, Vec<SqComment>)>> = HashMap::new();
    for p in posts {
        let cs = by_post.remove(&p.id).unwrap_or_default();
        by_user.entry(p.user_id).or_default().push((p, cs));
    }
    users
        .into_iter()
        .map(|u| {
            let ps = by_user.remove(&u.id).unwrap_or_default();
            (u, ps)
        })
        .collect()
}

pub mod sqlx_side {
    use super::*;
    use sqlx::Row;

    macro_rules! user_at {
        ($r:expr, $at:expr) => {
            SqUser {
                id: $r.get($at),
                name: $r.get($at + 1),
                hair_color: $r.get($at + 2),
            }
        };
    }

    pub async fn select_users(sqlx: &Sqlx) -> Vec<SqUser> {
        with_sqlx!(sqlx, p, Row => sqlx::query("SELECT id, name, hair_color FROM bench_users")
            .map(|r: Row| user_at!(r, 0))
            .fetch_all(p)
            .await
            .unwrap())
    }

    /// Every user, one row at a time (`fetch`), none kept; returns how many.
    pub async fn stream_users(sqlx: &Sqlx) -> usize {
        use futures::TryStreamExt;
        with_sqlx!(sqlx, p, Row => {
            let mut rows = sqlx::query("SELECT id, name, hair_color FROM bench_users")
                .map(|r: Row| user_at!(r, 0))
                .fetch(p);
            let mut n = 0;
            while let Some(user) = rows.try_next().await.unwrap() {
                std::hint::black_box(user);
                n += 1;
            }
            n
        })
    }

    pub async fn join(ctx: &Ctx) -> Vec<(SqUser, Option<SqPost>)> {
        with_sqlx!(&ctx.sqlx, p, Row => sqlx::query(ctx.sql.join)
            .bind("black")
            .map(|r: Row| {
                let post = r.get::<Option<i64>, _>(3).map(|id| SqPost {
                    id,
                    user_id: r.get(4),
                    title: r.get(5),
                    body: r.get(6),
                });
                (user_at!(r, 0), post)
            })
            .fetch_all(p)
            .await
            .unwrap())
    }

    pub async fn insert(ctx: &Ctx, rows: &[NewRow]) -> u64 {
        with_sqlx!(&ctx.sqlx, p, Row => {
            let mut q = sqlx::QueryBuilder::new("INSERT INTO bench_new_users (name, hair_color) ");
            q.push_values(rows, |mut b, (name, hair)| {
                b.push_bind(name.as_str()).push_bind(hair.as_deref());
            });
            q.build().execute(p).await.unwrap().rows_affected()
        })
    }

    pub async fn associations(ctx: &Ctx) -> Nested<SqUser, SqPost, SqComment> {
        let users = select_users(&ctx.sqlx).await;
        let user_ids: Vec<i64> = users.iter().map(|u| u.id).collect();
        let sql = in_list(
            "SELECT id, user_id, title, body FROM bench_posts WHERE user_id",
            &user_ids,
            ctx.sql.numbered,
        );
        let posts: Vec<SqPost> = with_sqlx!(&ctx.sqlx, p, Row => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in &user_ids {
                q = q.bind(*id);
            }
            q.map(|r: Row| SqPost { id: r.get(0), user_id: r.get(1), title: r.get(2), body: r.get(3) })
                .fetch_all(p)
                .await
                .unwrap()
        });
        let post_ids: Vec<i64> = posts.iter().map(|p| p.id).collect();
        let sql = in_list(
            "SELECT id, post_id, text FROM bench_comments WHERE post_id",
            &post_ids,
            ctx.sql.numbered,
        );
        let comments: Vec<SqComment> = with_sqlx!(&ctx.sqlx, p, Row => {
            let mut q = sqlx::query(sqlx::AssertSqlSafe(sql));
            for id in &post_ids {
                q = q.bind(*id);
            }
            q.map(|r: Row| SqComment { id: r.get(0), post_id: r.get(1), text: r.get(2) })
                .fetch_all(p)
                .await
                .unwrap()
        });
        nest(users, posts, comments)
    }

    pub async fn find(sqlx: &Sqlx, sql: &'static str, id: i64) -> Option<SqUser> {
        with_sqlx!(sqlx, p, Row => sqlx::query(sql)
            .bind(id)
            .map(|r: Row| user_at!(r, 0))
            .fetch_optional(p)
            .await
            .unwrap())
    }

    /// The mixed workload's write (SQLite's placeholders).
    pub async fn rename(sqlx: &Sqlx, id: i64) -> u64 {
        with_sqlx!(sqlx, p, Row => sqlx::query("UPDATE bench_users SET name = ? WHERE id = ?")
            .bind(format!("Renamed {id}"))
            .bind(id)
            .execute(p)
            .await
            .unwrap()
            .rows_affected())
    }
}

// ---------------------------------------------------------------- raw mysql_async

/// One bare mysql_async connection, locked once per statement as raw sqlx's is.
pub type MyAsync = Arc<tokio::sync::Mutex<mysql_async::Conn>>;

/// Raw mysql_async (MariaDB/MySQL), written as its documentation writes it: `exec_map` and
/// `exec_first` on one bare connection, each statement prepared once and then taken from the
/// connection's statement cache (the binary protocol both ways, as sqlx's prepared statements),
/// every column of every row decoded into the same structs as raw sqlx's.
pub mod mysql_async_side {
    use super::*;
    use mysql_async::Value;
    use mysql_async::prelude::Queryable;

    /// `(id, name, hair_color)`.
    type UserCols = (i64, String, Option<String>);

    fn user((id, name, hair_color): UserCols) -> SqUser {
        SqUser {
            id,
            name,
            hair_color,
        }
    }

    pub async fn select_users(conn: &MyAsync) -> Vec<SqUser> {
        conn.lock()
            .await
            .exec_map("SELECT id, name, hair_color FROM bench_users", (), user)
            .await
            .unwrap()
    }

    /// `(user columns, post id, user_id, title, body)`; the post's are NULL for a user without one.
    type JoinCols = (
        i64,
        String,
        Option<String>,
        Option<i64>,
        Option<i64>,
        Option<String>,
        Option<String>,
    );

    pub async fn join(ctx: &Ctx, conn: &MyAsync) -> Vec<(SqUser, Option<SqPost>)> {
        conn.lock()
            .await
            .exec_map(
                ctx.sql.join,
                ("black",),
                |(id, name, hair_color, post, user_id, title, body): JoinCols| {
                    let post = post.map(|id| SqPost {
                        id,
                        user_id: user_id.expect("a post has a user_id"),
                        title: title.expect("a post has a title"),
                        body,
                    });
                    (user((id, name, hair_color)), post)
                },
            )
            .await
            .unwrap()
    }

    /// The same statement as raw sqlx's `QueryBuilder::push_values` writes.
    pub async fn insert(conn: &MyAsync, rows: &[NewRow]) -> u64 {
        let mut sql = String::from("INSERT INTO bench_new_users (name, hair_color) VALUES ");
        let mut params = Vec::with_capacity(rows.len() * 2);
        for (i, (name, hair)) in rows.iter().enumerate() {
            sql.push_str(if i == 0 { "(?, ?)" } else { ", (?, ?)" });
            params.push(Value::from(name.as_str()));
            params.push(Value::from(hair.as_deref()));
        }
        let mut conn = conn.lock().await;
        conn.exec_drop(sql, params).await.unwrap();
        conn.affected_rows()
    }

    /// `SELECT .. WHERE column IN (ids)` with the ids bound, rows mapped by `f`.
    async fn in_ids<T, U>(conn: &MyAsync, head: &str, ids: &[i64], f: fn(T) -> U) -> Vec<U>
    where
        T: mysql_async::prelude::FromRow + Send + 'static,
        U: Send + 'static,
    {
        let sql = in_list(head, ids, false);
        let params: Vec<Value> = ids.iter().map(|id| Value::from(*id)).collect();
        conn.lock().await.exec_map(sql, params, f).await.unwrap()
    }

    pub async fn associations(conn: &MyAsync) -> Nested<SqUser, SqPost, SqComment> {
        let users = select_users(conn).await;
        let user_ids: Vec<i64> = users.iter().map(|u| u.id).collect();
        let posts = in_ids(
            conn,
            "SELECT id, user_id, title, body FROM bench_posts WHERE user_id",
            &user_ids,
            |(id, user_id, title, body): (i64, i64, String, Option<String>)| SqPost {
                id,
                user_id,
                title,
                body,
            },
        )
        .await;
        let post_ids: Vec<i64> = posts.iter().map(|p| p.id).collect();
        let comments = in_ids(
            conn,
            "SELECT id, post_id, text FROM bench_comments WHERE post_id",
            &post_ids,
            |(id, post_id, text): (i64, i64, String)| SqComment { id, post_id, text },
        )
        .await;
        nest(users, posts, comments)
    }

    pub async fn find(conn: &MyAsync, sql: &'static str, id: i64) -> Option<SqUser> {
        conn.lock()
            .await
            .exec_first::<UserCols, _, _>(sql, (id,))
            .await
            .unwrap()
            .map(user)
    }
}

// ---------------------------------------------------------------- SeaORM

pub mod sea_side {
    use super::*;
    use sea::{comment, new_user, post, user};
    use sea_orm::{
        ActiveValue::{NotSet, Set},
        ColumnTrait, DatabaseConnection, DbBackend, EntityTrait, LoaderTrait, QueryFilter,
        QueryTrait,
    };

    pub async fn select_users(ctx: &Ctx) -> Vec<user::Model> {
        user::Entity::find().all(&ctx.sea).await.unwrap()
    }

    pub async fn join(ctx: &Ctx) -> Vec<(user::Model, Option<post::Model>)> {
        user::Entity::find()
            .find_also_related(post::Entity)
            .filter(user::Column::HairColor.eq("black"))
            .all(&ctx.sea)
            .await
            .unwrap()
    }

    pub async fn insert(ctx: &Ctx, rows: &[NewRow]) -> u64 {
        let models = rows.iter().map(|(name, hair)| new_user::ActiveModel {
            id: NotSet,
            name: Set(name.clone()),
            hair_color: Set(hair.clone()),
        });
        new_user::Entity::insert_many(models)
            .exec_without_returning(&ctx.sea)
            .await
            .unwrap()
    }

    pub async fn associations(ctx: &Ctx) -> Nested<user::Model, post::Model, comment::Model> {
        let users = user::Entity::find().all(&ctx.sea).await.unwrap();
        let posts = users.load_many(post::Entity, &ctx.sea).await.unwrap();
        let flat: Vec<post::Model> = posts.iter().flatten().cloned().collect();
        let mut comments = flat
            .load_many(comment::Entity, &ctx.sea)
            .await
            .unwrap()
            .into_iter();
        users
            .into_iter()
            .zip(posts)
            .map(|(u, ps)| {
                let ps = ps
                    .into_iter()
                    .map(|p| (p, comments.next().unwrap_or_default()))
                    .collect();
                (u, ps)
            })
            .collect()
    }

    pub async fn find(db: &DatabaseConnection, id: i64) -> Option<user::Model> {
        user::Entity::find_by_id(id).one(db).await.unwrap()
    }

    pub fn build(dialect: Dialect) -> sea_orm::Statement {
        let backend = match dialect {
            Dialect::Postgres => DbBackend::Postgres,
            Dialect::MySql => DbBackend::MySql,
            Dialect::Sqlite => DbBackend::Sqlite,
        };
        user::Entity::find()
            .filter(user::Column::Id.gt(10))
            .filter(user::Column::Name.like("User 1%"))
            .filter(user::Column::HairColor.eq("black"))
            .build(backend)
    }
}

// ---------------------------------------------------------------- Diesel

/// A synchronous Diesel connection of the dialect under test.
pub enum DieselConn {
    Pg(diesel::PgConnection),
    My(diesel::MysqlConnection),
    Lite(diesel::SqliteConnection),
}

/// Runs `$body` with `$c` bound to the concrete connection.
macro_rules! with_conn {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            DieselConn::Pg($c) => $body,
            DieselConn::My($c) => $body,
            DieselConn::Lite($c) => $body,
        }
    };
}

pub mod diesel_side {
    use super::*;
    use diesel::prelude::*;
    use dsl::{Comment, NewUser, Post, User, bench_new_users, bench_posts, bench_users};

    pub fn select_users(conn: &mut DieselConn) -> Vec<User> {
        with_conn!(conn, c => bench_users::table.load::<User>(c).unwrap())
    }

    pub fn join(conn: &mut DieselConn) -> Vec<(User, Option<Post>)> {
        with_conn!(conn, c => bench_users::table
            .left_join(bench_posts::table)
            .filter(bench_users::hair_color.eq("black"))
            .load::<(User, Option<Post>)>(c)
            .unwrap())
    }

    pub fn insert(conn: &mut DieselConn, rows: &[NewRow]) -> usize {
        let rows: Vec<NewUser> = rows
            .iter()
            .map(|(name, hair)| NewUser {
                name: name.clone(),
                hair_color: hair.clone(),
            })
            .collect();
        with_conn!(conn, c => diesel::insert_into(bench_new_users::table)
            .values(&rows)
            .execute(c)
            .unwrap())
    }

    pub fn associations(conn: &mut DieselConn) -> Nested<User, Post, Comment> {
        with_conn!(conn, c => {
            let users = bench_users::table.load::<User>(c).unwrap();
            let posts = Post::belonging_to(&users).load::<Post>(c).unwrap();
            let comments = Comment::belonging_to(&posts).load::<Comment>(c).unwrap();
            let comments = comments.grouped_by(&posts);
            let posts_and_comments = posts.into_iter().zip(comments).grouped_by(&users);
            users.into_iter().zip(posts_and_comments).collect()
        })
    }

    pub fn find(conn: &mut DieselConn, id: i64) -> Option<User> {
        with_conn!(conn, c => bench_users::table
            .find(id)
            .first::<User>(c)
            .optional()
            .unwrap())
    }

    /// The mixed workload's write.
    pub fn rename(conn: &mut DieselConn, id: i64) -> usize {
        with_conn!(conn, c => diesel::update(bench_users::table.find(id))
            .set(bench_users::name.eq(format!("Renamed {id}")))
            .execute(c)
            .unwrap())
    }

    /// Diesel's public way to render a statement without a connection: `debug_query`.
    pub fn build(dialect: Dialect) -> String {
        let q = bench_users::table
            .filter(bench_users::id.gt(10))
            .filter(bench_users::name.like("User 1%"))
            .filter(bench_users::hair_color.eq("black"));
        match dialect {
            Dialect::Postgres => diesel::debug_query::<diesel::pg::Pg, _>(&q).to_string(),
            Dialect::MySql => diesel::debug_query::<diesel::mysql::Mysql, _>(&q).to_string(),
            Dialect::Sqlite => diesel::debug_query::<diesel::sqlite::Sqlite, _>(&q).to_string(),
        }
    }
}
