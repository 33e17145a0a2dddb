use polyorm::prelude::*;

#[derive(SqlEnum, Debug, Clone, Copy, PartialEq)]
#[orm(rename_all = "snake_case")]
enum Status {
    Active,
    OnHold,
}

#[derive(Model)]
struct Account {
    #[orm(primary_key)]
    id: i64,
    // The stored value is "on_hold", not the variant's Rust name.
    #[orm(default = "OnHold")]
    status: Status,
}

fn main() {}
