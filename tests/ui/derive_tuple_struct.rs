use polyorm::prelude::*;

#[derive(Model)]
struct User(i64, String);

fn main() {}
