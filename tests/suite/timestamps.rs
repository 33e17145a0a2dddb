//! `#[orm(created_at)]` / `#[orm(updated_at)]`: set from the application's clock (UTC) by
//! `insert`, `insert_many`, `update`, `update_many` and `upsert_many`, the same on every
//! backend; a `created_at` given by the caller is kept.

use chrono::{DateTime, Duration, Utc};
use polyorm::OnConflict;
use polyorm::prelude::*;

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "ts_notes")]
pub struct Note {
    #[orm(primary_key)]
    id: i64,
    #[orm(unique, max_length = 20)]
    slug: String,
    body: String,
    #[orm(created_at)]
    created_at: DateTime<Utc>,
    #[orm(updated_at)]
    updated_at: Option<DateTime<Utc>>,
}

fn note(id: i64, slug: &str, body: &str) -> Note {
    Note {
        id,
        slug: slug.to_owned(),
        body: body.to_owned(),
        created_at: DateTime::<Utc>::UNIX_EPOCH,
        updated_at: None,
    }
}

/// The stored row with key `id`.
async fn read(db: &Db, id: i64) -> polyorm::Result<Note> {
    Ok(Note::find(db, id).await?.expect("the row is stored"))
}

/// Whether `t` lies in `[from, now]` (MongoDB keeps milliseconds: `from` is rounded down).
fn between(t: DateTime<Utc>, from: DateTime<Utc>) -> bool {
    t >= from - Duration::milliseconds(1) && t <= Utc::now()
}

crate::suite! {
    async fn created_at_and_updated_at_are_set_by_inserts(db) {
        db.create_table::<Note>().await?;
        let t0 = Utc::now();
        let inserted = note(1, "a", "first").insert(db).await?;
        assert!(between(inserted.created_at, t0), "{inserted:?}");
        let first_update = inserted.updated_at.expect("updated_at set by insert");
        assert!(between(first_update, t0));
        assert_eq!(read(db, 1).await?, inserted);

        // A created_at given by the caller is kept (imports); updated_at is always now.
        let given: DateTime<Utc> = "2020-01-02T03:04:05Z".parse().unwrap();
        let imported = Note { created_at: given, ..note(2, "b", "old") }.insert(db).await?;
        assert_eq!(imported.created_at, given);
        assert!(between(imported.updated_at.unwrap(), t0));

        Note::insert_many(db, &[note(3, "c", "x"), note(4, "d", "y")]).await?;
        for id in [3, 4] {
            let row = read(db, id).await?;
            assert!(between(row.created_at, t0) && between(row.updated_at.unwrap(), t0));
        }

        Ok(())
    }

    #[needs_real_mongodb("nx-27017 stores a date written by $set as text (checked with pymongo)")]
    async fn updated_at_moves_on_update_update_many_and_upsert(db) {
        db.create_table::<Note>().await?;
        let t0 = Utc::now();
        let inserted = note(1, "a", "first").insert(db).await?;
        let given: DateTime<Utc> = "2020-01-02T03:04:05Z".parse().unwrap();
        let imported = Note { created_at: given, ..note(2, "b", "old") }.insert(db).await?;
        Note::insert_many(db, &[note(3, "c", "x"), note(4, "d", "y")]).await?;
        assert!(between(inserted.created_at, t0));

        // update(): updated_at moves, created_at stays.
        let t1 = Utc::now();
        let mut edited = read(db, 1).await?;
        edited.body = "edited".to_owned();
        edited.updated_at = None;
        edited.update(db).await?;
        let row = read(db, 1).await?;
        assert_eq!((row.body.as_str(), row.created_at), ("edited", inserted.created_at));
        assert!(between(row.updated_at.unwrap(), t1), "{row:?}");

        // update_many(): every matched row's updated_at, unless the update sets it.
        let t2 = Utc::now();
        assert_eq!(Note::update_many().set(Note::BODY, "bulk").filter(Note::ID.ge(3)).execute(db).await?, 2);
        for id in [3, 4] {
            let row = read(db, id).await?;
            assert_eq!(row.body, "bulk");
            assert!(between(row.updated_at.unwrap(), t2), "{row:?}");
        }
        let pinned: DateTime<Utc> = "2021-06-07T08:09:10Z".parse().unwrap();
        Note::update_many().set(Note::UPDATED_AT, Some(pinned)).filter(Note::ID.eq(4)).execute(db).await?;
        assert_eq!(read(db, 4).await?.updated_at, Some(pinned));
        // Rows the update does not match keep theirs.
        assert_eq!(read(db, 2).await?.updated_at, imported.updated_at);

        // upsert_many(): a conflict that updates the row also updates updated_at.
        let t3 = Utc::now();
        Note::upsert_many(db, &[note(10, "a", "upserted")], OnConflict::on(Note::SLUG).update(Note::BODY)).await?;
        let row = read(db, 1).await?;
        assert_eq!((row.body.as_str(), row.created_at), ("upserted", inserted.created_at));
        assert!(between(row.updated_at.unwrap(), t3), "{row:?}");
        assert_eq!(Note::query().count(db).await?, 4);
        Ok(())
    }
}
