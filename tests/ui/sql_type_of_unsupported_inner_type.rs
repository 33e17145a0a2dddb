#[derive(polyorm::SqlType)]
struct Tags(Vec<String>);

fn main() {}
