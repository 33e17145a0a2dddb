#[derive(orm::SqlType)]
struct Tags(Vec<String>);

fn main() {}
