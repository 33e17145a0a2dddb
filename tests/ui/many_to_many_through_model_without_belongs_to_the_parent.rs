use polyorm::prelude::*;

#[derive(Model)]
#[orm(has_many(tags = through(PostTag, Tag)))]
struct Post {
    #[orm(primary_key)]
    id: i64,
}

#[derive(Model)]
struct Tag {
    #[orm(primary_key)]
    id: i64,
}

/// `post_id` holds a post's key but is not declared `belongs_to = Post`.
#[derive(Model)]
struct PostTag {
    #[orm(primary_key)]
    id: i64,
    post_id: i64,
    #[orm(belongs_to = Tag)]
    tag_id: i64,
}

fn main() {}
