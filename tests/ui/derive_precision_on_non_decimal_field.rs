use polyorm::prelude::*;

#[derive(Model)]
struct Product {
    #[orm(primary_key)]
    id: i64,
    #[orm(precision = 10, scale = 2)]
    price: f64,
}

fn main() {}
