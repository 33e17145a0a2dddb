// `now()` fits timestamps and dates, `uuid()` fits `Uuid`, `default_fn` returns the field's
// type: each misuse is reported at the option.
use polyorm::prelude::*;

fn new_token() -> i64 {
    7
}

#[derive(Model)]
struct Session {
    #[orm(primary_key)]
    id: i64,
    #[orm(default = now())]
    hits: i64,
    #[orm(default = uuid())]
    name: String,
    #[orm(default_fn = new_token)]
    token: String,
    #[orm(default = now())]
    at: chrono::NaiveTime,
}

fn main() {}
