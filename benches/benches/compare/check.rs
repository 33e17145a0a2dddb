//! Before anything is timed, every library's answer to every workload is reduced to plain rows
//! and compared with this ORM's: a fast wrong answer cannot win.

use std::fmt::Debug;

use polyorm::prelude::*;

use crate::libs::{
    Ctx, Nested, NewRow, diesel_side, mysql_async_side, orm_side, sea_side, sqlx_side,
};
use crate::models::{CommentRow, PostRow, Tree, UserRow, dsl, ours, sea};

/// Panics, naming the workload and the library, when `others` differ from `ours`.
fn same<T: PartialEq + Debug, const N: usize>(workload: &str, ours: &T, others: [(&str, T); N]) {
    for (lib, theirs) in others {
        assert!(
            &theirs == ours,
            "{workload}: {lib} disagrees with the ORM.\n  ORM: {ours:?}\n  {lib}: {theirs:?}"
        );
    }
}

/// Panics when the ORM on sqlx's driver (PostgreSQL or MariaDB/MySQL) answered `on_sqlx` where
/// the ORM on its native driver answered `ours`.
fn drivers_agree<T: PartialEq + Debug>(workload: &str, ours: &T, on_sqlx: T) {
    assert!(
        &on_sqlx == ours,
        "{workload}: the sqlx driver disagrees with the native driver.\n  \
         native driver: {ours:?}\n  sqlx driver: {on_sqlx:?}"
    );
}

fn sorted<T: Ord>(mut rows: Vec<T>) -> Vec<T> {
    rows.sort();
    rows
}

fn sea_user(u: &sea::user::Model) -> UserRow {
    (u.id, u.name.clone(), u.hair_color.clone())
}
fn sea_post(p: &sea::post::Model) -> PostRow {
    (p.id, p.user_id, p.title.clone(), p.body.clone())
}
fn sea_comment(c: &sea::comment::Model) -> CommentRow {
    (c.id, c.post_id, c.text.clone())
}
fn sq_user(u: &crate::libs::SqUser) -> UserRow {
    (u.id, u.name.clone(), u.hair_color.clone())
}
fn sq_post(p: &crate::libs::SqPost) -> PostRow {
    (p.id, p.user_id, p.title.clone(), p.body.clone())
}
fn sq_comment(c: &crate::libs::SqComment) -> CommentRow {
    (c.id, c.post_id, c.text.clone())
}
fn d_user(u: &dsl::User) -> UserRow {
    (u.id, u.name.clone(), u.hair_color.clone())
}
fn d_post(p: &dsl::Post) -> PostRow {
    (p.id, p.user_id, p.title.clone(), p.body.clone())
}
fn d_comment(c: &dsl::Comment) -> CommentRow {
    (c.id, c.post_id, c.text.clone())
}

/// The trivial select returns the same users everywhere (`expected` of them).
pub async fn select_users(ctx: &Ctx, expected: usize) {
    let ours = sorted(
        orm_side::select_users(ctx)
            .await
            .iter()
            .map(ours::User::row)
            .collect(),
    );
    assert_eq!(
        ours.len(),
        expected,
        "select_users: the ORM read {} users",
        ours.len()
    );
    if let Some(on_sqlx) = &ctx.orm_sqlx {
        let rows = orm_side::select_users_on(on_sqlx).await;
        let on_sqlx = sorted(rows.iter().map(ours::User::row).collect());
        drivers_agree("select_users", &ours, on_sqlx);
    }
    if let Some(my) = &ctx.mysql_async {
        let rows = mysql_async_side::select_users(my).await;
        same(
            "select_users",
            &ours,
            [("mysql_async", sorted(rows.iter().map(sq_user).collect()))],
        );
    }
    let diesel = diesel_side::select_users(&mut ctx.diesel[0].lock().unwrap());
    same(
        "select_users",
        &ours,
        [
            (
                "sqlx",
                sorted(
                    sqlx_side::select_users(&ctx.sqlx)
                        .await
                        .iter()
                        .map(sq_user)
                        .collect(),
                ),
            ),
            (
                "SeaORM",
                sorted(
                    sea_side::select_users(ctx)
                        .await
                        .iter()
                        .map(sea_user)
                        .collect(),
                ),
            ),
            ("Diesel", sorted(diesel.iter().map(d_user).collect())),
        ],
    );
}

/// The left join returns the same `(user, post?)` pairs everywhere.
pub async fn join(ctx: &Ctx) {
    let ours = sorted(
        orm_side::join(ctx)
            .await
            .iter()
            .map(|(u, p)| (u.row(), p.as_ref().map(ours::Post::row)))
            .collect(),
    );
    assert!(ours.iter().all(|(u, _)| u.2.as_deref() == Some("black")));
    if let Some(on_sqlx) = &ctx.orm_sqlx {
        let rows = orm_side::join_on(on_sqlx).await;
        let on_sqlx = sorted(
            rows.iter()
                .map(|(u, p)| (u.row(), p.as_ref().map(ours::Post::row)))
                .collect(),
        );
        drivers_agree("join", &ours, on_sqlx);
    }
    if let Some(my) = &ctx.mysql_async {
        let rows = mysql_async_side::join(ctx, my).await;
        let rows = rows
            .iter()
            .map(|(u, p)| (sq_user(u), p.as_ref().map(sq_post)));
        same("join", &ours, [("mysql_async", sorted(rows.collect()))]);
    }
    let diesel = diesel_side::join(&mut ctx.diesel[0].lock().unwrap());
    same(
        "join",
        &ours,
        [
            (
                "sqlx",
                sorted(
                    sqlx_side::join(ctx)
                        .await
                        .iter()
                        .map(|(u, p)| (sq_user(u), p.as_ref().map(sq_post)))
                        .collect(),
                ),
            ),
            (
                "SeaORM",
                sorted(
                    sea_side::join(ctx)
                        .await
                        .iter()
                        .map(|(u, p)| (sea_user(u), p.as_ref().map(sea_post)))
                        .collect(),
                ),
            ),
            (
                "Diesel",
                sorted(
                    diesel
                        .iter()
                        .map(|(u, p)| (d_user(u), p.as_ref().map(d_post)))
                        .collect(),
                ),
            ),
        ],
    );
}

/// Each library inserts the same rows (ids aside) and reports the same count.
pub async fn insert(ctx: &Ctx, rows: &[NewRow]) {
    let stored = || async {
        let all = ours::NewUser::query().all(&ctx.orm).await.unwrap();
        sorted(
            all.into_iter()
                .map(|u| (u.name, u.hair_color))
                .collect::<Vec<_>>(),
        )
    };
    let n = rows.len() as u64;
    crate::setup::clear_new_users(&ctx.orm).await;
    assert_eq!(
        orm_side::insert(ctx, rows).await,
        n,
        "insert: the ORM's count"
    );
    let ours = stored().await;
    assert_eq!(
        ours,
        sorted(rows.to_vec()),
        "insert: the ORM stored other rows"
    );
    crate::setup::clear_new_users(&ctx.orm).await;
    assert_eq!(
        sqlx_side::insert(ctx, rows).await,
        n,
        "insert: sqlx's count"
    );
    let by_sqlx = stored().await;
    crate::setup::clear_new_users(&ctx.orm).await;
    assert_eq!(
        sea_side::insert(ctx, rows).await,
        n,
        "insert: SeaORM's count"
    );
    let by_sea = stored().await;
    crate::setup::clear_new_users(&ctx.orm).await;
    let count = diesel_side::insert(&mut ctx.diesel[0].lock().unwrap(), rows);
    assert_eq!(count as u64, n, "insert: Diesel's count");
    let by_diesel = stored().await;
    crate::setup::clear_new_users(&ctx.orm).await;
    if let Some(on_sqlx) = &ctx.orm_sqlx {
        assert_eq!(
            orm_side::insert_on(on_sqlx, rows).await,
            n,
            "insert: the sqlx driver's count"
        );
        drivers_agree("insert", &ours, stored().await);
        crate::setup::clear_new_users(&ctx.orm).await;
    }
    if let Some(my) = &ctx.mysql_async {
        let count = mysql_async_side::insert(my, rows).await;
        assert_eq!(count, n, "insert: mysql_async's count");
        same("insert", &ours, [("mysql_async", stored().await)]);
        crate::setup::clear_new_users(&ctx.orm).await;
    }
    same(
        "insert",
        &ours,
        [("sqlx", by_sqlx), ("SeaORM", by_sea), ("Diesel", by_diesel)],
    );
}

fn tree<U, P, C>(
    rows: &Nested<U, P, C>,
    u: impl Fn(&U) -> UserRow,
    p: impl Fn(&P) -> PostRow,
    c: impl Fn(&C) -> CommentRow,
) -> Tree {
    sorted(
        rows.iter()
            .map(|(user, posts)| {
                let posts = posts
                    .iter()
                    .map(|(post, comments)| (p(post), sorted(comments.iter().map(&c).collect())))
                    .collect();
                (u(user), sorted(posts))
            })
            .collect(),
    )
}

/// Eager loading returns the same three-level tree everywhere (`users` users, none empty).
pub async fn associations(ctx: &Ctx, users: usize, posts: usize, comments: usize) {
    let ours = tree(
        &orm_side::associations(ctx).await,
        ours::User::row,
        ours::Post::row,
        ours::Comment::row,
    );
    assert_eq!(ours.len(), users);
    assert!(
        ours.iter()
            .all(|(_, ps)| ps.len() == posts && ps.iter().all(|(_, cs)| cs.len() == comments))
    );
    if let Some(on_sqlx) = &ctx.orm_sqlx {
        let rows = orm_side::associations_on(on_sqlx).await;
        let on_sqlx = tree(&rows, ours::User::row, ours::Post::row, ours::Comment::row);
        drivers_agree("associations", &ours, on_sqlx);
    }
    if let Some(my) = &ctx.mysql_async {
        let rows = mysql_async_side::associations(my).await;
        same(
            "associations",
            &ours,
            [("mysql_async", tree(&rows, sq_user, sq_post, sq_comment))],
        );
    }
    let diesel = diesel_side::associations(&mut ctx.diesel[0].lock().unwrap());
    same(
        "associations",
        &ours,
        [
            (
                "sqlx",
                tree(
                    &sqlx_side::associations(ctx).await,
                    sq_user,
                    sq_post,
                    sq_comment,
                ),
            ),
            (
                "SeaORM",
                tree(
                    &sea_side::associations(ctx).await,
                    sea_user,
                    sea_post,
                    sea_comment,
                ),
            ),
            ("Diesel", tree(&diesel, d_user, d_post, d_comment)),
        ],
    );
}

/// A primary-key lookup finds the same user everywhere, and nothing for a missing key.
pub async fn find(ctx: &Ctx, ids: &[i64]) {
    let missing = ids.iter().max().unwrap() + 1_000;
    for id in [ids[0], ids[ids.len() / 2], missing] {
        let ours = orm_side::find(&ctx.orm, id).await.map(|u| u.row());
        assert_eq!(ours.is_some(), id != missing, "find({id}): the ORM");
        if let Some(on_sqlx) = &ctx.orm_sqlx {
            let on_sqlx = orm_side::find(on_sqlx, id).await.map(|u| u.row());
            drivers_agree("find", &ours, on_sqlx);
        }
        if let Some(my) = &ctx.mysql_async {
            let theirs = mysql_async_side::find(my, ctx.sql.find, id).await;
            same(
                "find",
                &ours,
                [("mysql_async", theirs.as_ref().map(sq_user))],
            );
        }
        same(
            "find",
            &ours,
            [
                (
                    "sqlx",
                    sqlx_side::find(&ctx.sqlx, ctx.sql.find, id)
                        .await
                        .as_ref()
                        .map(sq_user),
                ),
                (
                    "SeaORM",
                    sea_side::find(&ctx.sea, id).await.as_ref().map(sea_user),
                ),
                (
                    "Diesel",
                    diesel_side::find(&mut ctx.diesel[0].lock().unwrap(), id)
                        .as_ref()
                        .map(d_user),
                ),
            ],
        );
    }
}

/// Every builder renders the three predicates with three bound values.
pub fn build(ctx: &Ctx) {
    let ours = orm_side::build(ctx.dialect);
    assert_eq!(
        ours.values.len(),
        3,
        "build: the ORM binds {:?}",
        ours.values
    );
    let theirs = sea_side::build(ctx.dialect);
    let binds = theirs.values.as_ref().map_or(0, |v| v.0.len());
    assert_eq!(binds, 3, "build: SeaORM binds {:?}", theirs.values);
    let diesel = diesel_side::build(ctx.dialect);
    assert!(
        diesel.contains("LIKE") && diesel.contains("black"),
        "build: Diesel rendered {diesel}"
    );
    for sql in [ours.sql.as_str(), theirs.sql.as_str(), diesel.as_str()] {
        assert!(sql.contains("LIKE"), "build: {sql}");
    }
}
