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
    // A grouped select of `User` cannot group by a column of `Tag`.
    let _ = User::query().select((count_all(),)).group_by(Tag::LABEL);
}
