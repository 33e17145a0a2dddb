use polyorm::prelude::*;

#[derive(Model)]
#[orm(has_many(tags = through(Tag)))]
struct Post {
    #[orm(primary_key)]
    id: i64,
}

/// Not a join model: no `belongs_to` at all.
#[derive(Model)]
struct Tag {
    #[orm(primary_key)]
    id: i64,
}

fn main() {}
