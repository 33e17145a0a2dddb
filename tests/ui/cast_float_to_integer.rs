use polyorm::prelude::*;

#[derive(Model)]
struct User {
    #[orm(primary_key, auto_increment)]
    id: i64,
    name: String,
    age: i32,
    score: f64,
    nickname: Option<String>,
}

fn main() {
    // A float cast to an integer rounds differently per dialect.
    let _ = User::query().select((User::SCORE.cast::<i64>(),));
}
