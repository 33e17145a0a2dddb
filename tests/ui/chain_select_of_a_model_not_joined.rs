use polyorm::prelude::*;

#[derive(Model)]
struct Artist {
    #[orm(primary_key, auto_increment)]
    id: i64,
    name: String,
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

fn main() {
    // A right join of the album: `Artist` is not read, so its name cannot be selected.
    let _ = Track::query()
        .right_join(Track::album())
        .select((Track::ID, Artist::NAME));
}
