use polyorm::prelude::*;

#[derive(Model)]
struct User {
    #[orm(primary_key)]
    id: i64,
    name: String,
    #[orm(column = "name")]
    display_name: String,
}

fn main() {}
