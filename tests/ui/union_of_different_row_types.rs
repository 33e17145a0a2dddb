use polyorm::prelude::*;

#[derive(Model)]
struct Artist {
    #[orm(primary_key, auto_increment)]
    id: i64,
    name: String,
}

#[derive(Model)]
struct Staff {
    #[orm(primary_key, auto_increment)]
    id: i64,
    name: String,
}

fn main() {
    // A union combines rows of one type: names with names, not names with ids.
    let _ = Artist::query()
        .select((Artist::NAME,))
        .union(Staff::query().select((Staff::ID,)));
}
