use polyorm::prelude::*;

#[derive(Model)]
struct User {
    #[orm(primary_key, auto_increment)]
    id: i64,
    name: String,
    age: i32,
    score: f64,
    nickname: Option<String>,
}

#[derive(Model)]
struct Post {
    #[orm(primary_key, auto_increment)]
    id: i64,
    title: String,
}

fn main() {
    // Post is not in the query: its column cannot be an operand of an expression over User.
    let _ = User::query().select((User::AGE * Post::ID,));
}
