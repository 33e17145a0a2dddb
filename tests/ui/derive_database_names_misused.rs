use polyorm::prelude::*;

// `fk_name` names the foreign key of `belongs_to`: without one there is nothing to name.
#[derive(Model)]
struct Post {
    #[orm(primary_key)]
    id: i64,
    #[orm(fk_name = "posts_author_id_fkey")]
    author_id: i64,
}

// A name is one non-empty string.
#[derive(Model)]
#[orm(unique(a, b, name = 7), index(a, name = ""))]
struct Pair {
    #[orm(primary_key)]
    id: i64,
    a: i64,
    b: i64,
}

// A field's index name is a string, and a primary key takes no name.
#[derive(Model)]
#[orm(primary_key(x, y, name = "pairs_pkey"))]
struct Keyed {
    x: i64,
    #[orm(unique = 3)]
    y: i64,
}

fn main() {}
