use polyorm::prelude::*;

#[derive(Model)]
struct User {
    #[orm(primary_key)]
    id: i64,
    #[orm(default = "yes")]
    active: bool,
}

fn main() {}
