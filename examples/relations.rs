//! Relations, eager loading, aggregates, upserts and transactions on embedded SQLite (or on
//! `DATABASE_URL`).
//!
//! ```sh
//! cargo run --example relations
//! ```

use polyorm::migrate::{GenerateOptions, Migrator, Schema};
use polyorm::prelude::*;

/// A blog author.
#[derive(Model, Debug, Clone)]
#[orm(table = "rel_authors", has_many(posts = Post::AUTHOR_ID))]
struct Author {
    #[orm(primary_key, auto_increment)]
    id: i64,
    #[orm(unique, max_length = 60)]
    handle: String,
}

/// A post, with its comments.
#[derive(Model, Debug, Clone)]
#[orm(table = "rel_posts", has_many(comments = Comment::POST_ID))]
struct Post {
    #[orm(primary_key, auto_increment)]
    id: i64,
    #[orm(belongs_to = Author, on_delete = "cascade")]
    author_id: i64,
    title: String,
    views: i32,
}

/// A comment on a post.
#[derive(Model, Debug, Clone)]
#[orm(table = "rel_comments")]
struct Comment {
    #[orm(primary_key, auto_increment)]
    id: i64,
    #[orm(belongs_to = Post, on_delete = "cascade")]
    post_id: i64,
    body: String,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite::memory:".to_owned());
    let db = Db::connect(&url).await?;
    // Tables from a migration generated from the models (see the quickstart), emptied so that
    // the example can run again on a server database.
    let dir = std::env::temp_dir().join(format!("orm-relations-{}", db.backend()));
    let schema = Schema::from_models([Author::schema(), Post::schema(), Comment::schema()]);
    Migrator::new(db.clone(), &dir, schema)?
        .dev("create_blog", &GenerateOptions::default())
        .await?;
    Author::delete_many().execute(&db).await?;

    // Everything below commits together, or not at all.
    db.transaction(|tx| async move {
        for handle in ["ada", "alan", "grace"] {
            let author = Author {
                id: 0,
                handle: handle.into(),
            }
            .insert(&tx)
            .await?;
            for n in 1..=2 {
                let title = format!("{handle}'s post #{n}");
                let post = Post {
                    id: 0,
                    author_id: author.id,
                    title,
                    views: 10 * n,
                }
                .insert(&tx)
                .await?;
                let comments: Vec<Comment> = (1..=n)
                    .map(|c| Comment {
                        id: 0,
                        post_id: post.id,
                        body: format!("comment {c}"),
                    })
                    .collect();
                Comment::insert_many(&tx, &comments).await?;
            }
        }
        Ok::<_, polyorm::Error>(())
    })
    .await?;

    println!("authors → posts → comments, three queries in all:");
    let tree = Author::query()
        .order_by(Author::HANDLE.asc())
        .with(Author::posts().with(Post::comments()))
        .all(&db)
        .await?;
    for (author, posts) in &tree {
        println!("  @{}", author.handle);
        for (post, comments) in posts {
            println!(
                "    {} ({} views, {} comments)",
                post.title,
                post.views,
                comments.len()
            );
        }
    }

    println!("\nposts with their author (many-to-one):");
    for (post, author) in Post::query()
        .order_by(Post::ID.asc())
        .limit(3)
        .with(Post::author())
        .all(&db)
        .await?
    {
        let handle = author.map_or_else(|| "?".to_owned(), |a| a.handle);
        println!("  {:<22} by @{handle}", post.title);
    }

    Post::update_many()
        .set(Post::VIEWS, Post::VIEWS + 5)
        .filter(Post::TITLE.contains("#2"))
        .execute(&db)
        .await?;
    let stats = Post::query()
        .select((
            Post::AUTHOR_ID,
            count_all(),
            Post::VIEWS.sum(),
            Post::VIEWS.avg(),
        ))
        .group_by(Post::AUTHOR_ID)
        .order_by(Post::AUTHOR_ID.asc())
        .all(&db)
        .await?;
    println!("\nper author: (author id, posts, total views, average views)");
    for row in stats {
        println!("  {row:?}");
    }

    let renamed = [
        Author {
            id: 0,
            handle: "ada".into(),
        },
        Author {
            id: 0,
            handle: "linus".into(),
        },
    ];
    Author::upsert_many(&db, &renamed, OnConflict::on(Author::HANDLE).do_nothing()).await?;
    println!(
        "\nafter an upsert that skips existing handles: {} authors",
        Author::query().count(&db).await?
    );

    let grace = Author::query()
        .filter(Author::HANDLE.eq("grace"))
        .one(&db)
        .await?;
    grace.delete(&db).await?;
    println!(
        "deleting @grace cascades: {} posts and {} comments left",
        Post::query().count(&db).await?,
        Comment::query().count(&db).await?
    );
    Ok(())
}
