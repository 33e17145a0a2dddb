//! Shared by the migration tests: three versions of a small application's models, and a
//! private database per test on each backend (the approach of the root suite's harness).

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use polyorm::prelude::*;
use polyorm_migrate::Schema;

pub mod v1 {
    use polyorm::prelude::*;

    #[derive(Model, Debug)]
    #[orm(table = "authors")]
    pub struct Author {
        #[orm(primary_key, auto_increment)]
        id: i64,
        #[orm(max_length = 100)]
        name: String,
        age: i32,
    }

    #[derive(Model, Debug)]
    #[orm(table = "posts")]
    pub struct Post {
        #[orm(primary_key, auto_increment)]
        id: i64,
        #[orm(belongs_to = Author)]
        author_id: i64,
        #[orm(max_length = 50)]
        title: String,
        #[orm(index, default = 0)]
        score: i32,
        #[orm(unique, max_length = 40)]
        slug: String,
    }

    #[derive(Model, Debug)]
    #[orm(table = "tags")]
    pub struct Tag {
        #[orm(primary_key, max_length = 30)]
        code: String,
        label: Option<String>,
        #[orm(default = 1.5)]
        weight: f64,
    }
}

/// Add, rename, widen and alter columns; add and drop indexes and uniques.
pub mod v2 {
    use polyorm::prelude::*;

    #[derive(Model, Debug)]
    #[orm(table = "authors")]
    pub struct Author {
        #[orm(primary_key, auto_increment)]
        id: i64,
        #[orm(max_length = 100, renamed_from = "name")]
        full_name: String,
        age: i64,
        bio: Option<String>,
        #[orm(default = 1)]
        rank: i32,
    }

    #[derive(Model, Debug)]
    #[orm(table = "posts")]
    pub struct Post {
        #[orm(primary_key, auto_increment)]
        id: i64,
        #[orm(belongs_to = Author)]
        author_id: i64,
        #[orm(index, max_length = 200)]
        title: String,
        #[orm(default = 0)]
        score: i32,
        #[orm(unique, max_length = 40)]
        slug: String,
    }

    #[derive(Model, Debug)]
    #[orm(table = "tags", unique(label))]
    pub struct Tag {
        #[orm(primary_key, max_length = 30)]
        code: String,
        #[orm(max_length = 60)]
        label: Option<String>,
        #[orm(default = 2.5)]
        weight: f64,
    }
}

/// Rename a table, drop a foreign key, a unique, a column and a table; create a table with a
/// foreign key; add a foreign key to an existing table.
pub mod v3 {
    use polyorm::prelude::*;

    #[derive(Model, Debug)]
    #[orm(table = "writers", renamed_from = "authors")]
    pub struct Writer {
        #[orm(primary_key, auto_increment)]
        id: i64,
        #[orm(max_length = 100)]
        full_name: String,
        age: i64,
        bio: Option<String>,
        #[orm(default = 1)]
        rank: i32,
    }

    #[derive(Model, Debug)]
    #[orm(table = "posts")]
    pub struct Post {
        #[orm(primary_key, auto_increment)]
        id: i64,
        author_id: i64,
        #[orm(index, max_length = 200)]
        title: String,
        #[orm(max_length = 40)]
        slug: String,
        #[orm(belongs_to = Writer, on_delete = "set_null")]
        editor_id: Option<i64>,
    }

    #[derive(Model, Debug)]
    #[orm(table = "comments")]
    pub struct Comment {
        #[orm(primary_key, auto_increment)]
        id: i64,
        #[orm(belongs_to = Post, on_delete = "cascade")]
        post_id: i64,
        body: String,
    }
}

/// The models of each version, oldest first.
pub fn versions() -> Vec<(&'static str, Schema)> {
    vec![
        (
            "init",
            Schema::from_models([v1::Author::SCHEMA, v1::Post::SCHEMA, v1::Tag::SCHEMA]),
        ),
        (
            "reshape",
            Schema::from_models([v2::Author::SCHEMA, v2::Post::SCHEMA, v2::Tag::SCHEMA]),
        ),
        (
            "rename_and_drop",
            Schema::from_models([v3::Writer::SCHEMA, v3::Post::SCHEMA, v3::Comment::SCHEMA]),
        ),
    ]
}

/// A fresh directory under the system temp dir.
pub fn temp_dir(test: &str) -> PathBuf {
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "orm_migrate_{test}_{}_{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A backend of the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::MySql => "mysql",
        }
    }
}

fn env_or(key: &str, default: &str) -> String {
    std::env::var(key).unwrap_or_else(|_| default.to_owned())
}

fn enabled(backend: Backend) -> bool {
    let list = env_or("ORM_TEST_BACKENDS", "sqlite,postgres,mysql");
    let on = list.split(',').any(|b| b.trim() == backend.name());
    if !on && std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!(
            "CI must run every backend, but ORM_TEST_BACKENDS=`{list}` leaves out {}",
            backend.name()
        );
    }
    on
}

/// One column of every rich type, to prove that introspection reads back what the DDL wrote.
pub mod rich {
    use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime, Utc};
    use polyorm::prelude::*;
    use rust_decimal::Decimal;

    #[derive(SqlEnum, Debug, Clone, Copy, PartialEq)]
    pub enum Status {
        Draft,
        Published,
    }

    #[derive(Model, Debug)]
    #[orm(table = "rich")]
    pub struct Rich {
        #[orm(primary_key)]
        id: uuid::Uuid,
        at: DateTime<Utc>,
        naive: NaiveDateTime,
        day: NaiveDate,
        clock: NaiveTime,
        #[orm(precision = 10, scale = 2)]
        price: Decimal,
        maybe_price: Option<Decimal>,
        doc: serde_json::Value,
        status: Status,
        maybe_status: Option<Status>,
        tiny: u8,
        medium: u16,
        big: u32,
        huge: u64,
        small: i16,
        ratio: f32,
        blob: Vec<u8>,
        #[orm(max_length = 12, default = "x")]
        code: String,
        flag: Option<bool>,
        oid: polyorm::bson::oid::ObjectId,
        maybe_oid: Option<polyorm::bson::oid::ObjectId>,
    }
}

/// An enum column that gains a value, and a range-checked unsigned column.
pub mod tickets {
    pub mod v1 {
        use polyorm::prelude::*;

        #[derive(SqlEnum, Debug, Clone, Copy, PartialEq)]
        pub enum Status {
            Open,
            Closed,
        }

        #[derive(Model, Debug)]
        #[orm(table = "tickets")]
        pub struct Ticket {
            #[orm(primary_key)]
            id: i64,
            status: Status,
        }
    }

    pub mod v2 {
        use polyorm::prelude::*;

        #[derive(SqlEnum, Debug, Clone, Copy, PartialEq)]
        pub enum Status {
            Open,
            Closed,
            Archived,
        }

        #[derive(Model, Debug)]
        #[orm(table = "tickets")]
        pub struct Ticket {
            #[orm(primary_key)]
            id: i64,
            status: Status,
            priority: Option<u16>,
        }
    }
}

/// A database private to one test: its URL (for more pools), a pool, and a migrations dir.
pub struct Ctx {
    pub url: String,
    pub db: Db,
    pub dir: PathBuf,
    cleanup: Option<(Db, String)>,
}

impl Ctx {
    /// The SQL dialect of the test database.
    pub fn dialect(&self) -> polyorm::Dialect {
        self.db
            .backend()
            .dialect()
            .expect("migration tests run on SQL databases")
    }

    pub async fn setup(backend: Backend, test: &str) -> Option<Ctx> {
        if !enabled(backend) {
            eprintln!(
                "SKIPPED {test} on {}: not in ORM_TEST_BACKENDS",
                backend.name()
            );
            return None;
        }
        static N: AtomicU32 = AtomicU32::new(0);
        let unique = format!(
            "orm_m{}_{}_{}",
            test.len(),
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        let dir = temp_dir(test);
        let (url, cleanup) = match backend {
            Backend::Sqlite => (format!("sqlite://{}/db.sqlite", dir.display()), None),
            Backend::Postgres => {
                let base = env_or(
                    "ORM_TEST_POSTGRES_URL",
                    "postgres://postgres@127.0.0.1:5432/test",
                );
                let admin = PoolOptions::new()
                    .max_connections(1)
                    .connect(&base)
                    .await
                    .unwrap();
                admin
                    .execute_raw(&format!("CREATE SCHEMA \"{unique}\""))
                    .await
                    .unwrap();
                let sep = if base.contains('?') { '&' } else { '?' };
                (
                    format!("{base}{sep}options=-c%20search_path%3D{unique}"),
                    Some((admin, format!("DROP SCHEMA \"{unique}\" CASCADE"))),
                )
            }
            Backend::MySql => {
                let base = env_or("ORM_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test");
                let admin = PoolOptions::new()
                    .max_connections(1)
                    .connect(&base)
                    .await
                    .unwrap();
                admin
                    .execute_raw(&format!("CREATE DATABASE `{unique}`"))
                    .await
                    .unwrap();
                let (server, _) = base.rsplit_once('/').unwrap();
                (
                    format!("{server}/{unique}"),
                    Some((admin, format!("DROP DATABASE `{unique}`"))),
                )
            }
        };
        let db = PoolOptions::new()
            .max_connections(2)
            .connect(&url)
            .await
            .unwrap();
        Some(Ctx {
            url,
            db,
            dir,
            cleanup,
        })
    }

    pub async fn teardown(self) {
        self.db.close().await;
        if let Some((admin, sql)) = self.cleanup {
            admin.execute_raw(&sql).await.unwrap();
            admin.close().await;
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Declares async tests once; each runs on SQLite, PostgreSQL and MySQL/MariaDB.
#[macro_export]
macro_rules! per_backend {
    ($($(#[$meta:meta])* async fn $name:ident($ctx:ident) $body:block)*) => {
        $(
            $(#[$meta])*
            async fn $name($ctx: &common::Ctx) $body
        )*
        per_backend!(@backend sqlite, Sqlite, $($name)*);
        per_backend!(@backend postgres, Postgres, $($name)*);
        per_backend!(@backend mysql, MySql, $($name)*);
    };
    (@backend $module:ident, $variant:ident, $($name:ident)*) => {
        mod $module {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let test = stringify!($name);
                    let Some(ctx) = $crate::common::Ctx::setup($crate::common::Backend::$variant, test).await
                    else { return };
                    super::$name(&ctx).await;
                    ctx.teardown().await;
                }
            )*
        }
    };
}
