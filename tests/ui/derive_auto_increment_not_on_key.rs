use polyorm::prelude::*;

#[derive(Model)]
struct User {
    #[orm(primary_key)]
    id: i64,
    #[orm(auto_increment)]
    counter: i64,
}

fn main() {}
