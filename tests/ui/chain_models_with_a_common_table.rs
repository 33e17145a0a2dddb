use polyorm::prelude::*;

#[derive(Model)]
struct Album {
    #[orm(primary_key, auto_increment)]
    id: i64,
    title: String,
}

#[derive(Model)]
struct Track {
    #[orm(primary_key, auto_increment)]
    id: i64,
    album_id: i64,
    ms: i64,
}

async fn run(db: &Db) -> polyorm::Result<()> {
    let lengths = Track::query()
        .select((Track::ALBUM_ID, Track::MS.sum()))
        .group_by(Track::ALBUM_ID)
        .cte("album_length");
    let (album, _) = lengths.columns();
    // A common table is no model: a chain joining one selects its columns.
    let _ = Album::query()
        .join_cte(Inner, &lengths, album, Album::ID)
        .all(db)
        .await?;
    Ok(())
}

fn main() {
    let _ = run;
}
