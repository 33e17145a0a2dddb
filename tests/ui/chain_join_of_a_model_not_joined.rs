use polyorm::prelude::*;

#[derive(Model)]
#[orm(has_many(albums = Album::ARTIST_ID))]
struct Artist {
    #[orm(primary_key, auto_increment)]
    id: i64,
}

#[derive(Model)]
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
#[orm(has_many(tags = Tag::OWNER_ID))]
struct Owner {
    #[orm(primary_key, auto_increment)]
    id: i64,
}

#[derive(Model)]
struct Tag {
    #[orm(primary_key, auto_increment)]
    id: i64,
    #[orm(belongs_to = Owner)]
    owner_id: i64,
}

fn main() {
    // A relation of `Owner` cannot extend a chain that does not read `Owner`.
    let _ = Track::query()
        .inner_join(Track::album())
        .inner_join(Owner::tags());
}
