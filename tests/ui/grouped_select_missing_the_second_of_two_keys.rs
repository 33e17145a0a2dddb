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
    // Both `city` and `age` are selected; only `city` is grouped.
    let _ = User::query()
        .select((User::CITY, User::AGE, count_all()))
        .group_by(User::CITY)
        .optional(db);
    // Grouped by both (in either order), the same select compiles.
    let _ = User::query()
        .select((User::CITY, User::AGE, count_all()))
        .group_by(User::AGE)
        .group_by(User::CITY)
        .optional(db);
    // A computed key does not stand for the column it reads.
    let _ = User::query()
        .select((User::NAME, count_all()))
        .group_by(User::NAME.lower())
        .cte("names");
}

fn main() {
    let _ = report;
}
