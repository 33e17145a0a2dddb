use polyorm::prelude::*;

#[derive(Model)]
#[orm(has_many(albums = Album::ARTIST_ID))]
struct Artist {
    #[orm(primary_key, auto_increment)]
    id: i64,
    name: String,
}

#[derive(Model)]
#[orm(has_many(tracks = Track::ALBUM_ID))]
struct Album {
    #[orm(primary_key, auto_increment)]
    id: i64,
    #[orm(belongs_to = Artist)]
    artist_id: i64,
}

#[derive(Model)]
struct Track {
    #[orm(primary_key, auto_increment)]
    id: i64,
    #[orm(belongs_to = Album)]
    album_id: i64,
}

#[derive(Model)]
struct Tag {
    #[orm(primary_key, auto_increment)]
    id: i64,
    label: String,
}

fn main() {
    // Track ⋈ album ⋈ artist reads no `Tag`: its column can neither filter nor be selected.
    let chain = Track::query()
        .inner_join(Track::album())
        .inner_join(Album::artist());
    let _ = chain.filter(Tag::LABEL.eq("live"));
}
