// `default` takes a literal, `now()` or `uuid()`; `default_fn` names a function (no call) and
// does not combine with a generated default. All reported together.
use polyorm::prelude::*;

fn new_token() -> String {
    "t".to_owned()
}

#[derive(Model)]
struct Session {
    #[orm(primary_key)]
    id: i64,
    #[orm(default = today())]
    day: chrono::NaiveDate,
    #[orm(default_fn = new_token())]
    token: String,
    #[orm(default = now(), default_fn = chrono::Utc::now)]
    created_at: chrono::DateTime<chrono::Utc>,
}

fn main() {}
