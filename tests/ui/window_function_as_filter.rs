use polyorm::prelude::*;

#[derive(Model)]
struct Track {
    #[orm(primary_key, auto_increment)]
    id: i64,
    genre: String,
    ms: i64,
}

fn main() {
    // A window is no filter, nor a grouping key: select it, then filter through `derived()`.
    let _ = Track::query().filter(row_number().order_by(Track::MS.desc()));
    let _ = Track::query()
        .select((Track::GENRE, count_all()))
        .group_by(rank().order_by(Track::MS.desc()));
}
