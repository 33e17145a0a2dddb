use polyorm::prelude::*;

#[derive(polyorm::SqlEnum, Debug, Clone, Copy, PartialEq)]
enum Tier {
    Hot,
    Cold,
}

#[derive(Model)]
struct Memory {
    #[orm(primary_key)]
    id: i64,
    #[orm(check = Self::TIER.ne(Tier::Cold))]
    tier: Tier,
}

fn main() {}
