use polyorm::prelude::*;

#[derive(Model)]
struct Note {
    #[orm(primary_key)]
    id: i64,
    #[orm(soft_delete)]
    deleted: bool,
}

fn main() {}
