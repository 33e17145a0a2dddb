//! A delete the database carries on through foreign keys (ON DELETE CASCADE / SET NULL, and
//! cascades of cascades) leaves no stale cached read of the tables it changed, on SQLite,
//! PostgreSQL and MariaDB, with the cache's Redis tier (127.0.0.1:6379).

mod common;

use common::{REDIS_URL, prefix};
use polyorm::cache::{Cache, CacheExt};
use polyorm::prelude::*;
use std::time::Duration;

/// The parent every other table's foreign key names.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "fkc_owners")]
pub struct Owner {
    #[orm(primary_key)]
    id: i64,
    name: String,
}

/// Deleted with its owner.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "fkc_pets")]
pub struct Pet {
    #[orm(primary_key)]
    id: i64,
    #[orm(belongs_to = Owner, on_delete = "cascade")]
    owner_id: i64,
    name: String,
}

/// Deleted with its pet, so with its pet's owner: a cascade of a cascade.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "fkc_toys")]
pub struct Toy {
    #[orm(primary_key)]
    id: i64,
    #[orm(belongs_to = Pet, on_delete = "cascade")]
    pet_id: i64,
}

/// Kept when its owner goes, with no owner.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "fkc_notes")]
pub struct Note {
    #[orm(primary_key)]
    id: i64,
    #[orm(belongs_to = Owner, on_delete = "set_null")]
    owner_id: Option<i64>,
    text: String,
}

/// Points at another owner's row of its own table: a delete changes rows it does not name.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "fkc_staff")]
pub struct Staff {
    #[orm(primary_key)]
    id: i64,
    #[orm(belongs_to = Staff, on_delete = "set_null")]
    manager_id: Option<i64>,
}

/// Unrelated to owners: a delete of an owner leaves its cached reads alone.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "fkc_other")]
pub struct Other {
    #[orm(primary_key)]
    id: i64,
}

const MINUTE: Duration = Duration::from_secs(60);

async fn check(db: Db, test: &str) {
    db.drop_table::<Toy>().await.unwrap();
    db.drop_table::<Pet>().await.unwrap();
    db.drop_table::<Note>().await.unwrap();
    db.drop_table::<Owner>().await.unwrap();
    db.drop_table::<Other>().await.unwrap();
    db.create_table::<Owner>().await.unwrap();
    db.create_table::<Pet>().await.unwrap();
    db.create_table::<Toy>().await.unwrap();
    db.create_table::<Note>().await.unwrap();
    db.create_table::<Other>().await.unwrap();
    let owners = [1, 2].map(|id| Owner {
        id,
        name: format!("owner {id}"),
    });
    Owner::insert_many(&db, &owners).await.unwrap();
    let pets = [(10, 1), (11, 1), (20, 2)].map(|(id, owner_id)| Pet {
        id,
        owner_id,
        name: format!("pet {id}"),
    });
    Pet::insert_many(&db, &pets).await.unwrap();
    let toys = [(100, 10), (101, 11), (200, 20)].map(|(id, pet_id)| Toy { id, pet_id });
    Toy::insert_many(&db, &toys).await.unwrap();
    let notes = [(1000, Some(1)), (2000, Some(2))].map(|(id, owner_id)| Note {
        id,
        owner_id,
        text: format!("note {id}"),
    });
    Note::insert_many(&db, &notes).await.unwrap();
    Other::insert_many(&db, &[Other { id: 7 }]).await.unwrap();

    let cache = Cache::builder()
        .redis_url(REDIS_URL)
        .prefix(prefix(test))
        .build()
        .expect("valid settings");
    let cached = cache.wrap(db.clone());
    let pet_ids = async || -> Vec<i64> {
        let rows = Pet::query()
            .order_by(Pet::ID.asc())
            .cached(MINUTE)
            .all(&cached)
            .await
            .unwrap();
        rows.iter().map(|p| p.id).collect()
    };
    let toy_ids = async || -> Vec<i64> {
        let rows = Toy::query()
            .order_by(Toy::ID.asc())
            .cached(MINUTE)
            .all(&cached)
            .await
            .unwrap();
        rows.iter().map(|t| t.id).collect()
    };
    let note_owners = async || -> Vec<(i64, Option<i64>)> {
        let rows = Note::query()
            .order_by(Note::ID.asc())
            .cached(MINUTE)
            .all(&cached)
            .await
            .unwrap();
        rows.iter().map(|n| (n.id, n.owner_id)).collect()
    };
    // A read pinned to one row's key (fine invalidation) goes stale the same way.
    let pet_10 = async || {
        Pet::query()
            .filter(Pet::ID.eq(10))
            .cached(MINUTE)
            .optional(&cached)
            .await
            .unwrap()
    };
    let others = async || Other::query().cached(MINUTE).count(&cached).await.unwrap();

    assert_eq!(pet_ids().await, [10, 11, 20]);
    assert_eq!(toy_ids().await, [100, 101, 200]);
    assert_eq!(note_owners().await, [(1000, Some(1)), (2000, Some(2))]);
    assert_eq!(pet_10().await.map(|p| p.name), Some("pet 10".to_owned()));
    assert_eq!(others().await, 1);
    let loads = cache.stats().loads;
    // Cached now: read again without a query.
    assert_eq!(pet_ids().await, [10, 11, 20]);
    assert_eq!(others().await, 1);
    assert_eq!(cache.stats().loads, loads, "the second reads are hits");

    // The database deletes owner 1's pets and their toys and clears the note's owner.
    let deleted = Owner::delete_many()
        .filter(Owner::ID.eq(1))
        .execute(&cached)
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    assert_eq!(pet_ids().await, [20], "pets of the deleted owner");
    assert_eq!(toy_ids().await, [200], "toys of the deleted owner's pets");
    assert_eq!(
        note_owners().await,
        [(1000, None), (2000, Some(2))],
        "the note whose owner was deleted"
    );
    assert_eq!(pet_10().await, None, "the deleted pet, read by its key");
    let loads = cache.stats().loads;
    assert_eq!(others().await, 1);
    assert_eq!(
        cache.stats().loads,
        loads,
        "a table no foreign key ties to owners stays cached"
    );

    // A foreign key to its own table: deleting the manager by key clears the report's
    // manager, a row the delete does not name, read pinned to its own key.
    db.drop_table::<Staff>().await.unwrap();
    db.create_table::<Staff>().await.unwrap();
    Staff::insert_many(
        &db,
        &[
            Staff {
                id: 1,
                manager_id: None,
            },
            Staff {
                id: 2,
                manager_id: Some(1),
            },
        ],
    )
    .await
    .unwrap();
    let manager_of_2 = async || {
        Staff::query()
            .filter(Staff::ID.eq(2))
            .cached(MINUTE)
            .one(&cached)
            .await
            .unwrap()
            .manager_id
    };
    assert_eq!(manager_of_2().await, Some(1));
    assert_eq!(manager_of_2().await, Some(1), "cached");
    assert!(Staff::delete_by_key(&cached, 1).await.unwrap());
    assert_eq!(
        manager_of_2().await,
        None,
        "the report of the deleted manager"
    );

    // A bulk delete (keys unknown) the same way.
    Owner::delete_many().execute(&cached).await.unwrap();
    assert_eq!(pet_ids().await, Vec::<i64>::new());
    assert_eq!(toy_ids().await, Vec::<i64>::new());
    assert_eq!(note_owners().await, [(1000, None), (2000, None)]);
}

#[tokio::test]
async fn a_cascading_delete_on_sqlite_leaves_no_stale_read() {
    check(common::sqlite().await, "fk_sqlite").await;
}

#[tokio::test]
async fn a_cascading_delete_on_postgres_leaves_no_stale_read() {
    let (url, schema) = common::postgres_schema("fk").await;
    check(Db::connect(&url).await.unwrap(), "fk_postgres").await;
    common::drop_schema(&schema).await;
}

#[tokio::test]
async fn a_cascading_delete_on_mariadb_leaves_no_stale_read() {
    let url = std::env::var("ORM_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned());
    let db = Db::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("MariaDB at {url} is unreachable: {e}"));
    check(db, "fk_mariadb").await;
}
