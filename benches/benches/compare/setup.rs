//! Connections, tables and data. The ORM creates the tables and seeds them; every library then
//! reads the same rows through its own connection (SQLite: the same file, one connection each).

use std::sync::{Arc, Mutex};

use diesel::Connection;
use polyorm::prelude::*;
use polyorm::{Dialect, PoolOptions};

use crate::libs::{Ctx, DieselConn, HandSql, Sqlx, SqlxPool, TASKS};
use crate::models::ours::{Comment, NewUser, Post, User};

/// The database URL of `dialect`: `ORM_BENCH_POSTGRES_URL`, `ORM_BENCH_MYSQL_URL`,
/// `ORM_BENCH_SQLITE_PATH`, with local defaults (database `orm_bench`, created if missing).
pub fn url(dialect: Dialect) -> String {
    let var = |name: &str, default: String| std::env::var(name).unwrap_or(default);
    match dialect {
        Dialect::Postgres => var(
            "ORM_BENCH_POSTGRES_URL",
            "postgres://postgres@127.0.0.1:5432/orm_bench".into(),
        ),
        Dialect::MySql => var(
            "ORM_BENCH_MYSQL_URL",
            "mysql://root@127.0.0.1:3306/orm_bench".into(),
        ),
        Dialect::Sqlite => {
            let path = var(
                "ORM_BENCH_SQLITE_PATH",
                std::env::temp_dir()
                    .join(format!("orm_bench_{}.sqlite", std::process::id()))
                    .display()
                    .to_string(),
            );
            format!("sqlite://{path}")
        }
    }
}

/// Removes the SQLite database file (and its WAL files) that [`url`] names.
pub fn remove_sqlite_file() {
    let url = url(Dialect::Sqlite);
    let path = url.trim_start_matches("sqlite://");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{path}{suffix}"));
    }
}

/// Creates the server-side database named by `url` when it does not exist yet.
async fn create_database(dialect: Dialect, url: &str) {
    use sqlx::Connection as _;
    let (server, name) = url
        .rsplit_once('/')
        .expect("a database URL ends in /<database>");
    let name = name.split('?').next().unwrap_or(name);
    assert!(
        name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
        "the benchmark database name `{name}` must be a plain identifier"
    );
    match dialect {
        Dialect::Postgres => {
            let mut conn = sqlx::PgConnection::connect(&format!("{server}/postgres"))
                .await
                .unwrap_or_else(|e| panic!("PostgreSQL is not reachable at {server}: {e}"));
            let exists: Option<i32> =
                sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
                    .bind(name)
                    .fetch_optional(&mut conn)
                    .await
                    .unwrap();
            if exists.is_none() {
                sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .unwrap();
            }
        }
        Dialect::MySql => {
            let mut conn = sqlx::MySqlConnection::connect(&format!("{server}/"))
                .await
                .unwrap_or_else(|e| panic!("MariaDB/MySQL is not reachable at {server}: {e}"));
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "CREATE DATABASE IF NOT EXISTS {name}"
            )))
            .execute(&mut conn)
            .await
            .unwrap();
        }
        Dialect::Sqlite => {}
    }
}

/// Connects every library to `dialect`'s benchmark database and (re)creates the tables.
pub async fn connect(dialect: Dialect) -> Ctx {
    connect_to(dialect, true).await
}

/// Connects every library to the tables an earlier process made and seeded (the SQLite file
/// included), leaving their rows as they are.
pub async fn reconnect(dialect: Dialect) -> Ctx {
    connect_to(dialect, false).await
}

async fn connect_to(dialect: Dialect, fresh: bool) -> Ctx {
    let url = url(dialect);
    if dialect == Dialect::Sqlite {
        if fresh {
            remove_sqlite_file();
        }
    } else {
        create_database(dialect, &url).await;
    }
    let pool = TASKS as u32;
    let orm = PoolOptions::new()
        .max_connections(pool)
        .mysql_driver(mysql_driver())
        .connect(&url)
        .await
        .unwrap();
    if fresh {
        // Tables first, so no other library prepares a statement against an older table.
        orm.drop_table::<Comment>().await.unwrap();
        orm.drop_table::<Post>().await.unwrap();
        orm.drop_table::<User>().await.unwrap();
        orm.drop_table::<NewUser>().await.unwrap();
        orm.create_table::<User>().await.unwrap();
        orm.create_table::<Post>().await.unwrap();
        orm.create_table::<Comment>().await.unwrap();
        orm.create_table::<NewUser>().await.unwrap();
    }

    let sqlx_pool = match dialect {
        Dialect::Postgres => SqlxPool::Pg(
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(pool)
                .connect(&url)
                .await
                .unwrap(),
        ),
        Dialect::MySql => SqlxPool::My(
            sqlx::mysql::MySqlPoolOptions::new()
                .max_connections(pool)
                .connect(&url)
                .await
                .unwrap(),
        ),
        Dialect::Sqlite => SqlxPool::Lite(
            sqlx::sqlite::SqlitePoolOptions::new()
                .max_connections(pool)
                .connect(&url)
                .await
                .unwrap(),
        ),
    };
    let sqlx = bare_sqlx(dialect, &url, &sqlx_pool).await;
    let mysql_async = match dialect {
        Dialect::MySql => {
            let opts = mysql_async::Opts::from_url(&url)
                .unwrap_or_else(|e| panic!("mysql_async does not read `{url}`: {e}"));
            // TCP as sqlx's connection (mysql_async would move to the server's Unix socket).
            let opts = mysql_async::OptsBuilder::from_opts(opts).prefer_socket(false);
            let conn = mysql_async::Conn::new(opts).await.unwrap();
            Some(Arc::new(tokio::sync::Mutex::new(conn)))
        }
        Dialect::Postgres | Dialect::Sqlite => None,
    };
    // The ORM on sqlx's driver, beside `orm` on the native one.
    let orm_sqlx = match dialect {
        Dialect::MySql if mysql_driver() == polyorm::MySqlDriver::Native => Some(
            PoolOptions::new()
                .max_connections(pool)
                .mysql_driver(polyorm::MySqlDriver::Sqlx)
                .connect(&url)
                .await
                .unwrap(),
        ),
        Dialect::Postgres => Some(
            PoolOptions::new()
                .max_connections(pool)
                .postgres_driver(polyorm::PostgresDriver::Sqlx)
                .connect(&url)
                .await
                .unwrap(),
        ),
        Dialect::MySql | Dialect::Sqlite => None,
    };
    let mut options = sea_orm::ConnectOptions::new(url.clone());
    options.max_connections(pool).sqlx_logging(false);
    let sea = sea_orm::Database::connect(options).await.unwrap();
    let diesel = (0..TASKS)
        .map(|_| {
            let conn = match dialect {
                Dialect::Postgres => DieselConn::Pg(diesel::PgConnection::establish(&url).unwrap()),
                Dialect::MySql => DieselConn::My(diesel::MysqlConnection::establish(&url).unwrap()),
                Dialect::Sqlite => {
                    use diesel::RunQueryDsl;
                    let mut conn =
                        diesel::SqliteConnection::establish(url.trim_start_matches("sqlite://"))
                            .unwrap();
                    // Diesel waits for no lock by default: concurrent writers need this
                    // (what an r2d2 `CustomizeConnection` sets), sqlx's and the ORM's default.
                    diesel::sql_query("PRAGMA busy_timeout = 5000")
                        .execute(&mut conn)
                        .unwrap();
                    DieselConn::Lite(conn)
                }
            };
            Arc::new(Mutex::new(conn))
        })
        .collect();
    Ctx {
        dialect,
        orm,
        orm_sqlx,
        sqlx,
        mysql_async,
        sqlx_pool,
        sql: HandSql::new(dialect),
        sea,
        diesel,
    }
}

/// sqlx's single-task side, as diesel_bench sets it up: one bare connection on the servers
/// (`PgConnection::connect`, `MySqlConnection::connect`); SQLite keeps `pool`.
async fn bare_sqlx(dialect: Dialect, url: &str, pool: &SqlxPool) -> Sqlx {
    use sqlx::Connection as _;
    use tokio::sync::Mutex;
    match dialect {
        Dialect::Postgres => Sqlx::Pg(Arc::new(Mutex::new(
            sqlx::PgConnection::connect(url).await.unwrap(),
        ))),
        Dialect::MySql => Sqlx::My(Arc::new(Mutex::new(
            sqlx::MySqlConnection::connect(url).await.unwrap(),
        ))),
        Dialect::Sqlite => Sqlx::Pool(pool.clone()),
    }
}

/// The server's own version string (`SELECT version()`, `sqlite_version()`).
pub async fn server_version(ctx: &Ctx) -> String {
    match &ctx.sqlx_pool {
        SqlxPool::Pg(p) => sqlx::query_scalar("SELECT version()").fetch_one(p).await,
        SqlxPool::My(p) => sqlx::query_scalar("SELECT version()").fetch_one(p).await,
        SqlxPool::Lite(p) => {
            sqlx::query_scalar("SELECT 'SQLite ' || sqlite_version()")
                .fetch_one(p)
                .await
        }
    }
    .unwrap()
}

async fn clear(db: &Db) {
    for table in ["bench_comments", "bench_posts", "bench_users"] {
        db.execute_raw(&format!("DELETE FROM {table}"))
            .await
            .unwrap();
    }
}

/// Hair colours cycle black, brown, black, none: half the users match the join's filter.
fn hair(i: usize) -> Option<String> {
    match i % 4 {
        0 | 2 => Some("black".into()),
        1 => Some("brown".into()),
        _ => None,
    }
}

async fn insert_users(db: &Db, n: usize) -> Vec<i64> {
    let users: Vec<User> = (0..n)
        .map(|i| User {
            id: 0,
            name: format!("User {i}"),
            hair_color: hair(i),
        })
        .collect();
    User::insert_many(db, &users).await.unwrap();
    let mut ids: Vec<i64> = User::query()
        .all(db)
        .await
        .unwrap()
        .iter()
        .map(|u| u.id)
        .collect();
    ids.sort_unstable();
    ids
}

/// `n` users; two of every three have one post (so the left join yields both matched and
/// unmatched users).
pub async fn seed_users_and_posts(db: &Db, n: usize) {
    clear(db).await;
    let ids = insert_users(db, n).await;
    let posts: Vec<Post> = ids
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 3 != 2)
        .map(|(i, id)| Post {
            id: 0,
            user_id: *id,
            title: format!("Post {i}"),
            body: (i % 2 == 0).then(|| format!("Body of post {i}")),
        })
        .collect();
    Post::insert_many(db, &posts).await.unwrap();
    settle(db, &["bench_users", "bench_posts"]).await;
}

/// `users` users × `posts` posts × `comments` comments; returns the user ids.
pub async fn seed_tree(db: &Db, users: usize, posts: usize, comments: usize) -> Vec<i64> {
    clear(db).await;
    let ids = insert_users(db, users).await;
    let rows: Vec<Post> = ids
        .iter()
        .flat_map(|id| {
            (0..posts).map(move |p| Post {
                id: 0,
                user_id: *id,
                title: format!("Post {p} of {id}"),
                body: (p % 2 == 0).then(|| "body".to_owned()),
            })
        })
        .collect();
    Post::insert_many(db, &rows).await.unwrap();
    let post_ids: Vec<i64> = Post::query()
        .all(db)
        .await
        .unwrap()
        .iter()
        .map(|p| p.id)
        .collect();
    let rows: Vec<Comment> = post_ids
        .iter()
        .flat_map(|id| {
            (0..comments).map(move |c| Comment {
                id: 0,
                post_id: *id,
                text: format!("Comment {c} on {id}"),
            })
        })
        .collect();
    Comment::insert_many(db, &rows).await.unwrap();
    settle(db, &["bench_users", "bench_posts", "bench_comments"]).await;
    ids
}

/// The insert workload's input: `n` users, hair colours as in the seeded table.
pub fn new_rows(n: usize) -> Vec<(String, Option<String>)> {
    (0..n).map(|i| (format!("New user {i}"), hair(i))).collect()
}

/// Empties the insert workload's table.
pub async fn clear_new_users(db: &Db) {
    db.execute_raw("DELETE FROM bench_new_users").await.unwrap();
    settle(db, &["bench_new_users"]).await;
}

/// Lets the database finish the work seeding left behind before the next group is measured,
/// so that it does not run beside (and slow) whichever library is measured first: PostgreSQL
/// vacuums the deleted rows and analyzes `tables` now (autovacuum would otherwise start at a
/// random point of a later group); MariaDB/MySQL analyzes them and waits until InnoDB has
/// purged the deleted rows (its purge threads run in the background, on the same two cores).
/// SQLite copies the write-ahead log back into the database file and empties it (a read
/// otherwise looks every page up in the log's index first, until a later write checkpoints
/// it); it is not analyzed: statistics changed its plans for the libraries' identical
/// statements differently (sqlx's left join of 10,000 rows went from 27 ms to 1.5 s in a trial
/// run), which is not what these rows compare.
pub async fn settle(db: &Db, tables: &[&str]) {
    let list = tables.join(", ");
    match db
        .backend()
        .dialect()
        .expect("the bench's databases are SQL")
    {
        Dialect::Postgres => {
            db.execute_raw(&format!("VACUUM ANALYZE {list}"))
                .await
                .unwrap();
        }
        Dialect::MySql => {
            db.execute_raw(&format!("ANALYZE TABLE {list}"))
                .await
                .unwrap();
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            loop {
                let (_, history): (String, String) =
                    polyorm::raw("SHOW GLOBAL STATUS LIKE 'Innodb_history_list_length'")
                        .fetch_one(db)
                        .await
                        .unwrap();
                let history: u64 = history.parse().unwrap_or(0);
                if history == 0 || std::time::Instant::now() > deadline {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
        }
        Dialect::Sqlite => {
            // Its row (busy, log pages, pages copied) is not checked: a reader of another
            // library still in a read would only leave the log's tail for a later checkpoint.
            let _: (i64, i64, i64) = polyorm::raw("PRAGMA wal_checkpoint(TRUNCATE)")
                .fetch_one(db)
                .await
                .unwrap();
        }
    }
}

/// The driver of the ORM's MariaDB/MySQL pool (`orm`): `ORM_BENCH_MYSQL_DRIVER` (`native` or
/// `sqlx`), else the pool's default. On the native driver, `orm_sqlx` runs the ORM on sqlx's.
pub fn mysql_driver() -> polyorm::MySqlDriver {
    match std::env::var("ORM_BENCH_MYSQL_DRIVER").as_deref() {
        Err(_) => polyorm::MySqlDriver::default(),
        Ok("native") => polyorm::MySqlDriver::Native,
        Ok("sqlx") => polyorm::MySqlDriver::Sqlx,
        Ok(other) => panic!("ORM_BENCH_MYSQL_DRIVER=`{other}`: use `native` or `sqlx`"),
    }
}
