use polyorm::prelude::*;

// A partial index's condition is a filter of the model, not SQL text.
#[derive(Model)]
#[orm(index(email, where = "email IS NOT NULL"))]
struct User {
    #[orm(primary_key)]
    id: i64,
    email: Option<String>,
}

fn main() {}
