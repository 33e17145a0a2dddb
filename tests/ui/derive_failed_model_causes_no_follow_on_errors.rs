// `Session` fails to derive (no primary key, an unknown option); the models that refer to
// it (a foreign key of type `Uuid`, a relation, its column handles) report nothing more.
use polyorm::prelude::*;

#[derive(Model, Clone)]
#[orm(has_many(events = Event::SESSION_ID))]
struct Session {
    id: uuid::Uuid,
    #[orm(frobnicate)]
    name: String,
}

#[derive(Model)]
struct Event {
    #[orm(primary_key)]
    id: i64,
    #[orm(belongs_to = Session)]
    session_id: uuid::Uuid,
}

#[derive(Model)]
#[orm(has_many(sessions = through(SessionTag)))]
struct Tag {
    #[orm(primary_key)]
    id: i64,
}

#[derive(Model)]
struct SessionTag {
    #[orm(primary_key)]
    id: i64,
    #[orm(belongs_to = Session)]
    session_id: uuid::Uuid,
    #[orm(belongs_to = Tag)]
    tag_id: i64,
}

fn main() {
    let _ = Session::query().filter(Session::NAME.eq("x"));
    let _ = Event::query().with(Event::session());
    let _ = Session::query().with(Session::events());
}
