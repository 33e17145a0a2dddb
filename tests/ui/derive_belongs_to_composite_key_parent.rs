use polyorm::prelude::*;

#[derive(Model)]
struct User {
    #[orm(primary_key)]
    id: i64,
}

#[derive(Model)]
#[orm(primary_key(a, b))]
struct Pair {
    a: i64,
    b: i64,
}

#[derive(Model)]
struct Post {
    #[orm(primary_key)]
    id: i64,
    #[orm(belongs_to = Pair)]
    pair_a: i64,
}

fn main() {}
