use polyorm::prelude::*;

#[derive(Model)]
struct User {
    #[orm(primary_key, auto_increment)]
    id: i64,
    name: String,
    age: i32,
    nickname: Option<String>,
}

#[derive(Model)]
struct Post {
    #[orm(primary_key, auto_increment)]
    id: i64,
    title: String,
}

fn main() {
    let _ = User::query().filter(Post::TITLE.eq("x"));
}
