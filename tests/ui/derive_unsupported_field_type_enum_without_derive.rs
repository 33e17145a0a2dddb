use polyorm::prelude::*;

enum Status {
    Active,
}

#[derive(Model)]
struct Account {
    #[orm(primary_key)]
    id: i64,
    status: Status,
}

fn main() {}
