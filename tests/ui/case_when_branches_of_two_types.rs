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
    // Every branch of a CASE has one type.
    let _ = User::query().select((case_when(User::AGE.lt(18), "minor").otherwise(1),));
}
