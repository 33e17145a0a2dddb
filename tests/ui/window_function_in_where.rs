use polyorm::prelude::*;

#[derive(Model)]
struct Track {
    #[orm(primary_key, auto_increment)]
    id: i64,
    genre: String,
    ms: i64,
}

fn main() {
    // SQL computes a window function after WHERE: it has no comparisons to filter with.
    let _ = Track::query().filter(
        row_number()
            .partition_by(Track::GENRE)
            .order_by(Track::MS.desc())
            .le(2),
    );
}
