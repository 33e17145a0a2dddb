use polyorm::prelude::*;

#[derive(Model)]
struct User {
    #[orm(primary_key)]
    id: Option<i64>,
}

fn main() {}
