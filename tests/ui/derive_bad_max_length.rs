use polyorm::prelude::*;

#[derive(Model)]
struct User {
    #[orm(primary_key)]
    id: i64,
    #[orm(max_length = 0)]
    name: String,
}

fn main() {}
