use polyorm::prelude::*;

#[derive(Model)]
struct User {
    #[orm(primary_key, auto_increment)]
    id: i64,
    name: String,
    city: String,
    age: i32,
}

fn report(db: &Db) {
    // `name` is a `String` like the key `city`, but it is not grouped: each city has many names.
    let _ = User::query()
        .select((User::CITY, User::NAME, count_all()))
        .group_by(User::CITY)
        .all(db);
}

fn main() {
    let _ = report;
}
