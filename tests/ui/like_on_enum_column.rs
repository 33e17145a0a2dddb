use polyorm::prelude::*;

#[derive(polyorm::SqlEnum, Clone, Copy)]
enum Status {
    Active,
    Closed,
}

#[derive(Model)]
struct Ticket {
    #[orm(primary_key)]
    id: i64,
    status: Status,
}

fn main() {
    let _ = Ticket::STATUS.like("Act%");
}
