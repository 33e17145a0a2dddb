use polyorm::prelude::*;

#[derive(Model)]
#[orm(check = Self::AGE.ge(0))]
#[orm(check(age = Self::AGE.ge(0)))]
#[orm(check(positive = Self::AGE.ge(0), positive = Self::AGE.le(200)))]
struct User {
    #[orm(primary_key)]
    id: i64,
    #[orm(check(Self::AGE.ge(0)))]
    age: i32,
}

fn main() {}
