use polyorm::prelude::*;

#[derive(Model)]
#[orm(has_many(posts = Post::AUTHOR_ID))]
struct User {
    #[orm(primary_key, auto_increment)]
    id: i64,
}

#[derive(Model)]
struct Post {
    #[orm(primary_key, auto_increment)]
    id: i64,
    #[orm(belongs_to = User)]
    author_id: i64,
}

#[derive(Model)]
struct Tag {
    #[orm(primary_key, auto_increment)]
    id: i64,
    label: String,
}

fn main() {
    let _ = User::query().inner_join(User::posts()).filter_joined(Tag::LABEL.eq("x"));
}
