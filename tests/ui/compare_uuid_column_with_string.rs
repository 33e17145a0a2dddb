use polyorm::prelude::*;

#[derive(Model)]
struct Session {
    #[orm(primary_key)]
    id: uuid::Uuid,
    user: i64,
}

fn main() {
    let _ = Session::ID.eq("6f1c1a4e-0000-0000-0000-000000000000");
}
