use polyorm::prelude::*;

#[derive(Model)]
struct User {
    #[orm(primary_key, auto_increment)]
    id: String,
}

fn main() {}
