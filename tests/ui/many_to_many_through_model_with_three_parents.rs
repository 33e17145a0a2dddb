use polyorm::prelude::*;

#[derive(Model)]
#[orm(has_many(tags = through(PostTag)))]
struct Post {
    #[orm(primary_key)]
    id: i64,
}

#[derive(Model)]
struct Tag {
    #[orm(primary_key)]
    id: i64,
}

#[derive(Model)]
struct User {
    #[orm(primary_key)]
    id: i64,
}

/// Three `belongs_to` fields: `through(PostTag)` cannot tell which one leads to the target
/// (`through(PostTag, Tag)` can).
#[derive(Model)]
struct PostTag {
    #[orm(primary_key)]
    id: i64,
    #[orm(belongs_to = Post)]
    post_id: i64,
    #[orm(belongs_to = Tag)]
    tag_id: i64,
    #[orm(belongs_to = User)]
    added_by_id: i64,
}

fn main() {}
