//! Quick start: two models on embedded SQLite (or on `DATABASE_URL` if set), their tables
//! created by a migration generated from the models.
//!
//! ```sh
//! cargo run --example quickstart
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo run --example quickstart
//! ```

use polyorm::migrate::{GenerateOptions, Migrator, Schema};
use polyorm::prelude::*;

/// A writer.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "qs_authors")]
struct Author {
    #[orm(primary_key, auto_increment)]
    id: i64,
    #[orm(unique, max_length = 100)]
    email: String,
    name: String,
    bio: Option<String>,
}

/// A post by an author.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "qs_posts", index(author_id, published))]
struct Post {
    #[orm(primary_key, auto_increment)]
    id: i64,
    #[orm(belongs_to = Author, on_delete = "cascade")]
    author_id: i64,
    #[orm(max_length = 200)]
    title: String,
    #[orm(default = false)]
    published: bool,
    views: i32,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite::memory:".to_owned());
    let db = Db::connect(&url).await?;
    println!("connected to {} ({url})", db.backend());

    // The tables come from the models: write a migration for this database's dialect
    // (nothing is written when the files already match the models) and apply what is pending.
    let dir = std::env::temp_dir().join(format!("orm-quickstart-{}", db.backend()));
    let schema = Schema::from_models([Author::schema(), Post::schema()]);
    let migrator = Migrator::new(db.clone(), &dir, schema)?;
    let (generated, applied) = migrator
        .dev("create_blog", &GenerateOptions::default())
        .await?;
    if let Some(generated) = generated {
        let up = std::fs::read_to_string(generated.dir.join("up.sql"))?;
        println!("generated {}:\n{up}", generated.dir.display());
    }
    println!("applied migrations: {applied:?}");
    // Start from empty tables so the example can run again on a server database.
    Post::delete_many().execute(&db).await?;
    Author::delete_many().execute(&db).await?;

    let ada = Author {
        id: 0,
        email: "ada@example.com".into(),
        name: "Ada".into(),
        bio: None,
    }
    .insert(&db)
    .await?;
    let alan = Author {
        id: 0,
        email: "alan@example.com".into(),
        name: "Alan".into(),
        bio: Some("Computing machinery".into()),
    }
    .insert(&db)
    .await?;
    println!(
        "inserted authors #{} {} and #{} {}",
        ada.id, ada.name, alan.id, alan.name
    );

    let posts = [
        (ada.id, "Notes on the Analytical Engine", true, 1843),
        (ada.id, "Bernoulli numbers, step by step", true, 977),
        (alan.id, "On Computable Numbers", true, 1936),
        (alan.id, "Draft: the imitation game", false, 12),
    ]
    .map(|(author_id, title, published, views)| Post {
        id: 0,
        author_id,
        title: title.into(),
        published,
        views,
    });
    let n = Post::insert_many(&db, &posts).await?;
    println!("inserted {n} posts in one statement");

    let popular = Post::query()
        .filter(Post::PUBLISHED.eq(true) & Post::VIEWS.gt(1000))
        .order_by(Post::VIEWS.desc())
        .all(&db)
        .await?;
    println!("\npublished posts with more than 1000 views, most viewed first:");
    for p in &popular {
        println!("  {:>5} views  {}", p.views, p.title);
    }

    let by_ada = Post::query()
        .filter(Post::AUTHOR_ID.eq(ada.id))
        .count(&db)
        .await?;
    let drafts = Post::query()
        .filter(Post::PUBLISHED.eq(false))
        .exists(&db)
        .await?;
    println!("\nAda wrote {by_ada} posts; any drafts left: {drafts}");

    let matching = Post::query()
        .filter(Post::TITLE.ilike("%NUMBERS%"))
        .all(&db)
        .await?;
    let titles: Vec<&str> = matching.iter().map(|p| p.title.as_str()).collect();
    println!("titles containing \"numbers\" (any case): {titles:?}");

    let mut alan = Author::find(&db, alan.id)
        .await?
        .expect("Alan was just inserted");
    alan.bio = Some("Mathematician, codebreaker".into());
    alan.update(&db).await?;
    println!(
        "\nupdated Alan's bio: {:?}",
        Author::find(&db, alan.id).await?.and_then(|a| a.bio)
    );

    let published = Post::update_many()
        .set(Post::PUBLISHED, true)
        .filter(Post::PUBLISHED.eq(false))
        .execute(&db)
        .await?;
    println!("published {published} draft(s)");

    let removed = Post::delete_many()
        .filter(Post::VIEWS.lt(100))
        .execute(&db)
        .await?;
    println!("deleted {removed} post(s) with fewer than 100 views");

    match (Author {
        id: 0,
        email: "ada@example.com".into(),
        name: "Ada II".into(),
        bio: None,
    })
    .insert(&db)
    .await
    {
        Err(e @ polyorm::Error::UniqueViolation { .. }) => {
            println!("\nduplicate email refused: {e}")
        }
        other => println!("\nunexpected result for a duplicate email: {other:?}"),
    }

    println!("\nall posts now:");
    for p in Post::query().order_by(Post::ID.asc()).all(&db).await? {
        println!(
            "  #{} by author {}: {} ({} views)",
            p.id, p.author_id, p.title, p.views
        );
    }
    Ok(())
}
