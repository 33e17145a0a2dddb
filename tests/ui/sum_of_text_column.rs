use polyorm::prelude::*;

#[derive(Model)]
struct User {
    #[orm(primary_key, auto_increment)]
    id: i64,
    name: String,
    age: i32,
    nickname: Option<String>,
}

fn main() {
    let _ = User::query().select((User::NAME.sum(),));
}
