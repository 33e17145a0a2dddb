// A text default is checked against the column: JSON text for JSON, an ISO date for a date;
// a UUID takes `uuid()`, not a literal.
use polyorm::prelude::*;

#[derive(Model)]
struct Doc {
    #[orm(primary_key)]
    id: i64,
    #[orm(default = "{tags: []}")]
    metadata: serde_json::Value,
}

#[derive(Model)]
struct Event {
    #[orm(primary_key)]
    id: i64,
    #[orm(default = "31/01/2024")]
    day: chrono::NaiveDate,
}

#[derive(Model)]
struct Token {
    #[orm(primary_key, default = "00000000-0000-0000-0000-000000000000")]
    id: uuid::Uuid,
}

fn main() {}
