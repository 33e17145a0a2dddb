use polyorm::prelude::*;

#[derive(Model)]
struct User {
    #[orm(primary_key)]
    id: i64,
    #[orm(collation = "C\" ; DROP TABLE users")]
    name: String,
}

fn main() {}
