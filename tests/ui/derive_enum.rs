use orm::prelude::*;

#[derive(Model)]
enum User {
    A,
}

fn main() {}
