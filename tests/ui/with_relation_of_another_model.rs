use polyorm::prelude::*;

#[derive(Model)]
#[orm(has_many(posts = Post::AUTHOR_ID))]
struct User {
    #[orm(primary_key, auto_increment)]
    id: i64,
}

#[derive(Model)]
#[orm(has_many(comments = Comment::POST_ID))]
struct Post {
    #[orm(primary_key, auto_increment)]
    id: i64,
    #[orm(belongs_to = User)]
    author_id: i64,
    title: String,
}

#[derive(Model)]
struct Comment {
    #[orm(primary_key, auto_increment)]
    id: i64,
    #[orm(belongs_to = Post)]
    post_id: i64,
}

fn main() {
    let _ = User::query().with(Post::comments());
}
