use polyorm::prelude::*;

#[derive(Model)]
#[orm(has_many(tags = through(PostTag, String)))]
struct Post {
    #[orm(primary_key)]
    id: i64,
}

#[derive(Model)]
struct PostTag {
    #[orm(primary_key)]
    id: i64,
    #[orm(belongs_to = Post)]
    post_id: i64,
    tag: String,
}

fn main() {}
