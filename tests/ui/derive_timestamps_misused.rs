// `created_at`/`updated_at` need a timestamp field, one of each per model, not on a key.
use polyorm::prelude::*;

#[derive(Model)]
struct Note {
    #[orm(primary_key)]
    id: i64,
    #[orm(updated_at)]
    touched: i64,
}

#[derive(Model)]
struct Page {
    #[orm(primary_key, created_at)]
    at: chrono::DateTime<chrono::Utc>,
    #[orm(updated_at)]
    a: chrono::DateTime<chrono::Utc>,
    #[orm(updated_at, created_at)]
    b: chrono::DateTime<chrono::Utc>,
}

fn main() {}
