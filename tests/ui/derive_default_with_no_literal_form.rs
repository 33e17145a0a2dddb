// Literal defaults that no literal of another type would fix: a UUID, a timestamp and a
// JSON field each say what they take instead.
use polyorm::prelude::*;

#[derive(Model)]
struct Doc {
    #[orm(primary_key)]
    id: i64,
    #[orm(default = 5)]
    metadata: serde_json::Value,
    #[orm(default = "2024-01-01T00:00:00Z")]
    created: chrono::DateTime<chrono::Utc>,
    #[orm(default = "00000000-0000-0000-0000-000000000000")]
    token: uuid::Uuid,
    #[orm(default = true)]
    price: rust_decimal::Decimal,
}

fn main() {}
