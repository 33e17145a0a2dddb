use polyorm::prelude::*;

#[derive(Model)]
#[orm(index(email, where = Self::AGE.ge("18")))]
struct User {
    #[orm(primary_key)]
    id: i64,
    email: String,
    age: i32,
}

fn main() {}
