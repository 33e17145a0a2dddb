use polyorm::prelude::*;

#[derive(Model)]
#[orm(has_many(posts = Post::AUTHOR_ID))]
struct User {
    #[orm(primary_key, auto_increment)]
    id: i64,
    name: String,
}

#[derive(Model)]
struct Post {
    #[orm(primary_key, auto_increment)]
    id: i64,
    #[orm(belongs_to = User)]
    author_id: i64,
    title: String,
}

fn main() {
    // The subquery selects text; the column holds integers.
    let titles = Post::query().select_column(Post::TITLE);
    let _ = User::query().filter(User::ID.in_subquery(titles));
}
