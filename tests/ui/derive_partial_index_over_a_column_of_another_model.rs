use polyorm::prelude::*;

#[derive(Model)]
struct Post {
    #[orm(primary_key)]
    id: i64,
    title: String,
}

#[derive(Model)]
#[orm(index(email, where = Post::TITLE.ne("")))]
struct User {
    #[orm(primary_key)]
    id: i64,
    email: String,
}

fn main() {}
