use polyorm::prelude::*;

#[derive(Model)]
struct Account {
    #[orm(primary_key, colour = "red")]
    id: uuid::Uuid,
}

#[derive(Model)]
struct Session {
    #[orm(primary_key)]
    id: i64,
    #[orm(belongs_to = Account)]
    account_id: uuid::Uuid,
}

fn main() {}
