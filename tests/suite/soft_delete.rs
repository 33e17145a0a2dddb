//! `#[orm(soft_delete)]`: `delete` and `delete_many` set the column instead of removing the
//! row; every query of the model (find, all, count, exists, a parent's eager loading of it)
//! skips deleted rows; `with_deleted()` / `only_deleted()` read them; `restore` brings one
//! back; `hard_delete` / `delete_many().hard()` remove rows for good.

use chrono::{DateTime, Utc};
use polyorm::prelude::*;

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "sd_folders", has_many(notes = Note::FOLDER_ID))]
pub struct Folder {
    #[orm(primary_key)]
    id: i64,
    #[orm(max_length = 20)]
    name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "sd_notes")]
pub struct Note {
    #[orm(primary_key)]
    id: i64,
    #[orm(belongs_to = Folder)]
    folder_id: i64,
    #[orm(max_length = 20)]
    title: String,
    #[orm(soft_delete)]
    deleted_at: Option<DateTime<Utc>>,
}

fn note(id: i64, folder_id: i64, title: &str) -> Note {
    Note {
        id,
        folder_id,
        title: title.to_owned(),
        deleted_at: None,
    }
}

fn ids(notes: &[Note]) -> Vec<i64> {
    let mut ids: Vec<i64> = notes.iter().map(|n| n.id).collect();
    ids.sort_unstable();
    ids
}

crate::suite! {
    async fn soft_deleted_rows_are_hidden_from_every_query_until_restored(db) {
        db.create_table::<Folder>().await?;
        db.create_table::<Note>().await?;
        Folder { id: 1, name: "work".into() }.insert(db).await?;
        Folder { id: 2, name: "home".into() }.insert(db).await?;
        Note::insert_many(db, &[note(1, 1, "a"), note(2, 1, "b"), note(3, 1, "c"), note(4, 2, "d")]).await?;

        // `delete` sets the column: the row stays, every query skips it.
        assert!(note(2, 1, "b").delete(db).await?, "one row was soft-deleted");
        assert!(!note(2, 1, "b").delete(db).await?, "deleting it again changes nothing");
        assert_eq!(Note::find(db, 2).await?, None);
        assert_eq!(ids(&Note::query().all(db).await?), [1, 3, 4]);
        assert_eq!(Note::query().count(db).await?, 3);
        assert_eq!(Note::query().filter(Note::TITLE.eq("b")).count(db).await?, 0);

        // `delete_many` soft-deletes what its filter matches among the live rows.
        assert_eq!(Note::delete_many().filter(Note::FOLDER_ID.eq(2)).execute(db).await?, 1);
        assert_eq!(ids(&Note::query().all(db).await?), [1, 3]);

        // A parent's eager loading and `exists` skip deleted children.
        let folders = Folder::query().with(Folder::notes()).all(db).await?;
        let mut loaded: Vec<(i64, Vec<i64>)> = folders.iter().map(|(f, notes)| (f.id, ids(notes))).collect();
        loaded.sort_unstable();
        assert_eq!(loaded, [(1, vec![1, 3]), (2, vec![])]);
        assert_eq!(Folder::query().filter(Folder::notes().exists()).count(db).await?, 1);

        // `with_deleted` counts every row, `only_deleted` the deleted ones.
        assert_eq!(Note::query().with_deleted().count(db).await?, 4);
        assert_eq!(Note::query().only_deleted().count(db).await?, 2);
        assert_eq!(Note::query().only_deleted().filter(Note::TITLE.eq("d")).count(db).await?, 1);
        assert_eq!(Note::query().filter(Note::TITLE.eq("d")).with_deleted().count(db).await?, 1);

        // `restore` brings a row back.
        assert!(note(2, 1, "b").restore(db).await?);
        assert_eq!(Note::find(db, 2).await?, Some(note(2, 1, "b")));
        assert!(!note(1, 1, "a").restore(db).await?, "a live row has nothing to restore");

        // Hard deletes remove rows for good, deleted or not.
        assert!(note(3, 1, "c").hard_delete(db).await?);
        assert_eq!(Note::delete_many().hard().filter(Note::ID.eq(4)).execute(db).await?, 1);
        assert_eq!(Note::query().with_deleted().count(db).await?, 2);
        assert_eq!(ids(&Note::query().all(db).await?), [1, 2]);
        Ok(())
    }

    #[needs_real_mongodb("nx-27017 stores a date written by $set as text (checked with pymongo)")]
    async fn soft_deleted_rows_are_read_back_with_their_deletion_time(db) {
        db.create_table::<Folder>().await?;
        db.create_table::<Note>().await?;
        Folder { id: 1, name: "work".into() }.insert(db).await?;
        Note::insert_many(db, &[note(1, 1, "a"), note(2, 1, "b"), note(3, 1, "c")]).await?;
        let before = Utc::now();
        assert_eq!(Note::delete_many().filter(Note::ID.ge(2)).execute(db).await?, 2);

        assert_eq!(ids(&Note::query().with_deleted().all(db).await?), [1, 2, 3]);
        let deleted = Note::query().only_deleted().all(db).await?;
        assert_eq!(ids(&deleted), [2, 3]);
        for n in &deleted {
            let at = n.deleted_at.expect("the deletion time is stored");
            assert!((at - before).num_seconds().abs() < 120, "{n:?}");
        }
        // A row read back deleted is restored as it is.
        assert!(deleted[0].restore(db).await?);
        assert_eq!(ids(&Note::query().all(db).await?), [1, deleted[0].id]);
        Ok(())
    }
}
