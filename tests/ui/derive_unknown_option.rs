use polyorm::prelude::*;

#[derive(Model)]
struct User {
    #[orm(primary_key, primay)]
    id: i64,
}

fn main() {}
