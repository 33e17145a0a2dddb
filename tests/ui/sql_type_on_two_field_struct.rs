#[derive(polyorm::SqlType)]
struct Pair(String, i64);

fn main() {}
