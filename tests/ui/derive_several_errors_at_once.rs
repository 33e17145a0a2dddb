use polyorm::prelude::*;

#[derive(Model)]
#[orm(table = 5)]
struct User {
    #[orm(primary_key, colour = "red")]
    id: i64,
    #[orm(max_length = "long")]
    name: String,
}

fn main() {}
