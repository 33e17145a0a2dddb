use polyorm::prelude::*;

#[derive(Model)]
struct User {
    #[orm(primary_key)]
    id: i64,
    #[orm(primary_key)]
    email: String,
}

fn main() {}
