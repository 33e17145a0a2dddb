use polyorm::prelude::*;

#[derive(Model)]
#[orm(has_many(posts = Post::AUTHOR_ID))]
struct User {
    #[orm(primary_key, auto_increment)]
    id: i64,
    age: i32,
}

#[derive(Model)]
struct Post {
    #[orm(primary_key, auto_increment)]
    id: i64,
    #[orm(belongs_to = User)]
    author_id: i64,
}

fn main() {
    // `exists_where` filters the children (posts), not the parents.
    let _ = User::query().filter(User::posts().exists_where(User::AGE.gt(30)));
}
