//! `Blob` fields on every database backend (SQLite, PostgreSQL, MariaDB/MySQL, MongoDB, as
//! selected by `ORM_TEST_BACKENDS`), and the consistency of rows and objects: upload, then
//! commit; orphans of a crash or a rollback are swept; objects of deleted rows go after the
//! commit only.

mod common;

use std::time::Duration;

use polyorm::prelude::*;
use polyorm_storage::{Blob, Storage, StorageError, Store, Sweeper, UploadOptions};

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "orm_storage_docs")]
struct Doc {
    #[orm(primary_key)]
    id: i64,
    title: String,
    avatar: Blob,
    thumb: Option<Blob>,
}

fn selected(backend: &str) -> bool {
    let list = std::env::var("ORM_TEST_BACKENDS")
        .unwrap_or_else(|_| "sqlite,postgres,mysql,mongodb".to_owned());
    let on = list.split(',').any(|b| b.trim() == backend);
    if !on {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must run every backend, but ORM_TEST_BACKENDS=`{list}` leaves out {backend}"
        );
        eprintln!("not run: ORM_TEST_BACKENDS=`{list}` leaves out {backend}");
    }
    on
}

async fn connect(url: &str, backend: &str) -> Db {
    Db::connect(url).await.unwrap_or_else(|e| {
        panic!(
            "{backend} at {url} is unreachable: {e}; start it, set its ORM_TEST_*_URL, or leave {backend} out of ORM_TEST_BACKENDS"
        )
    })
}

/// A database of the test's own on `backend`.
async fn database(backend: &str) -> Db {
    let pid = std::process::id();
    let db = match backend {
        "sqlite" => {
            let file = std::env::temp_dir().join(format!("polyorm-storage-{pid}.db"));
            let _ = std::fs::remove_file(&file);
            connect(&format!("sqlite://{}?mode=rwc", file.display()), backend).await
        }
        "postgres" => {
            let base = std::env::var("ORM_TEST_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
            let admin = connect(&base, backend).await;
            let schema = format!("orm_storage_{pid}");
            admin
                .execute_raw(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                .await
                .unwrap();
            admin
                .execute_raw(&format!("CREATE SCHEMA \"{schema}\""))
                .await
                .unwrap();
            let sep = if base.contains('?') { '&' } else { '?' };
            connect(
                &format!("{base}{sep}options=-c%20search_path%3D{schema}"),
                backend,
            )
            .await
        }
        "mysql" => {
            let base = std::env::var("ORM_TEST_MYSQL_URL")
                .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/test".to_owned());
            connect(&base, backend).await
        }
        "mongodb" => connect(&mongo_url(), backend).await,
        other => unreachable!("{other}"),
    };
    db.drop_table::<Doc>().await.unwrap();
    db.create_table::<Doc>().await.unwrap();
    db
}

/// A database of this process on the MongoDB server (`ORM_TEST_MONGO_URL`'s host and options).
fn mongo_url() -> String {
    let base = std::env::var("ORM_TEST_MONGO_URL")
        .unwrap_or_else(|_| "mongodb://127.0.0.1:27018".to_owned());
    let (server, options) = base.split_once('?').unwrap_or((&base, ""));
    let rest = server.strip_prefix("mongodb://").unwrap_or(server);
    let host = rest.split('/').next().unwrap_or(rest);
    let options = if options.is_empty() {
        String::new()
    } else {
        format!("?{options}")
    };
    format!(
        "mongodb://{host}/orm_storage_{}{options}",
        std::process::id()
    )
}

async fn storage() -> (Storage, Store) {
    let dir = std::env::temp_dir().join(common::unique("polyorm-storage-models"));
    let store = polyorm_storage::StoreBuilder::new("avatars", format!("file://{}", dir.display()))
        .build()
        .unwrap();
    (Storage::new().with_store(store.clone()), store)
}

async fn blob_fields_stay_consistent_with_their_objects(backend: &str) {
    if !selected(backend) {
        return;
    }
    let db = database(backend).await;
    let (storage, store) = storage().await;
    let upload = |key: &'static str| {
        let store = store.clone();
        async move {
            store
                .upload_bytes(
                    key,
                    common::content(2000, 1),
                    UploadOptions::new().content_type("image/png"),
                )
                .await
                .unwrap()
        }
    };

    // Upload, then commit the row: the blob reads back whole, `None` too.
    let kept = upload("docs/1.png").await;
    let thumb = upload("docs/1-thumb.png").await;
    let doc = Doc {
        id: 1,
        title: "one".into(),
        avatar: kept.clone(),
        thumb: Some(thumb.clone()),
    }
    .insert(&db)
    .await
    .unwrap();
    let plain = Doc {
        id: 2,
        title: "two".into(),
        avatar: upload("docs/2.png").await,
        thumb: None,
    }
    .insert(&db)
    .await
    .unwrap();
    assert_eq!(Doc::find(&db, 1).await.unwrap(), Some(doc.clone()));
    assert_eq!(Doc::find(&db, 2).await.unwrap(), Some(plain.clone()));
    let read = Doc::find(&db, 1).await.unwrap().unwrap();
    assert_eq!(
        storage.read_all(&read.avatar).await.unwrap(),
        common::content(2000, 1)
    );
    if backend == "mongodb" {
        // A blob is an embedded document, not a string of JSON.
        let client = mongodb::Client::with_uri_str(mongo_url()).await.unwrap();
        let raw = client
            .database(&format!("orm_storage_{}", std::process::id()))
            .collection::<mongodb::bson::Document>("orm_storage_docs")
            .find_one(mongodb::bson::doc! {"_id": 1i64})
            .await
            .unwrap()
            .expect("the row");
        let avatar = raw.get_document("avatar").expect("a sub-document");
        assert_eq!(avatar.get_str("sha256").unwrap(), kept.sha256);
        assert_eq!(avatar.get_str("content_type").unwrap(), "image/png");
    }

    // A crash after the upload (no row), and a rolled-back insert: two orphans.
    let crashed = upload("docs/crashed.png").await;
    let rolled_back = upload("docs/rolled-back.png").await;
    let tx = db.begin().await.unwrap();
    Doc {
        id: 3,
        title: "three".into(),
        avatar: rolled_back.clone(),
        thumb: None,
    }
    .insert(&tx)
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(Doc::find(&db, 3).await.unwrap(), None);

    let sweeper = || {
        Sweeper::new(store.clone())
            .references(Doc::AVATAR)
            .references(Doc::THUMB)
    };
    // Young objects are kept: their row may be about to commit.
    let report = sweeper().run(&db).await.unwrap();
    assert_eq!(
        (report.listed, report.referenced, report.too_young),
        (5, 3, 2),
        "{report:?}"
    );
    assert!(report.deleted.is_empty());
    tokio::time::sleep(Duration::from_millis(20)).await;
    let mut report = sweeper().grace(Duration::ZERO).run(&db).await.unwrap();
    report.deleted.sort();
    assert_eq!(
        report.deleted,
        [crashed.key.clone(), rolled_back.key.clone()]
    );
    assert_eq!(report.referenced, 3);
    for blob in [&kept, &thumb, &plain.avatar] {
        assert!(
            store.exists(&blob.key).await.unwrap(),
            "{} is referenced",
            blob.key
        );
    }
    assert!(!store.exists(&crashed.key).await.unwrap());
    assert!(!store.exists(&rolled_back.key).await.unwrap());
    // A sweeper that knows no column refuses to run.
    let err = Sweeper::new(store.clone()).run(&db).await.unwrap_err();
    assert!(matches!(err, StorageError::Config(_)), "{err}");

    // Deleting a row deletes its objects after the commit, not after a rollback.
    let deletions = storage.after_commit();
    let tx = db.begin().await.unwrap();
    assert!(doc.delete(&tx).await.unwrap());
    deletions.delete(&doc.avatar);
    deletions.delete(doc.thumb.as_ref().unwrap());
    tx.rollback().await.unwrap();
    drop(deletions);
    assert!(store.exists(&kept.key).await.unwrap());

    let deletions = storage.after_commit();
    let tx = db.begin().await.unwrap();
    assert!(doc.delete(&tx).await.unwrap());
    deletions.delete(&doc.avatar);
    deletions.delete(doc.thumb.as_ref().unwrap());
    // Not yet: the transaction has not committed.
    assert!(store.exists(&kept.key).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(deletions.run().await.unwrap(), 2);
    assert!(!store.exists(&kept.key).await.unwrap());
    assert!(!store.exists(&thumb.key).await.unwrap());

    // The one-call form.
    assert!(
        storage
            .delete_row(&db, &plain, |d| vec![&d.avatar])
            .await
            .unwrap()
    );
    assert!(!store.exists(&plain.avatar.key).await.unwrap());
    assert_eq!(Doc::query().count(&db).await.unwrap(), 0);

    db.drop_table::<Doc>().await.unwrap();
}

#[tokio::test]
async fn blob_fields_stay_consistent_with_their_objects_on_sqlite() {
    blob_fields_stay_consistent_with_their_objects("sqlite").await;
}

#[tokio::test]
async fn blob_fields_stay_consistent_with_their_objects_on_postgres() {
    blob_fields_stay_consistent_with_their_objects("postgres").await;
}

#[tokio::test]
async fn blob_fields_stay_consistent_with_their_objects_on_mysql() {
    blob_fields_stay_consistent_with_their_objects("mysql").await;
}

#[tokio::test]
async fn blob_fields_stay_consistent_with_their_objects_on_mongodb() {
    blob_fields_stay_consistent_with_their_objects("mongodb").await;
}

#[test]
fn a_blob_is_a_json_column() {
    let column = Doc::schema()
        .columns
        .iter()
        .find(|c| c.name == "avatar")
        .unwrap();
    assert_eq!(column.ty, polyorm::ColumnType::Json);
    let thumb = Doc::schema()
        .columns
        .iter()
        .find(|c| c.name == "thumb")
        .unwrap();
    assert!(thumb.nullable);
}
