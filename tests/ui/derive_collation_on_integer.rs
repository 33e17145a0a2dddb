use polyorm::prelude::*;

#[derive(Model)]
struct User {
    #[orm(primary_key)]
    id: i64,
    #[orm(collation = "utf8mb4_unicode_ci")]
    age: i32,
}

fn main() {}
