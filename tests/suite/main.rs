//! The shared integration suite: every test runs on SQLite, PostgreSQL, MariaDB/MySQL and
//! MongoDB, each in its own database or schema (see `harness.rs`); tests tagged
//! `#[requires(sql)]` skip MongoDB, tests tagged `#[needs_real_mongodb(..)]` are ignored on
//! the nx-27017 test server.

// The audit tests' futures nest the TLS-capable connection types (rustls streams) of every
// backend: deeper than the default limit of 128 when computing their layout.
#![recursion_limit = "256"]

mod checks;
mod defaults;
mod many_to_many;
mod soft_delete;
mod timestamps;
mod versions;
#[macro_use]
mod harness;
#[cfg(feature = "access")]
mod access;
#[cfg(feature = "audit")]
mod audit;
mod layers;
#[cfg(all(feature = "tracing", feature = "metrics"))]
mod observe;
mod reporting;
mod schema_change;
mod stream;
mod types;
mod values;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use polyorm::prelude::*;
use polyorm::{Backend, Dialect, Error, OnConflict};

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "users", has_many(posts = Post::AUTHOR_ID, edited = Post::EDITOR_ID))]
struct User {
    #[orm(primary_key, auto_increment)]
    id: i64,
    #[orm(unique, max_length = 120)]
    email: String,
    name: String,
    age: i32,
    nickname: Option<String>,
    #[orm(default = true)]
    active: bool,
    score: f64,
}

impl User {
    fn new(email: &str, name: &str, age: i32) -> User {
        User {
            id: 0,
            email: email.into(),
            name: name.into(),
            age,
            nickname: None,
            active: true,
            score: 0.0,
        }
    }
}

/// Composite primary key and a composite unique constraint.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(
    table = "memberships",
    primary_key(user_id, group_code),
    unique(group_code, level)
)]
struct Membership {
    user_id: i64,
    #[orm(max_length = 20)]
    group_code: String,
    level: i16,
    #[orm(index, max_length = 30)]
    role: String,
}

/// A key the application chooses (no auto-increment), and every scalar type.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "samples")]
struct Sample {
    #[orm(primary_key, max_length = 40)]
    code: String,
    flag: bool,
    small: i16,
    int: i32,
    big: i64,
    single: f32,
    double: f64,
    text: String,
    bytes: Vec<u8>,
    maybe_flag: Option<bool>,
    maybe_small: Option<i16>,
    maybe_int: Option<i32>,
    maybe_big: Option<i64>,
    maybe_single: Option<f32>,
    maybe_double: Option<f64>,
    maybe_text: Option<String>,
    maybe_bytes: Option<Vec<u8>>,
    #[orm(skip)]
    scratch: Vec<String>,
}

/// A child table with foreign keys: deleting a user deletes their posts; an editor is
/// unset instead.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "posts", has_many(comments = Comment::POST_ID))]
struct Post {
    #[orm(primary_key, auto_increment)]
    id: i64,
    #[orm(belongs_to = User, on_delete = "cascade")]
    author_id: i64,
    #[orm(belongs_to = User, on_delete = "set_null")]
    editor_id: Option<i64>,
    title: String,
}

/// A shelf; deleting it moves its books to shelf 1 (`ON DELETE SET DEFAULT`).
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "shelves")]
struct Shelf {
    #[orm(primary_key)]
    id: i64,
}

/// A book on a shelf, shelf 1 by default.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "books")]
struct Book {
    #[orm(primary_key)]
    id: i64,
    #[orm(belongs_to = Shelf, on_delete = "set_default", default = 1)]
    shelf_id: i64,
}

/// A grandchild: users → posts → comments.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "comments")]
struct Comment {
    #[orm(primary_key, auto_increment)]
    id: i64,
    #[orm(belongs_to = Post, on_delete = "cascade")]
    post_id: i64,
    text: String,
}

/// A model related to itself: an employee reports to another employee (none for the head).
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "employees")]
struct Employee {
    #[orm(primary_key)]
    id: i64,
    name: String,
    #[orm(belongs_to = Employee)]
    reports_to: Option<i64>,
}

/// Sales by customer and day, for grouping by computed expressions.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "sales")]
struct Sale {
    #[orm(primary_key)]
    id: i64,
    customer: String,
    issued: time::Date,
    amount: i64,
}

/// Counts the statements an executor runs, to prove eager loading runs one per level.
struct Counting<'a> {
    db: &'a Db,
    statements: AtomicU32,
}

impl<'a> Counting<'a> {
    fn new(db: &'a Db) -> Self {
        Counting {
            db,
            statements: AtomicU32::new(0),
        }
    }

    fn take(&self) -> u32 {
        self.statements.swap(0, Ordering::SeqCst)
    }

    fn tick(&self) {
        self.statements.fetch_add(1, Ordering::SeqCst);
    }
}

impl Executor for Counting<'_> {
    fn backend(&self) -> polyorm::Backend {
        self.db.backend()
    }

    async fn fetch_all<T: Send + 'static>(
        &self,
        query: polyorm::query::ir::SelectQuery,
        decode: polyorm::exec::Decoder<T>,
    ) -> polyorm::Result<Vec<T>> {
        self.tick();
        self.db.fetch_all(query, decode).await
    }

    async fn fetch_optional<T: Send + 'static>(
        &self,
        query: polyorm::query::ir::SelectQuery,
        decode: polyorm::exec::Decoder<T>,
    ) -> polyorm::Result<Option<T>> {
        self.tick();
        self.db.fetch_optional(query, decode).await
    }

    fn fetch_stream<T: Send + 'static>(
        &self,
        query: polyorm::query::ir::SelectQuery,
        decode: polyorm::exec::Decoder<T>,
    ) -> polyorm::RowStream<'_, T> {
        self.tick();
        self.db.fetch_stream(query, decode)
    }

    async fn count(&self, query: polyorm::query::ir::SelectQuery) -> polyorm::Result<u64> {
        self.tick();
        self.db.count(query).await
    }

    async fn insert_returning<T: Send + 'static>(
        &self,
        query: polyorm::query::ir::InsertQuery,
        decode: polyorm::exec::Decoder<T>,
    ) -> polyorm::Result<T> {
        self.tick();
        self.db.insert_returning(query, decode).await
    }

    async fn execute(
        &self,
        statement: polyorm::query::ir::Statement,
    ) -> polyorm::Result<polyorm::ExecResult> {
        self.tick();
        self.db.execute(statement).await
    }

    async fn execute_raw(&self, sql: &str) -> polyorm::Result<polyorm::ExecResult> {
        self.tick();
        self.db.execute_raw(sql).await
    }

    async fn fetch_compiled<T: Send + 'static>(
        &self,
        statement: polyorm::Compiled,
        decode: polyorm::exec::Decoder<T>,
    ) -> polyorm::Result<Vec<T>> {
        self.tick();
        self.db.fetch_compiled(statement, decode).await
    }

    async fn execute_compiled(
        &self,
        statement: polyorm::Compiled,
    ) -> polyorm::Result<polyorm::ExecResult> {
        self.tick();
        self.db.execute_compiled(statement).await
    }
}

/// `users` users, each with `posts` posts (edited by the next user), each with 2 comments.
async fn seed_graph(db: &Db, users: usize, posts: usize) -> polyorm::Result<()> {
    create_tables(db).await?;
    let people: Vec<User> = (0..users)
        .map(|i| User::new(&format!("g{i}@x.io"), &format!("G{i:04}"), 20))
        .collect();
    User::insert_many(db, &people).await?;
    let ids: Vec<i64> = User::query()
        .order_by(User::ID.asc())
        .all(db)
        .await?
        .iter()
        .map(|u| u.id)
        .collect();
    let mut rows = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        for p in 0..posts {
            let editor = if p == 0 {
                None
            } else {
                Some(ids[(i + 1) % ids.len()])
            };
            rows.push(Post {
                id: 0,
                author_id: *id,
                editor_id: editor,
                title: format!("{i}/{p}"),
            });
        }
    }
    Post::insert_many(db, &rows).await?;
    let post_ids: Vec<i64> = Post::query().all(db).await?.iter().map(|p| p.id).collect();
    let comments: Vec<Comment> = post_ids
        .iter()
        .flat_map(|id| {
            (0..2).map(move |c| Comment {
                id: 0,
                post_id: *id,
                text: format!("c{c}"),
            })
        })
        .collect();
    Comment::insert_many(db, &comments).await?;
    Ok(())
}

/// Reads the `users` table with a wrong field type, to provoke a decode error.
#[derive(Model, Debug)]
#[orm(table = "users")]
struct UserWithWrongType {
    #[orm(primary_key)]
    id: i64,
    email: i32,
}

/// A ticket's state as the deployed schema knows it.
#[derive(SqlEnum, Debug, Clone, Copy, PartialEq)]
enum TicketState {
    Open,
    Closed,
}

/// The same state in a newer build that added a value before the schema was updated.
#[derive(SqlEnum, Debug, Clone, Copy, PartialEq)]
enum NewTicketState {
    Open,
    Closed,
    /// Fits the column (its length is the longest old value's), so only the CHECK refuses it.
    Done,
}

#[derive(Model, Debug)]
#[orm(table = "tickets")]
struct Ticket {
    #[orm(primary_key)]
    id: i64,
    state: TicketState,
}

/// `tickets` as the newer build declares it, writing into the table the older one created.
#[derive(Model, Debug)]
#[orm(table = "tickets")]
struct NewTicket {
    #[orm(primary_key)]
    id: i64,
    state: NewTicketState,
}

async fn create_tables(db: &Db) -> polyorm::Result<()> {
    db.create_table::<User>().await?;
    db.create_table::<Membership>().await?;
    db.create_table::<Post>().await?;
    db.create_table::<Comment>().await?;
    db.create_table::<Sample>().await
}

async fn seed_users(db: &Db) -> polyorm::Result<Vec<User>> {
    create_tables(db).await?;
    let mut out = Vec::new();
    for (i, (email, name, age, nick)) in [
        ("ada@example.com", "Ada", 36, Some("countess")),
        ("alan@example.com", "Alan", 41, None),
        ("grace@example.com", "Grace", 85, Some("amazing")),
        ("linus@example.com", "Linus", 28, None),
        ("barbara@example.com", "barbara", 62, Some("BL")),
    ]
    .into_iter()
    .enumerate()
    {
        let mut u = User::new(email, name, age);
        u.nickname = nick.map(str::to_owned);
        u.score = i as f64 * 1.5;
        out.push(u.insert(db).await?);
    }
    Ok(out)
}

fn names(users: &[User]) -> Vec<&str> {
    users.iter().map(|u| u.name.as_str()).collect()
}

fn sample(code: &str) -> Sample {
    Sample {
        code: code.into(),
        flag: true,
        small: i16::MIN,
        int: i32::MAX,
        big: i64::MIN,
        single: 1.5,
        double: -2.25e300,
        text: "héllo wörld — 你好 🎉".into(),
        bytes: vec![0, 1, 2, 255, 0],
        maybe_flag: Some(false),
        maybe_small: Some(i16::MAX),
        maybe_int: Some(i32::MIN),
        maybe_big: Some(i64::MAX),
        maybe_single: Some(-0.5),
        maybe_double: Some(f64::MIN_POSITIVE),
        maybe_text: Some(String::new()),
        maybe_bytes: Some(Vec::new()),
        scratch: vec!["not stored".into()],
    }
}

suite! {
    async fn insert_returns_row_with_generated_key(db) {
        create_tables(db).await?;
        let a = User::new("a@x.io", "A", 30).insert(db).await?;
        let b = User::new("b@x.io", "B", 31).insert(db).await?;
        assert!(a.id > 0, "generated id {}", a.id);
        assert!(b.id > a.id, "ids grow: {} then {}", a.id, b.id);
        assert_eq!(a, User { id: a.id, ..User::new("a@x.io", "A", 30) });
        assert_eq!(User::find(db, b.id).await?, Some(b));
        Ok(())
    }

    async fn insert_with_application_key_reads_row_back(db) {
        create_tables(db).await?;
        let stored = sample("s-1").insert(db).await?;
        let mut expected = sample("s-1");
        expected.scratch = Vec::new(); // skipped fields come back as Default
        assert_eq!(stored, expected);
        Ok(())
    }

    async fn every_scalar_type_round_trips_including_extremes_and_nulls(db) {
        create_tables(db).await?;
        let full = sample("full");
        full.insert(db).await?;
        let empty = Sample {
            code: "nulls".into(),
            flag: false,
            small: i16::MAX,
            int: i32::MIN,
            big: i64::MAX,
            single: f32::MAX,
            double: 0.0,
            text: String::new(),
            bytes: Vec::new(),
            maybe_flag: None,
            maybe_small: None,
            maybe_int: None,
            maybe_big: None,
            maybe_single: None,
            maybe_double: None,
            maybe_text: None,
            maybe_bytes: None,
            scratch: Vec::new(),
        };
        empty.insert(db).await?;
        let got = Sample::find(db, "full".to_owned()).await?.expect("row");
        assert_eq!(got, Sample { scratch: Vec::new(), ..full });
        assert_eq!(Sample::find(db, "nulls".to_owned()).await?, Some(empty));
        Ok(())
    }

    async fn hostile_strings_are_bound_never_interpolated(db) {
        seed_users(db).await?;
        let hostile = ["'; DROP TABLE users; --", "\" OR 1=1 --", "\\'", "` OR ``=`", "%_\\", "$1 ? :name"];
        for (i, text) in hostile.iter().enumerate() {
            let mut u = User::new(&format!("h{i}@x.io"), text, 1);
            u.nickname = Some((*text).to_owned());
            u.insert(db).await?;
        }
        for text in hostile {
            let found = User::query().filter(User::NAME.eq(text)).all(db).await?;
            assert_eq!(names(&found), vec![text], "exact match for {text:?}");
        }
        assert_eq!(User::query().count(db).await?, 5 + hostile.len() as u64);
        Ok(())
    }

    async fn find_returns_none_for_missing_key(db) {
        create_tables(db).await?;
        assert_eq!(User::find(db, 4242).await?, None);
        Ok(())
    }

    async fn comparison_operators_filter_rows(db) {
        seed_users(db).await?;
        let by = |f: Filter<User>| User::query().filter(f).order_by(User::AGE.asc());
        assert_eq!(names(&by(User::AGE.eq(41)).all(db).await?), ["Alan"]);
        assert_eq!(names(&by(User::AGE.ne(41)).all(db).await?), ["Linus", "Ada", "barbara", "Grace"]);
        assert_eq!(names(&by(User::AGE.lt(41)).all(db).await?), ["Linus", "Ada"]);
        assert_eq!(names(&by(User::AGE.le(41)).all(db).await?), ["Linus", "Ada", "Alan"]);
        assert_eq!(names(&by(User::AGE.gt(62)).all(db).await?), ["Grace"]);
        assert_eq!(names(&by(User::AGE.ge(62)).all(db).await?), ["barbara", "Grace"]);
        assert_eq!(names(&by(User::AGE.between(36, 62)).all(db).await?), ["Ada", "Alan", "barbara"]);
        assert_eq!(names(&by(User::SCORE.gt(2.9)).all(db).await?), ["Linus", "barbara", "Grace"]);
        Ok(())
    }

    async fn in_list_and_not_in_handle_empty_lists(db) {
        seed_users(db).await?;
        let q = || User::query().order_by(User::NAME.asc());
        assert_eq!(names(&q().filter(User::AGE.in_list([28, 85, 999])).all(db).await?), ["Grace", "Linus"]);
        assert_eq!(names(&q().filter(User::AGE.not_in([28, 85])).all(db).await?), ["Ada", "Alan", "barbara"]);
        assert_eq!(q().filter(User::AGE.in_list(Vec::<i32>::new())).count(db).await?, 0);
        assert_eq!(q().filter(User::AGE.not_in(Vec::<i32>::new())).count(db).await?, 5);
        Ok(())
    }

    async fn in_lists_of_every_length_and_type_match_alike(db) {
        seed_users(db).await?;
        let q = || User::query().order_by(User::NAME.asc());
        // Text, hostile text included: bound, never written into the statement.
        let listed = ["Ada", "Grace", "x'); DROP TABLE users; --", ""];
        assert_eq!(names(&q().filter(User::NAME.in_list(listed)).all(db).await?), ["Ada", "Grace"]);
        assert_eq!(names(&q().filter(User::NAME.not_in(listed)).all(db).await?), ["Alan", "Linus", "barbara"]);
        // A nullable column: a row whose value is NULL is neither in nor out of a list.
        let nick = |n: &str| Some(n.to_owned());
        assert_eq!(names(&q().filter(User::NICKNAME.in_list([nick("countess"), nick("BL")])).all(db).await?), ["Ada", "barbara"]);
        assert_eq!(names(&q().filter(User::NICKNAME.not_in([nick("countess")])).all(db).await?), ["Grace", "barbara"]);
        // A NULL in the list: as in SQL.
        assert_eq!(names(&q().filter(User::NICKNAME.in_list([nick("countess"), None])).all(db).await?), ["Ada"]);
        assert_eq!(q().filter(User::NICKNAME.not_in([nick("countess"), None])).count(db).await?, 0);
        // Every length finds the same rows.
        for n in [1, 2, 7, 100, 3000] {
            let ages: Vec<i32> = std::iter::once(28).chain((1..n).map(|i| 1000 + i)).collect();
            assert_eq!(names(&q().filter(User::AGE.in_list(ages.clone())).all(db).await?), ["Linus"], "{n} values");
            assert_eq!(q().filter(User::AGE.not_in(ages)).count(db).await?, 4, "{n} values");
        }
        let ids: Vec<_> = User::query().all(db).await?.into_iter().map(|u| u.id).collect();
        assert_eq!(User::query().filter(User::ID.in_list(ids.clone())).count(db).await?, 5);
        assert_eq!(User::query().filter(User::ID.not_in(ids)).count(db).await?, 0);
        Ok(())
    }

    async fn like_is_case_sensitive_and_ilike_is_not_on_every_dialect(db) {
        seed_users(db).await?;
        let q = || User::query().order_by(User::NAME.asc());
        assert_eq!(names(&q().filter(User::NAME.like("A%")).all(db).await?), ["Ada", "Alan"]);
        assert_eq!(names(&q().filter(User::NAME.like("a%")).all(db).await?), Vec::<&str>::new());
        assert_eq!(names(&q().filter(User::NAME.ilike("a%")).all(db).await?), ["Ada", "Alan"]);
        assert_eq!(names(&q().filter(User::NAME.ilike("%A%")).all(db).await?), ["Ada", "Alan", "Grace", "barbara"]);
        assert_eq!(names(&q().filter(User::NAME.eq("ada")).all(db).await?), Vec::<&str>::new());
        assert_eq!(names(&q().filter(User::NICKNAME.like("_L")).all(db).await?), ["barbara"]);
        Ok(())
    }

    async fn contains_starts_with_ends_with_escape_wildcards(db) {
        create_tables(db).await?;
        for (i, name) in ["100% pure", "100 pure", "a_b", "axb", "back\\slash"].iter().enumerate() {
            User::new(&format!("w{i}@x.io"), name, 1).insert(db).await?;
        }
        let q = |f| User::query().filter(f).order_by(User::NAME.asc());
        assert_eq!(names(&q(User::NAME.contains("0%")).all(db).await?), ["100% pure"]);
        assert_eq!(names(&q(User::NAME.starts_with("a_")).all(db).await?), ["a_b"]);
        assert_eq!(names(&q(User::NAME.ends_with("\\slash")).all(db).await?), ["back\\slash"]);
        assert_eq!(names(&q(User::NAME.like("a_b")).all(db).await?), ["a_b", "axb"]);
        Ok(())
    }

    async fn null_tests_and_eq_none(db) {
        seed_users(db).await?;
        let q = || User::query().order_by(User::NAME.asc());
        assert_eq!(names(&q().filter(User::NICKNAME.is_null()).all(db).await?), ["Alan", "Linus"]);
        assert_eq!(names(&q().filter(User::NICKNAME.is_not_null()).all(db).await?), ["Ada", "Grace", "barbara"]);
        assert_eq!(names(&q().filter(User::NICKNAME.eq(None)).all(db).await?), ["Alan", "Linus"]);
        assert_eq!(names(&q().filter(User::NICKNAME.eq("BL")).all(db).await?), ["barbara"]);
        assert_eq!(names(&q().filter(User::NICKNAME.ne(None::<String>)).all(db).await?), ["Ada", "Grace", "barbara"]);
        Ok(())
    }

    async fn and_or_not_combine(db) {
        seed_users(db).await?;
        let q = || User::query().order_by(User::NAME.asc());
        let young_or_old = User::AGE.lt(30) | User::AGE.gt(80);
        assert_eq!(names(&q().filter(young_or_old.clone()).all(db).await?), ["Grace", "Linus"]);
        assert_eq!(names(&q().filter(!young_or_old).all(db).await?), ["Ada", "Alan", "barbara"]);
        let both = User::AGE.gt(30).and(User::NICKNAME.is_not_null());
        assert_eq!(names(&q().filter(both).all(db).await?), ["Ada", "Grace", "barbara"]);
        let chained = q().filter(User::AGE.gt(30)).filter(User::NAME.like("A%"));
        assert_eq!(names(&chained.all(db).await?), ["Ada", "Alan"]);
        assert_eq!(q().filter(Filter::any([])).count(db).await?, 0);
        assert_eq!(q().filter(Filter::all([])).count(db).await?, 5);
        Ok(())
    }

    async fn order_by_limit_and_offset(db) {
        seed_users(db).await?;
        let page = User::query().order_by(User::AGE.desc()).limit(2).offset(1).all(db).await?;
        assert_eq!(names(&page), ["barbara", "Alan"]);
        let rest = User::query().order_by(User::AGE.asc()).offset(3).all(db).await?;
        assert_eq!(names(&rest), ["barbara", "Grace"]);
        let tie = User::query().order_by(User::ACTIVE.asc()).order_by(User::NAME.desc()).all(db).await?;
        assert_eq!(names(&tie), ["barbara", "Linus", "Grace", "Alan", "Ada"]);
        Ok(())
    }

    async fn one_errors_when_nothing_matches_and_optional_does_not(db) {
        seed_users(db).await?;
        let err = User::query().filter(User::AGE.gt(200)).one(db).await.unwrap_err();
        assert!(matches!(err, Error::NotFound { table: "users", .. }), "{err:?}");
        assert_eq!(User::query().filter(User::AGE.gt(200)).optional(db).await?, None);
        let oldest = User::query().order_by(User::AGE.desc()).one(db).await?;
        assert_eq!(oldest.name, "Grace");
        Ok(())
    }

    async fn count_and_exists_respect_filters_and_limits(db) {
        seed_users(db).await?;
        assert_eq!(User::query().count(db).await?, 5);
        assert_eq!(User::query().filter(User::AGE.gt(40)).count(db).await?, 3);
        assert_eq!(User::query().limit(2).count(db).await?, 2);
        assert_eq!(User::query().offset(4).count(db).await?, 1);
        assert!(User::query().filter(User::NAME.eq("Ada")).exists(db).await?);
        assert!(!User::query().filter(User::NAME.eq("Nobody")).exists(db).await?);
        Ok(())
    }

    async fn insert_many_inserts_all_rows_in_one_statement(db) {
        create_tables(db).await?;
        let rows: Vec<User> = (0..25).map(|i| User::new(&format!("m{i}@x.io"), &format!("M{i:02}"), i)).collect();
        assert_eq!(User::insert_many(db, &rows).await?, 25);
        assert_eq!(User::insert_many(db, &[]).await?, 0);
        let stored = User::query().order_by(User::NAME.asc()).all(db).await?;
        assert_eq!(stored.len(), 25);
        assert_eq!(stored[7].email, "m7@x.io");
        Ok(())
    }

    async fn update_writes_every_field_of_a_loaded_row(db) {
        let users = seed_users(db).await?;
        let mut ada = users[0].clone();
        ada.name = "Ada Lovelace".into();
        ada.nickname = None;
        ada.active = false;
        ada.score = 99.5;
        ada.update(db).await?;
        assert_eq!(User::find(db, ada.id).await?, Some(ada.clone()));
        let alan = User::find(db, users[1].id).await?.expect("untouched row");
        assert_eq!(alan, users[1]);
        Ok(())
    }

    async fn update_of_a_deleted_row_is_not_found(db) {
        let users = seed_users(db).await?;
        assert!(users[2].delete(db).await?);
        let err = users[2].update(db).await.unwrap_err();
        assert!(err.is_not_found(), "{err:?}");
        // An update that changes nothing still finds the row (MySQL counts matched rows).
        users[0].update(db).await?;
        Ok(())
    }

    async fn update_many_sets_columns_on_matching_rows(db) {
        seed_users(db).await?;
        let n = User::update_many()
            .set(User::ACTIVE, false)
            .set(User::NICKNAME, None)
            .filter(User::AGE.gt(40))
            .execute(db)
            .await?;
        assert_eq!(n, 3);
        let inactive = User::query().filter(User::ACTIVE.eq(false)).order_by(User::NAME.asc()).all(db).await?;
        assert_eq!(names(&inactive), ["Alan", "Grace", "barbara"]);
        assert!(inactive.iter().all(|u| u.nickname.is_none()));
        let err = User::update_many().filter(User::AGE.gt(1)).execute(db).await.unwrap_err();
        assert!(matches!(err, Error::InvalidQuery(_)), "{err:?}");
        Ok(())
    }

    async fn update_many_with_column_expressions(db) {
        let users = seed_users(db).await?;
        let n = User::update_many()
            .set(User::AGE, User::AGE + 1)
            .set(User::SCORE, User::SCORE - 0.5)
            .filter(User::AGE.lt(40))
            .execute(db)
            .await?;
        assert_eq!(n, 2);
        let ada = User::find(db, users[0].id).await?.expect("Ada");
        assert_eq!((ada.age, ada.score), (37, users[0].score - 0.5));
        let linus = User::find(db, users[3].id).await?.expect("Linus");
        assert_eq!(linus.age, 29);
        let grace = User::find(db, users[2].id).await?.expect("Grace");
        assert_eq!(grace, users[2], "rows outside the filter are untouched");
        Ok(())
    }

    #[requires(sql)]
    async fn integer_overflow_in_column_expressions_is_out_of_range_everywhere(db) {
        #[derive(Model, Debug, Clone, PartialEq)]
        #[orm(table = "counters")]
        struct Counter {
            #[orm(primary_key)]
            id: i64,
            hits: i64,
            small: i32,
        }
        db.create_table::<Counter>().await?;
        let max = Counter { id: 1, hits: i64::MAX, small: i32::MAX }.insert(db).await?;
        let min = Counter { id: 2, hits: i64::MIN, small: i32::MIN }.insert(db).await?;
        for (id, delta) in [(1, 1), (2, -1)] {
            let err = Counter::update_many().set(Counter::HITS, Counter::HITS + delta).filter(Counter::ID.eq(id)).execute(db).await.unwrap_err();
            assert!(matches!(err, Error::OutOfRange { .. }), "i64 {delta:+}: {err:?}");
            let err = Counter::update_many().set(Counter::SMALL, Counter::SMALL + delta as i32).filter(Counter::ID.eq(id)).execute(db).await.unwrap_err();
            assert!(matches!(err, Error::OutOfRange { .. }), "i32 {delta:+}: {err:?}");
        }
        // Nothing was stored (SQLite would otherwise keep a float), and sums in range still work.
        assert_eq!(Counter::find(db, 1).await?, Some(max));
        assert_eq!(Counter::find(db, 2).await?, Some(min));
        Counter::update_many().set(Counter::HITS, Counter::HITS + (-5)).filter(Counter::ID.eq(1)).execute(db).await?;
        assert_eq!(Counter::find(db, 1).await?.map(|c| c.hits), Some(i64::MAX - 5));
        Ok(())
    }

    async fn upsert_updates_or_skips_conflicting_rows(db) {
        seed_users(db).await?;
        let mut ada = User::new("ada@example.com", "Ada Lovelace", 37);
        ada.nickname = Some("enchantress".into());
        let newcomer = User::new("new@example.com", "New", 20);
        let on_email = OnConflict::on(User::EMAIL).update(User::NAME).update(User::AGE);
        User::upsert_many(db, &[ada.clone(), newcomer.clone()], on_email).await?;
        let stored = User::query().filter(User::EMAIL.eq("ada@example.com")).one(db).await?;
        assert_eq!((stored.name.as_str(), stored.age), ("Ada Lovelace", 37), "updated columns");
        assert_eq!(stored.nickname.as_deref(), Some("countess"), "columns not listed are kept");
        assert_eq!(User::query().count(db).await?, 6, "the newcomer was inserted");

        let ignored = User::new("alan@example.com", "Not Alan", 1);
        User::upsert_many(db, &[ignored], OnConflict::on(User::EMAIL).do_nothing()).await?;
        let alan = User::query().filter(User::EMAIL.eq("alan@example.com")).one(db).await?;
        assert_eq!((alan.name.as_str(), alan.age), ("Alan", 41), "do_nothing keeps the row");
        assert_eq!(User::query().count(db).await?, 6);

        let m = Membership { user_id: 1, group_code: "g".into(), level: 1, role: "old".into() };
        m.insert(db).await?;
        let changed = Membership { role: "new".into(), ..m.clone() };
        let on_key = OnConflict::on(Membership::USER_ID).and(Membership::GROUP_CODE).update(Membership::ROLE);
        Membership::upsert_many(db, &[changed], on_key).await?;
        let got = Membership::find(db, (1, "g".into())).await?.expect("row");
        assert_eq!(got.role, "new", "composite conflict target");
        Ok(())
    }

    async fn delete_by_key_and_delete_many(db) {
        let users = seed_users(db).await?;
        assert!(User::delete_by_key(db, users[0].id).await?);
        assert!(!User::delete_by_key(db, users[0].id).await?);
        assert_eq!(User::delete_many().filter(User::AGE.ge(60)).execute(db).await?, 2);
        assert_eq!(names(&User::query().order_by(User::NAME.asc()).all(db).await?), ["Alan", "Linus"]);
        assert_eq!(User::delete_many().execute(db).await?, 2);
        assert_eq!(User::query().count(db).await?, 0);
        Ok(())
    }

    async fn composite_keys_work_for_find_update_and_delete(db) {
        create_tables(db).await?;
        let m = Membership { user_id: 7, group_code: "admins".into(), level: 1, role: "owner".into() };
        assert_eq!(m.insert(db).await?, m);
        Membership { user_id: 7, group_code: "users".into(), level: 1, role: "member".into() }.insert(db).await?;
        Membership { user_id: 8, group_code: "admins".into(), level: 2, role: "member".into() }.insert(db).await?;
        assert_eq!(Membership::find(db, (7, "admins".into())).await?, Some(m.clone()));
        assert_eq!(Membership::find(db, (8, "users".into())).await?, None);
        let mut changed = m.clone();
        changed.role = "member".into();
        changed.update(db).await?;
        assert_eq!(Membership::find(db, (7, "admins".into())).await?.map(|m| m.role), Some("member".into()));
        assert!(Membership::delete_by_key(db, (7, "admins".into())).await?);
        assert_eq!(Membership::query().count(db).await?, 2);
        Ok(())
    }

    async fn unique_violation_maps_to_same_error_on_every_backend(db) {
        seed_users(db).await?;
        let err = User::new("ada@example.com", "Other Ada", 1).insert(db).await.unwrap_err();
        match &err {
            Error::UniqueViolation { constraint, .. } => {
                assert_eq!(constraint.as_deref(), Some("uq_users_email"), "{err}")
            }
            other => panic!("expected UniqueViolation, got {other:?}"),
        }
        let m = Membership { user_id: 1, group_code: "g".into(), level: 1, role: "r".into() };
        m.insert(db).await?;
        let twin = Membership { user_id: 2, ..m.clone() };
        let err = twin.insert(db).await.unwrap_err();
        assert!(
            matches!(&err, Error::UniqueViolation { constraint: Some(c), .. } if c == "uq_memberships_group_code_level"),
            "{err:?}"
        );
        let err = m.insert(db).await.unwrap_err();
        assert!(err.is_unique_violation(), "duplicate primary key: {err:?}");
        let err = Membership::insert_many(db, &[Membership { user_id: 3, ..m }]).await.unwrap_err();
        assert!(err.is_unique_violation(), "insert_many: {err:?}");
        Ok(())
    }

    #[requires(sql)]
    async fn foreign_keys_reject_orphans_cascade_and_set_null(db) {
        let users = seed_users(db).await?;
        let (ada, alan) = (&users[0], &users[1]);
        let post = |author_id, editor_id| Post { id: 0, author_id, editor_id, title: "t".into() };
        let p1 = post(ada.id, Some(alan.id)).insert(db).await?;
        let p2 = post(alan.id, Some(ada.id)).insert(db).await?;
        let err = post(999_999, None).insert(db).await.unwrap_err();
        match &err {
            Error::ForeignKeyViolation { .. } => {}
            other => panic!("expected ForeignKeyViolation, got {other:?}"),
        }
        if let Error::ForeignKeyViolation { constraint: Some(name), .. } = &err {
            assert_eq!(name, "fk_posts_author_id");
        }
        ada.delete(db).await?;
        assert_eq!(Post::find(db, p1.id).await?, None, "cascade deleted Ada's post");
        let kept = Post::find(db, p2.id).await?.expect("Alan's post stays");
        assert_eq!(kept.editor_id, None, "Ada as editor was set to NULL");
        Ok(())
    }

    // `ON DELETE SET DEFAULT` sets the children's column to its default on PostgreSQL and
    // SQLite; MySQL/MariaDB would keep RESTRICT without a word (a parent's delete then
    // fails), so the table is refused there instead of meaning something else.
    #[requires(sql)]
    async fn on_delete_set_default_sets_the_default_or_is_refused_where_it_would_not(db) {
        let created = db.create_table::<Shelf>().await.and(db.create_table::<Book>().await);
        if db.backend() == Dialect::MySql {
            match created {
                Err(Error::Schema(message)) => {
                    assert!(message.contains("SET DEFAULT") && message.contains("fk_books_shelf_id"), "{message}")
                }
                other => panic!("expected a schema error, got {other:?}"),
            }
            return Ok(());
        }
        created?;
        for id in [1, 2] {
            Shelf { id }.insert(db).await?;
        }
        Book { id: 10, shelf_id: 2 }.insert(db).await?;
        Shelf::delete_many().filter(Shelf::ID.eq(2)).execute(db).await?;
        assert_eq!(Book::find(db, 10).await?, Some(Book { id: 10, shelf_id: 1 }));
        Ok(())
    }

    async fn transaction_commits_on_ok_and_rolls_back_on_err(db) {
        create_tables(db).await?;
        let id = db
            .transaction(|tx| async move {
                let u = User::new("t1@x.io", "T1", 1).insert(&tx).await?;
                User::new("t2@x.io", "T2", 2).insert(&tx).await?;
                Ok::<_, Error>(u.id)
            })
            .await?;
        assert!(User::find(db, id).await?.is_some());
        let failed: Result<(), Error> = db
            .transaction(|tx| async move {
                User::new("t3@x.io", "T3", 3).insert(&tx).await?;
                // A unique violation aborts the body; the insert above must be undone.
                User::new("t1@x.io", "dup", 4).insert(&tx).await?;
                Ok(())
            })
            .await;
        assert!(failed.unwrap_err().is_unique_violation());
        assert_eq!(names(&User::query().order_by(User::NAME.asc()).all(db).await?), ["T1", "T2"]);
        Ok(())
    }

    #[needs_real_mongodb("nx-27017 lacks transaction isolation: an outside read sees the uncommitted writes of a dropped transaction until its abort lands")]
    async fn transaction_rolls_back_when_the_body_panics(db) {
        create_tables(db).await?;
        let db2 = db.clone();
        let task = tokio::spawn(async move {
            db2.transaction(|tx| async move {
                User::new("p@x.io", "P", 1).insert(&tx).await?;
                panic!("boom inside the transaction");
                #[allow(unreachable_code)]
                Ok::<_, Error>(())
            })
            .await
        });
        let joined = task.await;
        assert!(joined.unwrap_err().is_panic());
        assert_eq!(User::query().count(db).await?, 0, "the panicked transaction was rolled back");
        Ok(())
    }

    #[needs_real_mongodb("nx-27017 lacks transaction isolation: an outside read sees the uncommitted writes of a dropped transaction until its abort lands")]
    async fn guard_rolls_back_on_drop_and_commits_explicitly(db) {
        create_tables(db).await?;
        {
            let tx = db.begin().await?;
            User::new("g1@x.io", "G1", 1).insert(&tx).await?;
            assert_eq!(User::query().count(&tx).await?, 1, "visible inside the transaction");
        }
        assert_eq!(User::query().count(db).await?, 0, "dropped guard rolled back");
        let tx = db.begin().await?;
        User::new("g2@x.io", "G2", 2).insert(&tx).await?;
        let handle = tx.clone();
        tx.commit().await?;
        assert_eq!(User::query().count(db).await?, 1);
        let err = User::query().count(&handle).await.unwrap_err();
        assert!(matches!(err, Error::InvalidQuery(_)), "a committed transaction is closed: {err:?}");
        Ok(())
    }

    #[requires(sql)]
    async fn savepoints_undo_only_their_own_work(db) {
        create_tables(db).await?;
        let tx = db.begin().await?;
        User::new("s1@x.io", "S1", 1).insert(&tx).await?;
        let sp = tx.savepoint().await?;
        User::new("s2@x.io", "S2", 2).insert(&sp).await?;
        sp.rollback().await?;
        let sp = tx.savepoint().await?;
        User::new("s3@x.io", "S3", 3).insert(&sp).await?;
        let inner = sp.savepoint().await?;
        User::new("s4@x.io", "S4", 4).insert(&inner).await?;
        drop(inner); // abandoned: rolled back before the next statement
        sp.commit().await?;
        assert_eq!(names(&User::query().order_by(User::NAME.asc()).all(&tx).await?), ["S1", "S3"]);
        tx.commit().await?;
        assert_eq!(names(&User::query().order_by(User::NAME.asc()).all(db).await?), ["S1", "S3"]);
        Ok(())
    }

    async fn read_only_transactions_refuse_writes(db) {
        create_tables(db).await?;
        let begun = db.begin_with(TxOptions::new().read_only()).await;
        if db.backend() == Dialect::Sqlite || db.backend() == Backend::MongoDb {
            assert!(matches!(begun.unwrap_err(), Error::Config(_)), "{} says it cannot", db.backend());
            return Ok(());
        }
        let tx = begun?;
        assert_eq!(User::query().count(&tx).await?, 0);
        let err = User::new("r@x.io", "R", 1).insert(&tx).await.unwrap_err();
        assert!(matches!(err, Error::Database { .. }), "{err:?}");
        Ok(())
    }

    #[requires(sql)]
    async fn isolation_levels_control_what_a_transaction_sees(db) {
        seed_users(db).await?;
        if db.backend() == Dialect::Sqlite {
            // One connection, always serializable: every level is accepted and behaves so.
            for level in [IsolationLevel::ReadCommitted, IsolationLevel::RepeatableRead, IsolationLevel::Serializable] {
                let tx = db.begin_with(TxOptions::new().isolation(level)).await?;
                assert_eq!(User::query().count(&tx).await?, 5);
                tx.commit().await?;
            }
            return Ok(());
        }
        for (level, sees_new_row) in [(IsolationLevel::ReadCommitted, true), (IsolationLevel::RepeatableRead, false)] {
            let tx = db.begin_with(TxOptions::new().isolation(level)).await?;
            let before = User::query().count(&tx).await?;
            let outside = User::new(&format!("{level:?}@x.io"), "Outside", 1).insert(db).await?;
            let after = User::query().count(&tx).await?;
            assert_eq!(after == before + 1, sees_new_row, "{level:?}: {before} then {after}");
            tx.commit().await?;
            outside.delete(db).await?;
        }
        Ok(())
    }

    #[requires(sql)]
    async fn serializable_conflicts_are_retried_and_keep_the_invariant(db) {
        create_tables(db).await?;
        // Two tasks each insert a "VIP" only if none exists yet (a write-skew race). Under
        // SERIALIZABLE one of them must fail and, retried, see the other's row.
        let barrier = Arc::new(tokio::sync::Barrier::new(2));
        let attempts = Arc::new(AtomicU32::new(0));
        let concurrent = db.backend() != Dialect::Sqlite; // one in-memory connection
        let mut tasks = Vec::new();
        for i in 0..2 {
            let (db, barrier, attempts) = (db.clone(), barrier.clone(), attempts.clone());
            tasks.push(tokio::spawn(async move {
                let options = TxOptions::new().isolation(IsolationLevel::Serializable);
                let policy = RetryPolicy { max_attempts: 10, ..RetryPolicy::default() };
                db.transaction_with_retry(options, policy, |tx| {
                    let (barrier, attempts) = (barrier.clone(), attempts.clone());
                    async move {
                        let first = attempts.fetch_add(1, Ordering::SeqCst) < 2;
                        let vips = User::query().filter(User::AGE.gt(100)).count(&tx).await?;
                        if first && concurrent {
                            barrier.wait().await;
                        }
                        if vips == 0 {
                            User::new(&format!("vip{i}@x.io"), "VIP", 101).insert(&tx).await?;
                        }
                        Ok(vips)
                    }
                })
                .await
            }));
        }
        for task in tasks {
            task.await.expect("task panicked")?;
        }
        assert_eq!(User::query().filter(User::AGE.gt(100)).count(db).await?, 1, "exactly one VIP");
        if concurrent {
            assert!(attempts.load(Ordering::SeqCst) >= 3, "one transaction was retried");
        }
        Ok(())
    }

    #[requires(sql)]
    async fn insert_many_splits_under_the_parameter_limit_all_or_nothing(db) {
        create_tables(db).await?;
        // 6 bound columns a row: 12,000 rows exceed every dialect's limit for one statement.
        let limit = db.dialect().expect("a SQL database").max_bind_parameters() / 6;
        let n = 12_000;
        assert!(n > limit, "the test must need more than one statement");
        let rows: Vec<User> = (0..n).map(|i| User::new(&format!("c{i}@x.io"), "C", i as i32)).collect();
        assert_eq!(User::insert_many(db, &rows).await?, n as u64);
        assert_eq!(User::query().count(db).await?, n as u64);
        User::delete_many().execute(db).await?;
        // A duplicate in the last chunk undoes the earlier chunks too.
        let mut rows = rows;
        rows[n - 1].email = rows[0].email.clone();
        let err = User::insert_many(db, &rows).await.unwrap_err();
        assert!(err.is_unique_violation(), "{err:?}");
        assert_eq!(User::query().count(db).await?, 0, "all or nothing");
        Ok(())
    }

    #[requires(sql)]
    async fn raw_sql_binds_parameters_and_decodes_tuples_and_models(db) {
        seed_users(db).await?;
        let rows: Vec<(String, i32)> = polyorm::raw("SELECT name, age FROM users WHERE age > ? AND name <> '?' ORDER BY age")
            .bind(40)
            .fetch_all(db)
            .await?;
        assert_eq!(rows, [("Alan".to_owned(), 41), ("barbara".to_owned(), 62), ("Grace".to_owned(), 85)]);
        let users: Vec<User> = polyorm::raw("SELECT id, email, name, age, nickname, active, score FROM users WHERE nickname = ? OR name = ?")
            .bind(None::<String>)
            .bind("Ada")
            .fetch_all(db)
            .await?;
        assert_eq!(names(&users), ["Ada"], "`= NULL` matches nothing; Ada matches by name");
        let done = polyorm::raw("UPDATE users SET age = age + ? WHERE name = ?").bind(1).bind("Ada").execute(db).await?;
        assert_eq!(done.rows_affected, 1);
        let (age,): (i32,) = polyorm::raw("SELECT age FROM users WHERE name = ?").bind("Ada").fetch_optional(db).await?.expect("row");
        assert_eq!(age, 37);
        let hostile = "x'); DROP TABLE users; --";
        let none: Option<(i64,)> = polyorm::raw("SELECT id FROM users WHERE name = ?").bind(hostile).fetch_optional(db).await?;
        assert_eq!(none, None);
        assert_eq!(User::query().count(db).await?, 5, "the table is intact");
        let err = polyorm::raw("SELECT ?").fetch_all::<(i64,), _>(db).await.unwrap_err();
        assert!(matches!(err, Error::InvalidQuery(_)), "{err:?}");
        Ok(())
    }

    #[requires(sql)]
    async fn health_reports_latency_and_pool_state(db) {
        let health = db.health().await?;
        assert!(health.latency < std::time::Duration::from_secs(5), "{health:?}");
        assert!(health.connections >= 1 && health.connections <= health.max_connections, "{health:?}");
        assert!(health.idle <= health.connections, "{health:?}");
        Ok(())
    }

    #[needs_real_mongodb("nx-27017 sorts integer _id values as text when a filter has many keys (10 before 9), so children come out of key order")]
    async fn eager_loading_runs_one_query_per_level(db) {
        seed_graph(db, 30, 3).await?;
        let counting = Counting::new(db);
        let users = User::query()
            .order_by(User::ID.asc())
            .with(User::posts().with(Post::comments()))
            .all(&counting)
            .await?;
        assert_eq!(counting.take(), 3, "users, posts, comments: one statement each");
        assert_eq!(users.len(), 30);
        for (user, posts) in &users {
            assert_eq!(posts.len(), 3, "{}", user.name);
            for (post, comments) in posts {
                assert_eq!(post.author_id, user.id);
                assert_eq!(comments.iter().map(|c| c.text.as_str()).collect::<Vec<_>>(), ["c0", "c1"]);
                assert!(comments.iter().all(|c| c.post_id == post.id));
            }
        }
        let expected = Post::query().filter(Post::AUTHOR_ID.eq(users[7].0.id)).order_by(Post::ID.asc()).all(db).await?;
        let loaded: Vec<Post> = users[7].1.iter().map(|(p, _)| p.clone()).collect();
        assert_eq!(loaded, expected, "same rows as a direct query");
        Ok(())
    }

    async fn eager_loading_chunks_large_key_lists(db) {
        seed_graph(db, 2_500, 1).await?;
        let counting = Counting::new(db);
        let users = User::query().with(User::posts()).all(&counting).await?;
        assert_eq!(counting.take(), 1 + 3, "2,500 keys in chunks of 1,000");
        assert!(users.iter().all(|(u, posts)| posts.len() == 1 && posts[0].author_id == u.id));
        Ok(())
    }

    async fn belongs_to_and_several_relations_load_together(db) {
        seed_graph(db, 4, 2).await?;
        let counting = Counting::new(db);
        let posts = Post::query()
            .order_by(Post::ID.asc())
            .with((Post::author(), Post::editor()))
            .all(&counting)
            .await?;
        assert_eq!(counting.take(), 3);
        for (post, (author, editor)) in &posts {
            assert_eq!(author.as_ref().map(|a| a.id), Some(post.author_id));
            assert_eq!(editor.as_ref().map(|e| e.id), post.editor_id, "NULL editor loads as None");
        }
        let (first_user, (posts_of, edited)) = User::query()
            .order_by(User::ID.asc())
            .with((User::posts(), User::edited()))
            .optional(&counting)
            .await?
            .expect("a user");
        assert_eq!(counting.take(), 3);
        assert_eq!(posts_of.len(), 2);
        assert!(edited.iter().all(|p| p.editor_id == Some(first_user.id)));
        assert_eq!(edited.len(), 1, "the previous user's second post");
        Ok(())
    }

    async fn subqueries_filter_by_other_tables(db) {
        let users = seed_users(db).await?;
        let id = |name: &str| users.iter().find(|u| u.name == name).expect("seeded").id;
        let post = |author, editor, title: &str| Post { id: 0, author_id: author, editor_id: editor, title: title.into() };
        Post::insert_many(db, &[post(id("Ada"), None, "Notes"), post(id("Ada"), Some(id("Alan")), "Engines"), post(id("Grace"), None, "COBOL")]).await?;
        let engines = Post::query().filter(Post::TITLE.eq("Engines")).one(db).await?;
        Comment { id: 0, post_id: engines.id, text: "steam!".into() }.insert(db).await?;

        let authors = User::query().filter(User::ID.in_subquery(Post::query().select_column(Post::AUTHOR_ID))).order_by(User::NAME.asc()).all(db).await?;
        assert_eq!(names(&authors), ["Ada", "Grace"]);
        let editors = User::query().filter(User::ID.in_subquery(Post::query().select_column(Post::EDITOR_ID))).all(db).await?;
        assert_eq!(names(&editors), ["Alan"], "NULLs in the subquery never match");
        let none = User::query().filter(User::ID.not_in_subquery(Post::query().select_column(Post::EDITOR_ID))).all(db).await?;
        assert!(none.is_empty(), "NOT IN over a subquery that returns NULL matches no row, as in SQL: {none:?}");
        let edited = Post::query().filter(Post::EDITOR_ID.is_not_null()).select_column(Post::EDITOR_ID);
        let not_editors = User::query().filter(User::ID.not_in_subquery(edited)).order_by(User::NAME.asc()).all(db).await?;
        assert_eq!(names(&not_editors), ["Ada", "Grace", "Linus", "barbara"]);
        let first = Post::query().order_by(Post::ID.desc()).limit(1).select_column(Post::AUTHOR_ID);
        let latest_author = User::query().filter(User::ID.in_subquery(first)).all(db).await?;
        assert_eq!(names(&latest_author), ["Grace"], "order and limit apply inside the subquery");

        let with_posts = User::query().filter(User::posts().exists()).order_by(User::NAME.asc()).all(db).await?;
        assert_eq!(names(&with_posts), ["Ada", "Grace"]);
        let without = User::query().filter(!User::posts().exists()).order_by(User::NAME.asc()).all(db).await?;
        assert_eq!(names(&without), ["Alan", "Linus", "barbara"]);
        let cobol = User::query().filter(User::posts().exists_where(Post::TITLE.eq("COBOL"))).all(db).await?;
        assert_eq!(names(&cobol), ["Grace"]);
        let commented = User::query().filter(User::posts().exists_where(Post::comments().exists())).all(db).await?;
        assert_eq!(names(&commented), ["Ada"], "nested EXISTS");
        let by_elders = Post::query().filter(Post::author().exists_where(User::AGE.gt(80))).all(db).await?;
        assert_eq!(by_elders.iter().map(|p| p.title.as_str()).collect::<Vec<_>>(), ["COBOL"]);
        let not_by_alan = Post::query().filter(!Post::editor().exists_where(User::NAME.eq("Alan"))).order_by(Post::TITLE.asc()).all(db).await?;
        let titles: Vec<&str> = not_by_alan.iter().map(|p| p.title.as_str()).collect();
        assert_eq!(titles, ["COBOL", "Notes"], "a NULL foreign key has no parent, so NOT EXISTS holds");
        assert_eq!(User::query().filter(User::posts().exists()).count(db).await?, 2);

        let renamed = Post::update_many()
            .set(Post::TITLE, "Notes v2")
            .filter(Post::ID.in_subquery(Post::query().filter(Post::TITLE.eq("Notes")).select_column(Post::ID)))
            .execute(db)
            .await?;
        assert_eq!(renamed, 1, "a subquery over the table being updated");
        let graces = User::query().filter(User::NAME.eq("Grace")).select_column(User::ID);
        let deleted = Post::delete_many().filter(Post::AUTHOR_ID.in_subquery(graces)).execute(db).await?;
        assert_eq!(deleted, 1);
        let prolific = Post::query().select_column(Post::AUTHOR_ID).group_by(Post::AUTHOR_ID).having(Post::ID.count().ge(2));
        let result = User::query().filter(User::ID.in_subquery(prolific)).all(db).await?;
        assert_eq!(names(&result), ["Ada"], "a grouped subquery with HAVING");
        let newest = User::query().filter(User::ID.in_subquery(Post::query().select((Post::AUTHOR_ID.max(),)))).all(db).await?;
        assert_eq!(names(&newest), ["Ada"], "an aggregate subquery (Grace's post was deleted)");
        let distinct = Post::query().select_column(Post::AUTHOR_ID).distinct();
        assert_eq!(User::query().filter(User::ID.in_subquery(distinct)).count(db).await?, 1);
        Ok(())
    }

    async fn aggregates_have_one_type_on_every_dialect(db) {
        seed_users(db).await?;
        let stats = User::query()
            .select((count_all(), User::AGE.sum(), User::AGE.avg(), User::AGE.min(), User::AGE.max(), User::SCORE.sum()))
            .one(db)
            .await?;
        assert_eq!(stats, (5, Some(252), Some(50.4), Some(28), Some(85), Some(15.0)));
        let empty = User::query()
            .filter(User::AGE.gt(1000))
            .select((count_all(), User::AGE.sum(), User::AGE.avg(), User::NAME.min(), User::NICKNAME.count()))
            .one(db)
            .await?;
        assert_eq!(empty, (0, None, None, None, 0), "aggregates over no row");
        let nicknames = User::query().select((User::NICKNAME.count(), User::NICKNAME.max())).one(db).await?;
        assert_eq!(nicknames, (3, Some("countess".to_owned())), "COUNT(col) skips NULLs");
        Ok(())
    }

    async fn group_by_and_having(db) {
        seed_users(db).await?;
        User::update_many().set(User::ACTIVE, false).filter(User::AGE.in_list([41, 85])).execute(db).await?;
        let groups = User::query()
            .select((User::ACTIVE, count_all(), User::AGE.sum(), User::AGE.avg()))
            .group_by(User::ACTIVE)
            .order_by(User::ACTIVE.asc())
            .all(db)
            .await?;
        assert_eq!(groups, [(false, 2, Some(126), Some(63.0)), (true, 3, Some(126), Some(42.0))]);
        let old_groups = User::query()
            .select((User::ACTIVE,))
            .group_by(User::ACTIVE)
            .having(User::AGE.avg().gt(50.0))
            .all(db)
            .await?;
        assert_eq!(old_groups, [(false,)]);
        let flags = User::query().select((User::ACTIVE,)).distinct().order_by(User::ACTIVE.desc()).all(db).await?;
        assert_eq!(flags, [(true,), (false,)], "DISTINCT");
        let names = User::query().filter(User::AGE.lt(40)).order_by(User::NAME.asc()).select((User::NAME, User::NICKNAME)).all(db).await?;
        assert_eq!(names, [("Ada".to_owned(), Some("countess".to_owned())), ("Linus".to_owned(), None)]);
        Ok(())
    }

    #[needs_real_mongodb("nx-27017 cannot $group on several keys")]
    async fn group_by_several_columns_and_distinct_pairs(db) {
        seed_users(db).await?;
        User::update_many().set(User::ACTIVE, false).filter(User::AGE.in_list([41, 85])).execute(db).await?;
        let mut groups = User::query()
            .filter(User::AGE.lt(80))
            .select((User::ACTIVE, User::NICKNAME, count_all(), User::AGE.max()))
            .group_by(User::ACTIVE)
            .group_by(User::NICKNAME)
            .all(db)
            .await?;
        groups.sort();
        let bl = Some("BL".to_owned());
        let countess = Some("countess".to_owned());
        assert_eq!(groups, [(false, None, 1, Some(41)), (true, None, 1, Some(28)), (true, bl, 1, Some(62)), (true, countess.clone(), 1, Some(36))]);
        User::update_many().set(User::NICKNAME, None).filter(User::AGE.gt(60)).execute(db).await?;
        let mut pairs = User::query().select((User::ACTIVE, User::NICKNAME)).distinct().all(db).await?;
        pairs.sort();
        assert_eq!(pairs, [(false, None), (true, None), (true, countess)], "DISTINCT over two columns");
        Ok(())
    }

    async fn row_locks_skip_locked_and_no_wait(db) {
        seed_users(db).await?;
        let holder = db.begin().await?;
        let ada = User::query().filter(User::NAME.eq("Ada")).for_update().one(&holder).await?;
        assert_eq!(ada.age, 36);
        if db.backend() == Backend::MongoDb {
            // No row locks: `for_update` reads (conflicting writes abort), the others say so.
            for err in [
                User::query().skip_locked().all(&holder).await.unwrap_err(),
                User::query().no_wait().all(&holder).await.unwrap_err(),
            ] {
                assert!(matches!(&err, Error::InvalidQuery(m) if m.contains("no row locks")), "{err:?}");
            }
            return holder.commit().await;
        }
        if db.backend() == Dialect::Sqlite {
            let err = User::query().skip_locked().all(&holder).await.unwrap_err();
            assert!(matches!(err, Error::InvalidQuery(_)), "SQLite says it cannot: {err:?}");
            return holder.commit().await;
        }
        let other = db.begin().await?;
        let free = User::query().order_by(User::NAME.asc()).skip_locked().all(&other).await?;
        assert_eq!(names(&free), ["Alan", "Grace", "Linus", "barbara"], "Ada is locked");
        let err = User::query().filter(User::NAME.eq("Ada")).no_wait().all(&other).await.unwrap_err();
        assert!(matches!(err, Error::LockTimeout { .. }), "{err:?}");
        other.rollback().await?;
        holder.commit().await?;
        Ok(())
    }

    #[needs_real_mongodb("nx-27017 gets $lookup + $unwind wrong (joined documents missing, _id returned as text)")]
    async fn inner_and_left_joins_filter_and_order_on_both_sides(db) {
        let users = seed_users(db).await?;
        let (ada, alan, grace) = (&users[0], &users[1], &users[2]);
        for (author, title) in [(ada, "a1"), (ada, "a2"), (alan, "b1")] {
            Post { id: 0, author_id: author.id, editor_id: Some(grace.id), title: title.into() }.insert(db).await?;
        }
        let pairs = User::query()
            .inner_join(User::posts())
            .order_by(User::NAME.asc())
            .order_by_joined(Post::TITLE.desc())
            .all(db)
            .await?;
        let seen: Vec<(&str, &str)> = pairs.iter().map(|(u, p)| (u.name.as_str(), p.title.as_str())).collect();
        assert_eq!(seen, [("Ada", "a2"), ("Ada", "a1"), ("Alan", "b1")]);
        assert!(pairs.iter().all(|(u, p)| p.author_id == u.id));

        let left = User::query().left_join(User::posts()).filter(User::AGE.lt(50)).order_by(User::NAME.asc()).all(db).await?;
        let seen: Vec<(&str, Option<&str>)> =
            left.iter().map(|(u, p)| (u.name.as_str(), p.as_ref().map(|p| p.title.as_str()))).collect();
        assert_eq!(seen.len(), 4, "{seen:?}");
        assert!(seen.contains(&("Linus", None)), "users without posts stay, with None: {seen:?}");

        let filtered = User::query().inner_join(User::posts()).filter_joined(Post::TITLE.like("a%")).count(db).await?;
        assert_eq!(filtered, 2);
        let (post, author) = Post::query().inner_join(Post::author()).filter_joined(User::NAME.eq("Alan")).one(db).await?;
        assert_eq!((post.title.as_str(), author.name.as_str()), ("b1", "Alan"));
        Ok(())
    }

    // Selects of one structure compile once and are kept (`sql/shapes/structural.rs`): each
    // later call binds its own values, and a NULL compared, another operator, another `IN`
    // list length or other paging is another statement.
    #[requires(sql)]
    async fn selects_kept_by_structure_bind_each_calls_values(db) {
        let users = seed_users(db).await?;
        let (ada, alan, grace, linus) = (&users[0], &users[1], &users[2], &users[3]);
        Post { id: 0, author_id: ada.id, editor_id: None, title: "a1".into() }.insert(db).await?;
        let older = |age: i32| {
            User::query().filter(User::AGE.gt(age)).filter(User::NAME.like("%a%")).order_by(User::AGE.asc())
        };
        assert_eq!(names(&older(40).all(db).await?), ["Alan", "barbara", "Grace"]);
        assert_eq!(names(&older(61).all(db).await?), ["barbara", "Grace"]);
        assert!(older(100).all(db).await?.is_empty());
        let younger = User::query().filter(User::AGE.lt(40)).filter(User::NAME.like("%a%")).order_by(User::AGE.asc());
        assert_eq!(names(&younger.all(db).await?), ["Ada"]);

        let by_nick = |nick: Option<&str>| User::query().filter(User::NICKNAME.eq(nick.map(str::to_owned))).order_by(User::AGE.asc());
        assert_eq!(names(&by_nick(Some("BL")).all(db).await?), ["barbara"]);
        assert_eq!(names(&by_nick(None).all(db).await?), ["Linus", "Alan"]);
        assert_eq!(names(&by_nick(Some("amazing")).all(db).await?), ["Grace"]);

        let ids = |ids: &[i64]| User::query().filter(User::ID.in_list(ids.to_vec())).order_by(User::AGE.asc());
        assert_eq!(names(&ids(&[ada.id, grace.id]).all(db).await?), ["Ada", "Grace"]);
        assert_eq!(names(&ids(&[alan.id, linus.id, grace.id]).all(db).await?), ["Linus", "Alan", "Grace"]);
        assert_eq!(names(&ids(&[linus.id, ada.id]).all(db).await?), ["Linus", "Ada"]);
        assert!(ids(&[]).all(db).await?.is_empty());

        let page = |limit: u64, offset: u64| User::query().filter(User::AGE.gt(0)).order_by(User::AGE.asc()).limit(limit).offset(offset);
        assert_eq!(names(&page(2, 1).all(db).await?), ["Ada", "Alan"]);
        assert_eq!(names(&page(2, 3).all(db).await?), ["barbara", "Grace"]);
        assert_eq!(names(&page(1, 0).all(db).await?), ["Linus"]);

        let with_posts = |name: &str| User::query().left_join(User::posts()).filter(User::NAME.eq(name.to_owned()));
        let seen = with_posts("Ada").all(db).await?;
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].1.as_ref().map(|p| p.title.as_str()), Some("a1"));
        let seen = with_posts("Linus").all(db).await?;
        assert_eq!((seen.len(), seen[0].0.id, seen[0].1.is_none()), (1, linus.id, true));
        Ok(())
    }

    #[needs_real_mongodb("nx-27017 gets $lookup + $unwind wrong (joined documents missing, _id returned as text)")]
    async fn self_join_pairs_each_employee_with_their_manager(db) {
        db.create_table::<Employee>().await?;
        for (id, name, reports_to) in [(1, "Ada", None), (2, "Alan", Some(1)), (3, "Grace", Some(1)), (4, "Linus", Some(2))] {
            Employee { id, name: name.into(), reports_to }.insert(db).await?;
        }
        let manager = || BelongsTo::<Employee, Employee>::via(Employee::REPORTS_TO);
        let pairs = Employee::query().left_join(manager()).order_by(Employee::ID.asc()).all(db).await?;
        let seen: Vec<(&str, Option<&str>)> =
            pairs.iter().map(|(e, m)| (e.name.as_str(), m.as_ref().map(|m| m.name.as_str()))).collect();
        assert_eq!(seen, [("Ada", None), ("Alan", Some("Ada")), ("Grace", Some("Ada")), ("Linus", Some("Alan"))]);

        // Filters and orders on either side name the right copy of the table.
        let of_ada = Employee::query()
            .inner_join(manager())
            .filter_joined(Employee::NAME.eq("Ada"))
            .filter(Employee::NAME.ne("Grace"))
            .order_by_joined(Employee::NAME.desc())
            .order_by(Employee::NAME.asc())
            .all(db)
            .await?;
        let seen: Vec<(&str, &str)> = of_ada.iter().map(|(e, m)| (e.name.as_str(), m.name.as_str())).collect();
        assert_eq!(seen, [("Alan", "Ada")]);

        // The other direction: each manager with each of their reports.
        let reports = HasMany::via(Employee::REPORTS_TO);
        let teams = Employee::query().inner_join(reports).order_by_joined(Employee::ID.desc()).all(db).await?;
        let seen: Vec<(i64, i64)> = teams.iter().map(|(m, e)| (m.id, e.id)).collect();
        assert_eq!(seen, [(2, 4), (1, 3), (1, 2)]);
        assert_eq!(Employee::query().inner_join(manager()).filter_joined(Employee::REPORTS_TO.is_null()).count(db).await?, 2);
        Ok(())
    }

    async fn count_distinct_and_group_by_an_expression(db) {
        db.create_table::<Sale>().await?;
        let day = |y, m: time::Month, d| time::Date::from_calendar_date(y, m, d).unwrap();
        use time::Month::{February, January, July, March, May};
        for (id, customer, issued, amount) in [
            (1, "Ann", day(2023, March, 1), 10),
            (2, "ann", day(2023, July, 9), 20),
            (3, "Bob", day(2024, January, 15), 5),
            (4, "ANN", day(2024, February, 1), 7),
            (5, "Bob", day(2024, May, 20), 5),
        ] {
            Sale { id, customer: customer.into(), issued, amount }.insert(db).await?;
        }
        // Distinct values compare exactly (three spellings of Ann are three customers).
        let distinct = Sale::query().select((Sale::CUSTOMER.count_distinct(), Sale::AMOUNT.count_distinct())).one(db).await?;
        assert_eq!(distinct, (4, 4));
        let per_year = Sale::query()
            .select((Sale::ISSUED.year(), count_all(), Sale::CUSTOMER.count_distinct(), Sale::AMOUNT.sum()))
            .group_by(Sale::ISSUED.year())
            .order_by(Sale::ISSUED.year().desc());
        let by_name = Sale::query()
            .select((Sale::CUSTOMER.lower(), count_all(), Sale::AMOUNT.count_distinct()))
            .group_by(Sale::CUSTOMER.lower())
            .order_by(Sale::CUSTOMER.lower().asc());
        if db.dialect().is_none() {
            // MongoDB: a clear refusal that names the construct.
            for err in [per_year.all(db).await.unwrap_err(), by_name.all(db).await.unwrap_err()] {
                assert!(err.to_string().contains("cannot group `sales` by a computed expression"), "{err}");
            }
            return Ok(());
        }
        assert_eq!(per_year.all(db).await?, [(2024, 3, 2, Some(17)), (2023, 2, 2, Some(30))]);
        assert_eq!(by_name.all(db).await?, [("ann".to_owned(), 3, 3), ("bob".to_owned(), 2, 1)]);
        Ok(())
    }

    async fn explain_shows_the_plan_of_any_typed_query(db) {
        seed_users(db).await?;
        let by_email = || User::query().filter(User::EMAIL.eq("ada@example.com"));
        let Some(dialect) = db.dialect() else {
            let err = by_email().explain(db).await.unwrap_err();
            assert!(matches!(err, Error::InvalidQuery(_)) && err.to_string().contains("run the `explain` command"), "{err}");
            return Ok(());
        };
        let plans = [
            by_email().explain(db).await?,
            User::query().inner_join(User::posts()).filter_joined(Post::TITLE.eq("x")).explain(db).await?,
            User::query().select((User::ACTIVE, count_all())).group_by(User::ACTIVE).explain(db).await?,
        ];
        for plan in &plans {
            assert!(plan.contains("users"), "{dialect}: the plan names the table read: {plan}");
        }
        assert!(plans[1].contains("posts"), "{dialect}: {}", plans[1]);
        let analyzed = by_email().explain_analyze(db).await;
        match dialect {
            Dialect::Postgres => assert!(analyzed?.contains("actual time"), "ANALYZE ran the query"),
            Dialect::MySql => assert!(analyzed?.contains("r_rows"), "ANALYZE ran the query"),
            Dialect::Sqlite => assert!(matches!(analyzed, Err(Error::InvalidQuery(ref m)) if m.contains("no EXPLAIN ANALYZE")), "{analyzed:?}"),
        }
        Ok(())
    }

    async fn index_hints_steer_mysql_and_are_left_out_elsewhere(db) {
        seed_users(db).await?;
        let ada = || User::query().filter(User::EMAIL.eq("ada@example.com") & User::AGE.gt(0));
        for query in [ada().use_index("uq_users_email"), ada().force_index("uq_users_email"), ada().ignore_index("uq_users_email")] {
            let found = query.all(db).await?;
            assert_eq!(found.iter().map(|u| u.name.as_str()).collect::<Vec<_>>(), ["Ada"]);
        }
        let Some(dialect) = db.dialect() else { return Ok(()) };
        let err = ada().use_index("idx_nope").all(db).await.unwrap_err();
        assert!(err.to_string().contains("`users` has no index `idx_nope` to hint (its indexes: uq_users_email)"), "{err}");
        if dialect == Dialect::MySql {
            // The JSON plan names the index the optimizer chose.
            let forced = ada().force_index("uq_users_email").explain(db).await?;
            assert!(forced.contains("\"key\": \"uq_users_email\""), "{forced}");
            let ignored = ada().ignore_index("uq_users_email").explain(db).await?;
            assert!(!ignored.contains("\"key\": \"uq_users_email\""), "{ignored}");
        }
        Ok(())
    }

    async fn projections_and_aggregates_over_a_join(db) {
        let users = seed_users(db).await?;
        let (ada, alan, grace) = (&users[0], &users[1], &users[2]);
        for (author, editor, title) in [(ada, Some(grace), "a1"), (ada, Some(alan), "a2"), (ada, Some(grace), "a3"), (alan, None, "b1")] {
            Post { id: 0, author_id: author.id, editor_id: editor.map(|e| e.id), title: title.into() }.insert(db).await?;
        }
        let titles = Post::query()
            .inner_join(Post::author())
            .filter_joined(User::AGE.lt(40))
            .select((Post::TITLE, User::NAME))
            .order_by(Post::TITLE.desc());
        let per_author = Post::query()
            .inner_join(Post::author())
            .select((User::NAME, count_all(), Post::EDITOR_ID.count_distinct()))
            .group_by_joined(User::NAME)
            .having_joined(User::AGE.max().gt(30))
            .order_by(count_all().desc());
        let managers = Employee::query()
            .inner_join(BelongsTo::<Employee, Employee>::via(Employee::REPORTS_TO))
            .select::<(OfModel, OfJoined), _>((Employee::NAME, Employee::NAME))
            .order_by(Employee::NAME.asc());
        if db.dialect().is_none() {
            let err = titles.all(db).await.unwrap_err();
            assert!(err.to_string().contains("a projection of a join of `posts` cannot be compiled for MongoDB"), "{err}");
            return Ok(());
        }
        let seen = titles.all(db).await?;
        assert_eq!(seen, [("a3".to_owned(), "Ada".to_owned()), ("a2".to_owned(), "Ada".to_owned()), ("a1".to_owned(), "Ada".to_owned())]);
        assert_eq!(per_author.all(db).await?, [("Ada".to_owned(), 3, 2), ("Alan".to_owned(), 1, 0)]);
        db.create_table::<Employee>().await?;
        for (id, name, reports_to) in [(1, "Ada", None), (2, "Alan", Some(1)), (3, "Grace", Some(2))] {
            Employee { id, name: name.into(), reports_to }.insert(db).await?;
        }
        let pairs = managers.all(db).await?;
        assert_eq!(pairs, [("Alan".to_owned(), "Ada".to_owned()), ("Grace".to_owned(), "Alan".to_owned())]);
        Ok(())
    }

    async fn keyset_pages_read_every_row_once_in_order(db) {
        seed_users(db).await?;
        for (i, age) in [36, 41, 36, 28].into_iter().enumerate() {
            User::new(&format!("tie{i}@example.com"), &format!("Tie{i}"), age).insert(db).await?;
        }
        let ordered = || User::query().filter(User::AGE.lt(80)).order_by(User::AGE.desc()).order_by(User::ID.asc());
        let expected: Vec<i64> = ordered().all(db).await?.iter().map(|u| u.id).collect();
        assert_eq!(expected.len(), 8);
        let (mut seen, mut last): (Vec<i64>, Option<User>) = (Vec::new(), None);
        loop {
            let page = match &last {
                None => ordered().limit(3).all(db).await?,
                Some(last) => ordered().after(last).limit(3).all(db).await?,
            };
            let Some(tail) = page.last().cloned() else { break };
            seen.extend(page.iter().map(|u| u.id));
            last = Some(tail);
        }
        assert_eq!(seen, expected, "pages of 3 in (age desc, id asc) order, ties on age included");
        let unkeyed = User::query().order_by(User::AGE.desc()).after(last.as_ref().unwrap()).all(db).await.unwrap_err();
        assert!(unkeyed.to_string().contains("must include every primary-key column"), "{unkeyed}");
        let nullable = User::query().order_by(User::NICKNAME.asc()).order_by(User::ID.asc()).after(last.as_ref().unwrap()).all(db).await.unwrap_err();
        assert!(nullable.to_string().contains("`nickname` is nullable"), "{nullable}");
        Ok(())
    }

    #[requires(sql)]
    async fn not_null_violation_names_the_column(db) {
        create_tables(db).await?;
        let err = db
            .execute_raw("INSERT INTO memberships (user_id, group_code, level, role) VALUES (1, 'g', 1, NULL)")
            .await
            .unwrap_err();
        match err {
            Error::NotNullViolation { column, .. } => assert_eq!(column.as_deref(), Some("role")),
            other => panic!("expected NotNullViolation, got {other:?}"),
        }
        Ok(())
    }

    #[needs_real_mongodb("nx-27017 does not enforce $jsonSchema validators (never error 121)")]
    async fn a_value_the_schema_refuses_is_a_check_violation(db) {
        db.create_table::<Ticket>().await?;
        NewTicket { id: 1, state: NewTicketState::Closed }.insert(db).await?;
        let err = NewTicket { id: 2, state: NewTicketState::Done }.insert(db).await.unwrap_err();
        assert!(matches!(err, Error::CheckViolation { .. }), "the table's CHECK (the collection's validator) refuses it: {err:?}");
        let updated = NewTicket::update_many().set(NewTicket::STATE, NewTicketState::Done).execute(db).await;
        assert!(matches!(updated, Err(Error::CheckViolation { .. })), "{updated:?}");
        assert_eq!(Ticket::query().all(db).await?.iter().map(|t| t.state).collect::<Vec<_>>(), [TicketState::Closed]);
        Ok(())
    }

    async fn decode_error_names_column_and_type(db) {
        seed_users(db).await?;
        let err = UserWithWrongType::query().all(db).await.unwrap_err();
        match err {
            Error::Decode { column, index, expected, .. } => {
                assert_eq!((column.as_str(), index, expected), ("email", 1, "i32"));
            }
            other => panic!("expected Decode, got {other:?}"),
        }
        Ok(())
    }

    async fn create_table_is_idempotent_and_drop_table_removes_it(db) {
        create_tables(db).await?;
        create_tables(db).await?;
        User::new("x@x.io", "X", 1).insert(db).await?;
        db.drop_table::<Comment>().await?;
        db.drop_table::<Post>().await?;
        db.drop_table::<User>().await?;
        if db.backend() == Backend::MongoDb {
            // A collection that does not exist reads as empty on MongoDB.
            assert_eq!(User::query().count(db).await?, 0);
            return Ok(());
        }
        let err = User::query().count(db).await.unwrap_err();
        assert!(matches!(err, Error::Database { .. }), "{err:?}");
        Ok(())
    }
}
