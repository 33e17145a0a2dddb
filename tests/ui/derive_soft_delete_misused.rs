use polyorm::prelude::*;

// Two soft-delete fields, one on a key, one with a default.
#[derive(Model)]
struct Note {
    #[orm(primary_key, soft_delete)]
    id: i64,
    #[orm(soft_delete)]
    deleted_at: Option<chrono::DateTime<chrono::Utc>>,
    #[orm(soft_delete, default = now())]
    removed_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn main() {}
