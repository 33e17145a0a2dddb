use polyorm::prelude::*;

#[derive(Model)]
#[orm(has_one(tag = through(PostTag)))]
#[orm(has_many(tags = through()))]
#[orm(has_many(labels = through("PostTag")))]
#[orm(has_many(topics = through(PostTag, Tag, Topic)))]
struct Post {
    #[orm(primary_key)]
    id: i64,
}

fn main() {}
