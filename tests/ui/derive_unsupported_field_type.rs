use polyorm::prelude::*;

#[derive(Model)]
struct User {
    #[orm(primary_key)]
    id: i64,
    tags: std::collections::HashMap<String, String>,
}

fn main() {}
