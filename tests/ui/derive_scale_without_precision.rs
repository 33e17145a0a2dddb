use polyorm::prelude::*;

#[derive(Model)]
struct Product {
    #[orm(primary_key)]
    id: i64,
    #[orm(scale = 2)]
    price: String,
    #[orm(precision = 40)]
    total: String,
}

fn main() {}
