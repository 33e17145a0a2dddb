use polyorm::prelude::*;

#[derive(Model)]
struct User {
    #[orm(primary_key, primary_key)]
    id: i64,
}

fn main() {}
