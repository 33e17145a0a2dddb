use polyorm::prelude::*;

#[derive(Model)]
struct Note {
    #[orm(primary_key)]
    id: i64,
    #[orm(soft_delete)]
    deleted_at: chrono::DateTime<chrono::Utc>,
}

fn main() {}
