use polyorm::prelude::*;

#[derive(Model)]
#[orm(primary_key(id, missing))]
struct User {
    id: i64,
    name: String,
}

fn main() {}
