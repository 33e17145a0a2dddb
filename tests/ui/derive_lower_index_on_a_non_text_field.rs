use polyorm::prelude::*;

#[derive(Model)]
#[orm(unique(lower(age)))]
struct User {
    #[orm(primary_key)]
    id: i64,
    age: i32,
}

fn main() {}
