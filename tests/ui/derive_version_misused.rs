// `version` needs an integer field, and a model has one.
use polyorm::prelude::*;

#[derive(Model)]
struct Account {
    #[orm(primary_key)]
    id: i64,
    #[orm(version)]
    version: String,
}

#[derive(Model)]
struct Ledger {
    #[orm(primary_key)]
    id: i64,
    #[orm(version)]
    a: i32,
    #[orm(version)]
    b: i32,
}

fn main() {}
