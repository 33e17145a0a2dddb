use polyorm::prelude::*;

#[derive(Model)]
struct Post {
    #[orm(primary_key)]
    id: i64,
    title: String,
}

#[derive(Model)]
struct User {
    #[orm(primary_key)]
    id: i64,
    #[orm(check = Post::TITLE.ne(""))]
    name: String,
}

fn main() {}
