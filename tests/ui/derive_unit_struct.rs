use orm::prelude::*;

#[derive(Model)]
struct User;

fn main() {}
