use polyorm::prelude::*;

#[derive(Model)]
struct User {
    #[orm(primary_key)]
    id: i64,
    #[orm(max_length = 10)]
    age: i32,
}

fn main() {}
