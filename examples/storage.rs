//! Object storage: a user with an avatar `Blob`, uploaded with a progress bar, served by a
//! presigned URL.
//!
//! ```sh
//! cargo run --example storage --features storage                      # local directory
//! STORAGE_URL=s3://my-bucket/avatars cargo run --example storage --features storage
//! ```
//!
//! With an `s3://`, `gs://` or `az://` URL, credentials come from the environment
//! (`AWS_ACCESS_KEY_ID`, `AWS_ENDPOINT` for an S3-compatible server, `GOOGLE_SERVICE_ACCOUNT`,
//! `AZURE_STORAGE_ACCOUNT_NAME`, …). A local store cannot presign: the example prints the
//! error it gets instead.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use polyorm::prelude::*;
use polyorm::storage::{Blob, Storage, StoreBuilder, Sweeper, UploadOptions};

/// A user whose avatar lives in the object store; the row holds its description (store,
/// key, size, content type, SHA-256, ETag) as JSON.
#[derive(Model, Debug, Clone)]
#[orm(table = "storage_users")]
struct User {
    #[orm(primary_key, auto_increment)]
    id: i64,
    name: String,
    avatar: Option<Blob>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("polyorm-storage-example-{}", std::process::id()));
    let url = std::env::var("STORAGE_URL").unwrap_or_else(|_| format!("file://{}", dir.display()));
    let storage = Storage::new().with_store(
        StoreBuilder::new("avatars", url)
            .part_size(5 << 20)
            .concurrency(4)
            .build()?,
    );
    let db = Db::connect("sqlite::memory:").await?;
    db.create_table::<User>().await?;

    // Upload first, with a progress bar...
    let image: Vec<u8> = (0..12u32 << 20).map(|i| (i % 251) as u8).collect();
    let bar = ProgressBar::new(image.len() as u64).with_style(
        ProgressStyle::with_template("{msg} [{bar:40}] {bytes}/{total_bytes} ({bytes_per_sec})")?
            .progress_chars("=> "),
    );
    bar.set_message("avatar");
    let progress = bar.clone();
    let avatar = storage
        .store("avatars")?
        .upload_bytes(
            "users/ada.png",
            image,
            UploadOptions::new()
                .content_type("image/png")
                .on_progress(move |p| progress.set_position(p.sent)),
        )
        .await?;
    bar.finish();

    // ...then commit the row. A crash in between leaves an orphan for the sweeper.
    let ada = User {
        id: 0,
        name: "Ada".into(),
        avatar: Some(avatar),
    }
    .insert(&db)
    .await?;
    let avatar = ada.avatar.as_ref().expect("just set");
    println!("stored {} bytes, sha256 {}", avatar.size, avatar.sha256);

    match storage
        .presigned_get(avatar, Duration::from_secs(600))
        .await
    {
        Ok(url) => println!("download for 10 minutes: {url}"),
        Err(e) => println!("no presigned URL: {e}"),
    }

    let report = Sweeper::new(storage.store("avatars")?.clone())
        .references(User::AVATAR)
        .run(&db)
        .await?;
    println!(
        "sweeper: {} objects, {} referenced",
        report.listed, report.referenced
    );

    // Deleting the row deletes the object, after the deletion committed.
    storage
        .delete_row(&db, &ada, |u| u.avatar.iter().collect())
        .await?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
