use polyorm::prelude::*;

#[derive(Model)]
struct User<T> {
    #[orm(primary_key)]
    id: i64,
    extra: T,
}

fn main() {}
