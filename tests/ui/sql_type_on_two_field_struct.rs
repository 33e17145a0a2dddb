#[derive(orm::SqlType)]
struct Pair(String, i64);

fn main() {}
