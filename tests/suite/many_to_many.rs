//! Many-to-many through a join model: `has_many(tags = through(PostTag))`. Eager loading runs
//! two statements per level (join rows, then targets) for any number of parents, nests with
//! other relations, and skips soft-deleted join rows and targets; `exists` / `exists_where`
//! filter by the linked rows on every backend.

use chrono::{DateTime, Utc};
use polyorm::prelude::*;

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "mm_posts", has_many(tags = through(MmPostTag)))]
pub struct MmPost {
    #[orm(primary_key)]
    id: i64,
    #[orm(max_length = 40)]
    title: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "mm_categories")]
pub struct MmCategory {
    #[orm(primary_key)]
    id: i64,
    #[orm(max_length = 40)]
    name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "mm_tags", has_many(posts = through(MmPostTag, MmPost)))]
pub struct MmTag {
    #[orm(primary_key)]
    id: i64,
    #[orm(max_length = 40)]
    name: String,
    #[orm(belongs_to = MmCategory)]
    category_id: Option<i64>,
    #[orm(soft_delete)]
    deleted_at: Option<DateTime<Utc>>,
}

/// The join model: one `belongs_to` to each side (and soft delete, to unlink reversibly).
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "mm_post_tags", unique(post_id, tag_id))]
pub struct MmPostTag {
    #[orm(primary_key)]
    id: i64,
    #[orm(belongs_to = MmPost, on_delete = "cascade")]
    post_id: i64,
    #[orm(belongs_to = MmTag, on_delete = "cascade")]
    tag_id: i64,
    #[orm(soft_delete)]
    deleted_at: Option<DateTime<Utc>>,
}

fn post(id: i64, title: &str) -> MmPost {
    MmPost {
        id,
        title: title.into(),
    }
}

fn tag(id: i64, name: &str, category_id: Option<i64>) -> MmTag {
    MmTag {
        id,
        name: name.into(),
        category_id,
        deleted_at: None,
    }
}

fn link(id: i64, post_id: i64, tag_id: i64) -> MmPostTag {
    MmPostTag {
        id,
        post_id,
        tag_id,
        deleted_at: None,
    }
}

/// Posts 1–4 and tags rust(1), sql(2), async(3), old(4): post 1 has rust and async, post 2
/// async, rust and sql (linked in that order), post 3 none, post 4 sql and old.
async fn seed(db: &Db) -> polyorm::Result<()> {
    db.create_table::<MmCategory>().await?;
    db.create_table::<MmPost>().await?;
    db.create_table::<MmTag>().await?;
    db.create_table::<MmPostTag>().await?;
    MmCategory::insert_many(
        db,
        &[
            MmCategory {
                id: 1,
                name: "language".into(),
            },
            MmCategory {
                id: 2,
                name: "topic".into(),
            },
        ],
    )
    .await?;
    MmPost::insert_many(
        db,
        &[
            post(1, "intro"),
            post(2, "databases"),
            post(3, "empty"),
            post(4, "legacy"),
        ],
    )
    .await?;
    MmTag::insert_many(
        db,
        &[
            tag(1, "rust", Some(1)),
            tag(2, "sql", Some(1)),
            tag(3, "async", Some(2)),
            tag(4, "old", None),
        ],
    )
    .await?;
    MmPostTag::insert_many(
        db,
        &[
            link(1, 1, 1),
            link(2, 1, 3),
            link(3, 2, 3),
            link(4, 2, 1),
            link(5, 2, 2),
            link(6, 4, 2),
            link(7, 4, 4),
        ],
    )
    .await?;
    Ok(())
}

/// Each post's id with its tags' names, in the order loaded.
fn named(rows: &[(MmPost, Vec<MmTag>)]) -> Vec<(i64, Vec<&str>)> {
    rows.iter()
        .map(|(p, tags)| (p.id, tags.iter().map(|t| t.name.as_str()).collect()))
        .collect()
}

/// A tag's name with its category's, if any.
type TagAndCategory<'a> = (&'a str, Option<&'a str>);

fn ids(posts: &[MmPost]) -> Vec<i64> {
    posts.iter().map(|p| p.id).collect()
}

crate::suite! {
    async fn many_to_many_loads_every_posts_tags_in_two_statements(db) {
        seed(db).await?;
        let counting = crate::Counting::new(db);
        let posts = MmPost::query().order_by(MmPost::ID.asc()).with(MmPost::tags()).all(&counting).await?;
        assert_eq!(counting.take(), 3, "posts, join rows, tags: one statement each");
        assert_eq!(
            named(&posts),
            [(1, vec!["rust", "async"]), (2, vec!["async", "rust", "sql"]), (3, vec![]), (4, vec!["sql", "old"])],
            "each post's tags in the order they were linked; none for post 3"
        );
        assert_eq!(posts[0].1[0], tag(1, "rust", Some(1)), "whole rows are read back");
        assert_eq!(posts[3].1[1], tag(4, "old", None));

        // The other direction, with the target named: a tag on many posts.
        let tags = MmTag::query().order_by(MmTag::ID.asc()).with(MmTag::posts()).all(&counting).await?;
        assert_eq!(counting.take(), 3);
        let loaded: Vec<(i64, Vec<i64>)> = tags.iter().map(|(t, posts)| (t.id, ids(posts))).collect();
        assert_eq!(loaded, [(1, vec![1, 2]), (2, vec![2, 4]), (3, vec![1, 2]), (4, vec![4])]);
        assert_eq!(tags[1].1[1], post(4, "legacy"));

        // `optional` loads the relation of its one row.
        let (first, first_tags) = MmPost::query().filter(MmPost::ID.eq(2)).with(MmPost::tags()).optional(db).await?.expect("post 2");
        assert_eq!(first, post(2, "databases"));
        assert_eq!(first_tags.iter().map(|t| t.id).collect::<Vec<_>>(), [3, 1, 2]);
        Ok(())
    }

    async fn many_to_many_nests_and_combines_with_other_relations(db) {
        seed(db).await?;
        let counting = crate::Counting::new(db);
        let posts = MmPost::query()
            .filter(MmPost::ID.le(2))
            .order_by(MmPost::ID.asc())
            .with((MmPost::tags().with(MmTag::category()), MmPost::tags()))
            .all(&counting)
            .await?;
        assert_eq!(counting.take(), 1 + 3 + 2, "posts; join rows, tags, categories; join rows, tags");
        let categories: Vec<(i64, Vec<TagAndCategory<'_>>)> = posts
            .iter()
            .map(|(p, (tags, _))| {
                let tags = tags.iter().map(|(t, c)| (t.name.as_str(), c.as_ref().map(|c| c.name.as_str()))).collect();
                (p.id, tags)
            })
            .collect();
        assert_eq!(
            categories,
            [
                (1, vec![("rust", Some("language")), ("async", Some("topic"))]),
                (2, vec![("async", Some("topic")), ("rust", Some("language")), ("sql", Some("language"))]),
            ]
        );
        for (_, (nested, plain)) in &posts {
            let nested: Vec<&MmTag> = nested.iter().map(|(t, _)| t).collect();
            assert_eq!(nested, plain.iter().collect::<Vec<_>>(), "same tags with and without nesting");
        }
        Ok(())
    }

    async fn many_to_many_skips_soft_deleted_links_and_targets(db) {
        seed(db).await?;
        // Unlink sql from post 4 (the join row is soft-deleted) and delete the tag `old`.
        assert!(link(6, 4, 2).delete(db).await?);
        assert!(tag(4, "old", None).delete(db).await?);
        let posts = MmPost::query().order_by(MmPost::ID.asc()).with(MmPost::tags()).all(db).await?;
        assert_eq!(
            named(&posts),
            [(1, vec!["rust", "async"]), (2, vec!["async", "rust", "sql"]), (3, vec![]), (4, vec![])]
        );
        assert_eq!(ids(&MmPost::query().filter(MmPost::tags().exists()).order_by(MmPost::ID.asc()).all(db).await?), [1, 2]);
        assert_eq!(ids(&MmPost::query().filter(MmPost::tags().exists_where(MmTag::NAME.eq("old"))).all(db).await?), Vec::<i64>::new());
        let sql = MmTag::query().filter(MmTag::ID.eq(2)).with(MmTag::posts()).optional(db).await?.expect("tag 2");
        assert_eq!(ids(&sql.1), [2], "the unlinked post is gone from the tag's side too");
        Ok(())
    }

    async fn many_to_many_exists_filters_by_linked_rows(db) {
        seed(db).await?;
        let tagged = |name: &'static str| MmPost::tags().exists_where(MmTag::NAME.eq(name));
        assert_eq!(ids(&MmPost::query().filter(tagged("rust")).order_by(MmPost::ID.asc()).all(db).await?), [1, 2]);
        assert_eq!(ids(&MmPost::query().filter(tagged("sql")).order_by(MmPost::ID.asc()).all(db).await?), [2, 4]);
        assert_eq!(ids(&MmPost::query().filter(tagged("sql") & tagged("async")).all(db).await?), [2]);
        assert_eq!(ids(&MmPost::query().filter(tagged("nothing")).all(db).await?), Vec::<i64>::new());
        assert_eq!(ids(&MmPost::query().filter(MmPost::tags().exists()).order_by(MmPost::ID.asc()).all(db).await?), [1, 2, 4]);
        assert_eq!(ids(&MmPost::query().filter(!MmPost::tags().exists()).all(db).await?), [3], "NOT EXISTS: the post with no tags");
        assert_eq!(ids(&MmPost::query().filter(!tagged("rust")).order_by(MmPost::ID.asc()).all(db).await?), [3, 4]);
        let in_language = MmPost::tags().exists_where(MmTag::category().exists_where(MmCategory::NAME.eq("topic")));
        assert_eq!(ids(&MmPost::query().filter(in_language).order_by(MmPost::ID.asc()).all(db).await?), [1, 2], "a relation's exists inside");
        let tags = MmTag::query().filter(MmTag::posts().exists_where(MmPost::TITLE.eq("legacy"))).order_by(MmTag::ID.asc()).all(db).await?;
        assert_eq!(tags.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), ["sql", "old"]);
        assert_eq!(MmPost::query().filter(tagged("async")).count(db).await?, 2);
        Ok(())
    }
}
