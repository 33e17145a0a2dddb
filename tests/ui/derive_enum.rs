use polyorm::prelude::*;

#[derive(Model)]
enum User {
    A,
}

fn main() {}
