use polyorm::prelude::*;

#[derive(Model)]
#[orm(index(tags, method = "fulltext"))]
#[orm(unique(tags, method = "gin"))]
#[orm(index(email, tier, method = "hash"))]
#[orm(index(desc(email), method = "gin"))]
#[orm(index(email, method = "hash", include(tier), name = "idx_hash_include"))]
#[orm(index(email, include(tier, missing)))]
#[orm(index(email, include(email), name = "idx_include_key"))]
#[orm(index(upper(email)))]
struct User {
    #[orm(primary_key)]
    id: i64,
    email: String,
    tier: String,
    tags: String,
}

fn main() {}
