//! Access control (`polyorm::access`): roles with inheritance and wildcards, per-user overrides,
//! row rules on reads, updates, deletes, joins, subqueries and streams, policies loaded from
//! tables, and a refused statement never reaching the database.

use futures::TryStreamExt;
use polyorm::access::{AccessControl, Action, Actor, Policy};
use polyorm::prelude::*;
use polyorm::{Error, Executor, Result};

use crate::harness::Reached;

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "access_docs", has_many(notes = AccessNote::DOC_ID))]
struct AccessDoc {
    #[orm(primary_key)]
    id: i64,
    tenant: i64,
    #[orm(max_length = 40)]
    title: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "access_notes")]
struct AccessNote {
    #[orm(primary_key)]
    id: i64,
    #[orm(belongs_to = AccessDoc)]
    doc_id: i64,
    #[orm(max_length = 40)]
    body: String,
}

/// The tenant an actor works for, read by the row rule.
struct Tenant(i64);

fn policy() -> Policy {
    Policy::new()
        .role("reader", |r| r.allow("*", [Action::Read]))
        .role("writer", |r| {
            r.allow("access_docs", [Action::Insert, Action::Update])
        })
        .role("editor", |r| r.inherit("reader").inherit("writer"))
        .role("admin", |r| r.allow("*", Action::ALL).all_rows())
        .user("alice", ["editor"])
        .user("bob", ["reader"])
        .user("carol", ["editor"])
        .user("dave", ["reader"])
        .user("root", ["admin"])
        .deny_user("carol", "access_docs", Action::Update)
        .allow_user("dave", "access_docs", Action::Delete)
        .row_rule::<AccessDoc>(|actor| Some(AccessDoc::TENANT.eq(actor.get::<Tenant>()?.0)))
}

async fn seed(db: &Db) -> Result<()> {
    db.create_table::<AccessDoc>().await?;
    db.create_table::<AccessNote>().await?;
    for (id, tenant, title) in [(1, 1, "one"), (2, 1, "two"), (3, 2, "three")] {
        AccessDoc {
            id,
            tenant,
            title: title.into(),
        }
        .insert(db)
        .await?;
        AccessNote {
            id,
            doc_id: id,
            body: format!("on {title}"),
        }
        .insert(db)
        .await?;
    }
    Ok(())
}

/// The message of `result`, which must be `actor` refused `action` on `table`.
fn denied<T: std::fmt::Debug>(result: Result<T>, actor: &str, table: &str, action: &str) -> String {
    match &result {
        Err(Error::PermissionDenied {
            actor: a,
            table: t,
            action: x,
            ..
        }) => {
            assert_eq!((a.as_str(), t.as_str(), x.as_str()), (actor, table, action));
        }
        other => panic!("expected {actor} refused {action} on {table}, got {other:?}"),
    }
    result.unwrap_err().to_string()
}

suite! {
    async fn roles_inheritance_and_overrides_decide_each_statement_before_it_runs(db) {
        seed(db).await?;
        let reached = Reached::default();
        let guarded = db.layer(reached.clone()).layer(AccessControl::new(policy()));
        let doc = |id| AccessDoc { id, tenant: 1, title: "new".into() };
        let rename = |id: i64| AccessDoc::update_many().set(AccessDoc::TITLE, "renamed").filter(AccessDoc::ID.eq(id));

        // alice (editor = reader + writer): reads, inserts, updates; never deletes or runs SQL.
        let alice = Actor::new("alice").with(Tenant(1));
        alice.clone().scope(async {
            assert_eq!(AccessDoc::query().count(&guarded).await?, 2);
            doc(10).insert(&guarded).await?;
            assert_eq!(rename(10).execute(&guarded).await?, 1);
            Ok::<_, Error>(())
        }).await?;
        assert_eq!(reached.take(), 3);
        let refused = alice.clone().scope(AccessDoc::delete_many().filter(AccessDoc::ID.eq(10)).execute(&guarded)).await;
        let message = denied(refused, "alice", "access_docs", "delete");
        assert!(message.contains("may not delete `access_docs`"), "{message}");
        let refused = alice.clone().scope(guarded.execute_raw("DELETE FROM access_docs")).await;
        let Err(Error::PermissionDenied { roles, reason, action, table, .. }) = refused else { panic!("{refused:?}") };
        assert_eq!((roles, action.as_str(), table.as_str()), (vec!["editor".to_owned()], "raw", "*"));
        assert!(reason.contains("none of its roles grants it"), "{reason}");
        let ddl = alice.scope(guarded.execute_raw("DROP TABLE access_notes")).await;
        denied(ddl, "alice", "*", "ddl");
        assert_eq!(reached.take(), 0, "a refused statement never reaches the database");

        // bob (reader): reads only.
        let bob = Actor::new("bob").with(Tenant(2));
        assert_eq!(bob.clone().scope(AccessDoc::query().count(&guarded)).await?, 1);
        denied(bob.scope(doc(11).insert(&guarded)).await, "bob", "access_docs", "insert");
        // carol: an editor whom an override denies updates; dave: a reader allowed deletes.
        let carol = Actor::new("carol").with(Tenant(1));
        let refused = carol.scope(rename(1).execute(&guarded)).await;
        let Err(Error::PermissionDenied { reason, .. }) = &refused else { panic!("{refused:?}") };
        assert!(reason.contains("override"), "{reason}");
        let dave = Actor::new("dave").with(Tenant(1));
        assert_eq!(dave.scope(AccessDoc::delete_many().filter(AccessDoc::ID.eq(10)).execute(&guarded)).await?, 1);
        // A role given for the request (from a token) counts like the user's own.
        let guest = Actor::new("guest").with_role("reader").with(Tenant(1));
        assert_eq!(guest.scope(AccessDoc::query().count(&guarded)).await?, 2);
        // No actor: nothing is granted.
        let Err(Error::PermissionDenied { actor, reason, .. }) = AccessDoc::query().all(&guarded).await else { panic!("an unknown caller is refused") };
        assert_eq!(actor, "(no actor)");
        assert!(reason.contains("Actor::scope"), "{reason}");
        assert_eq!(reached.take(), 3, "only the three allowed statements ran");
        // What the statements did, read without the layer.
        assert_eq!(AccessDoc::find(db, 1).await?.map(|d| d.title), Some("one".to_owned()));
        assert_eq!(AccessDoc::find(db, 10).await?, None);
        Ok(())
    }

    async fn row_rules_filter_reads_updates_deletes_and_streams(db) {
        seed(db).await?;
        let guarded = db.layer(AccessControl::new(policy()));
        let tenant_1 = Actor::new("alice").with(Tenant(1));
        let ids = |docs: Vec<AccessDoc>| docs.iter().map(|d| d.id).collect::<Vec<_>>();
        tenant_1.clone().scope(async {
            assert_eq!(ids(AccessDoc::query().order_by(AccessDoc::ID.asc()).all(&guarded).await?), [1, 2]);
            assert_eq!(AccessDoc::query().count(&guarded).await?, 2);
            assert_eq!(AccessDoc::find(&guarded, 3).await?, None, "another tenant's row is not there");
            let streamed: Vec<AccessDoc> = AccessDoc::query().order_by(AccessDoc::ID.asc()).stream(&guarded).try_collect().await?;
            assert_eq!(ids(streamed), [1, 2]);
            // An update of every row updates this tenant's.
            let done = AccessDoc::update_many().set(AccessDoc::TITLE, "mine").execute(&guarded).await?;
            assert_eq!(done, 2);
            Ok::<_, Error>(())
        }).await?;
        // dave may delete, but only his tenant's rows.
        let dave = Actor::new("dave").with(Tenant(1));
        let gone = dave.scope(AccessDoc::delete_many().filter(AccessDoc::ID.eq(3)).execute(&guarded)).await?;
        assert_eq!(gone, 0);
        let all = AccessDoc::query().order_by(AccessDoc::ID.asc()).all(db).await?;
        let titles: Vec<&str> = all.iter().map(|d| d.title.as_str()).collect();
        assert_eq!(titles, ["mine", "mine", "three"], "the other tenant's row is untouched");
        // An actor the rule cannot be made for is refused; an admin sees every row.
        let refused = Actor::new("alice").scope(AccessDoc::query().all(&guarded)).await;
        let Err(Error::PermissionDenied { reason, .. }) = &refused else { panic!("{refused:?}") };
        assert!(reason.contains("attribute"), "{reason}");
        assert_eq!(Actor::new("root").scope(AccessDoc::query().count(&guarded)).await?, 3);
        Ok(())
    }

    #[requires(sql)]
    async fn row_rules_reach_joins_and_subqueries_or_refuse(db) {
        seed(db).await?;
        let guarded = db.layer(AccessControl::new(policy()));
        let tenant_2 = Actor::new("bob").with(Tenant(2));
        tenant_2.scope(async {
            // Notes have no rule; the documents they join and the subquery reads have one.
            let joined = AccessNote::query().inner_join(AccessNote::doc()).all(&guarded).await?;
            assert_eq!(joined.iter().map(|(n, _)| n.id).collect::<Vec<_>>(), [3]);
            let on_visible = AccessNote::query().filter(AccessNote::DOC_ID.in_subquery(AccessDoc::query().select_column(AccessDoc::ID))).all(&guarded).await?;
            assert_eq!(on_visible.iter().map(|n| n.id).collect::<Vec<_>>(), [3]);
            let with_notes = AccessDoc::query().filter(AccessDoc::notes().exists()).count(&guarded).await?;
            assert_eq!(with_notes, 1);
            // A subquery in HAVING reads rows too.
            let grouped = AccessNote::query()
                .select((AccessNote::DOC_ID, count_all()))
                .group_by(AccessNote::DOC_ID)
                .having(AccessNote::DOC_ID.in_subquery(AccessDoc::query().select_column(AccessDoc::ID)))
                .all(&guarded)
                .await?;
            assert_eq!(grouped, [(3, 1)]);
            // A left join would show the rows the rule hides as NULLs: refused instead.
            let left = AccessNote::query().left_join(AccessNote::doc()).all(&guarded).await;
            let Err(Error::PermissionDenied { reason, .. }) = &left else { panic!("{left:?}") };
            assert!(reason.contains("inner join"), "{reason}");
            Ok::<_, Error>(())
        }).await?;
        Ok(())
    }

    async fn a_reader_of_every_table_is_still_refused_what_an_override_denies_in_a_join(db) {
        seed(db).await?;
        // Both read every table through `reader`'s `*` grant (the layer then skips the walk
        // over the tables a query reads); frank has an override denying him the notes.
        let policy = Policy::new()
            .role("reader", |r| r.allow("*", [Action::Read]))
            .user("frank", ["reader"])
            .deny_user("frank", "access_notes", Action::Read);
        let guarded = db.layer(AccessControl::new(policy));
        let frank = Actor::new("frank");
        assert_eq!(frank.clone().scope(AccessDoc::query().count(&guarded)).await?, 3);
        let joined = frank.clone().scope(AccessDoc::query().filter(AccessDoc::ID.in_subquery(AccessNote::query().select_column(AccessNote::DOC_ID))).count(&guarded)).await;
        denied(joined, "frank", "access_notes", "read");
        let joined = frank.scope(AccessNote::query().inner_join(AccessNote::doc()).all(&guarded)).await;
        denied(joined, "frank", "access_notes", "read");
        // A role given for the request grants `*` the same way.
        let guest = Actor::new("guest").with_role("reader");
        // Counted: the nx-27017 test server returns a joined document's `_id` as text.
        let notes = guest.scope(AccessNote::query().inner_join(AccessNote::doc()).count(&guarded)).await?;
        assert_eq!(notes, 3);
        Ok(())
    }

    #[requires(sql)]
    async fn a_policy_loads_from_its_tables(db) {
        seed(db).await?;
        polyorm::access::create_tables(db).await?;
        for sql in [
            "INSERT INTO orm_access_grants (role, table_name, action) VALUES ('reader', '*', 'read'), ('clerk', 'access_notes', 'insert')",
            "INSERT INTO orm_access_role_parents (role, parent) VALUES ('clerk', 'reader')",
            "INSERT INTO orm_access_user_roles (user_name, role) VALUES ('erin', 'clerk')",
            "INSERT INTO orm_access_overrides (user_name, table_name, action, allowed) VALUES ('erin', 'access_notes', 'read', 0)",
        ] {
            db.execute_raw(sql).await?;
        }
        let loaded = Policy::load(db).await?;
        let guarded = db.layer(AccessControl::try_new(loaded)?);
        let erin = Actor::new("erin");
        assert_eq!(erin.clone().scope(AccessDoc::query().count(&guarded)).await?, 3, "read, inherited from reader");
        erin.clone().scope(AccessNote { id: 9, doc_id: 1, body: "x".into() }.insert(&guarded)).await?;
        denied(erin.scope(AccessNote::query().count(&guarded)).await, "erin", "access_notes", "read");
        // A grant of an unknown action is named.
        db.execute_raw("INSERT INTO orm_access_grants (role, table_name, action) VALUES ('reader', '*', 'fly')").await?;
        let err = Policy::load(db).await.unwrap_err();
        assert!(err.to_string().contains("`fly`"), "{err}");
        for table in polyorm::access::TABLES {
            db.execute_raw(&format!("DROP TABLE {table}")).await?;
        }
        Ok(())
    }
}

#[test]
fn a_policy_with_an_undeclared_or_cyclic_role_is_refused() {
    let undeclared = AccessControl::try_new(Policy::new().user("x", ["ghost"])).unwrap_err();
    assert!(undeclared.to_string().contains("`ghost`"), "{undeclared}");
    let cycle = Policy::new()
        .role("a", |r| r.inherit("b"))
        .role("b", |r| r.inherit("a"));
    let err = AccessControl::try_new(cycle).unwrap_err();
    assert!(err.to_string().contains("cycle"), "{err}");
}

/// The documented way to have the database enforce a role too: a database user with only the
/// privileges of the role, and a `Db` of its own. What it may not do, the database refuses,
/// as `Error::PermissionDenied` naming the table.
async fn a_least_privilege_database_user_is_refused_by_the_database(
    backend: crate::harness::Backend,
) {
    use crate::harness::Backend;
    let Some(t) = crate::harness::setup(backend, "access::database_user").await else {
        return;
    };
    let admin = &t.db;
    admin.create_table::<AccessDoc>().await.unwrap();
    AccessDoc {
        id: 1,
        tenant: 1,
        title: "one".into(),
    }
    .insert(admin)
    .await
    .unwrap();
    let reader = "orm_access_reader";
    let reader_url = match backend {
        Backend::Postgres => {
            let schema = t.url.rsplit("search_path%3D").next().unwrap().to_owned();
            for sql in [
                format!(
                    "DO $$ BEGIN IF EXISTS (SELECT FROM pg_roles WHERE rolname = '{reader}') THEN EXECUTE 'DROP OWNED BY {reader}'; EXECUTE 'DROP ROLE {reader}'; END IF; END $$"
                ),
                format!("CREATE ROLE {reader} LOGIN"),
                format!("GRANT USAGE ON SCHEMA \"{schema}\" TO {reader}"),
                format!("GRANT SELECT ON access_docs TO {reader}"),
            ] {
                admin
                    .execute_raw(&sql)
                    .await
                    .unwrap_or_else(|e| panic!("{sql}: {e}"));
            }
            t.url.replacen("://postgres@", &format!("://{reader}@"), 1)
        }
        Backend::MySql => {
            let database = t.url.rsplit('/').next().unwrap().to_owned();
            for host in ["%", "localhost", "127.0.0.1"] {
                for sql in [
                    format!(
                        "CREATE OR REPLACE USER '{reader}'@'{host}' IDENTIFIED BY 'orm-reader-pw'"
                    ),
                    format!("GRANT SELECT ON `{database}`.* TO '{reader}'@'{host}'"),
                ] {
                    admin
                        .execute_raw(&sql)
                        .await
                        .unwrap_or_else(|e| panic!("{sql}: {e}"));
                }
            }
            t.url
                .replacen("://root@", &format!("://{reader}:orm-reader-pw@"), 1)
        }
        other => panic!("no database users on {other:?}"),
    };
    let as_reader = Db::connect(&reader_url)
        .await
        .unwrap_or_else(|e| panic!("{reader_url}: {e}"));
    assert_eq!(AccessDoc::query().count(&as_reader).await.unwrap(), 1);
    let refused = AccessDoc {
        id: 2,
        tenant: 1,
        title: "two".into(),
    }
    .insert(&as_reader)
    .await;
    let Err(Error::PermissionDenied { table, reason, .. }) = &refused else {
        panic!("{refused:?}")
    };
    assert_eq!(table, "access_docs");
    assert!(reason.contains("the database refused it"), "{reason}");
    let refused = AccessDoc::delete_many().execute(&as_reader).await;
    assert!(
        matches!(refused, Err(Error::PermissionDenied { .. })),
        "{refused:?}"
    );
    as_reader.close().await;
    assert_eq!(
        AccessDoc::query().count(admin).await.unwrap(),
        1,
        "nothing was written"
    );
    let cleanup: Vec<String> = match backend {
        Backend::Postgres => vec![
            format!("DROP OWNED BY {reader}"),
            format!("DROP ROLE {reader}"),
        ],
        _ => ["%", "localhost", "127.0.0.1"]
            .iter()
            .map(|h| format!("DROP USER '{reader}'@'{h}'"))
            .collect(),
    };
    for sql in cleanup {
        admin
            .execute_raw(&sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    t.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn postgres_least_privilege_user() {
    a_least_privilege_database_user_is_refused_by_the_database(crate::harness::Backend::Postgres)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn mysql_least_privilege_user() {
    a_least_privilege_database_user_is_refused_by_the_database(crate::harness::Backend::MySql)
        .await;
}
