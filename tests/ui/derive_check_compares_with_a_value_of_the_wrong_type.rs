use polyorm::prelude::*;

#[derive(Model)]
#[orm(check(adult = Self::AGE.ge("18")))]
struct User {
    #[orm(primary_key)]
    id: i64,
    age: i32,
}

fn main() {}
