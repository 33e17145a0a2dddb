use polyorm::prelude::*;

#[derive(Model)]
struct User;

fn main() {}
