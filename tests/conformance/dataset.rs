//! The fixed dataset every backend loads: 300 people and 6 teams, generated deterministically
//! (a fixed-seed linear congruential generator), with mixed case, accents, trailing and leading
//! spaces, LIKE wildcards in the data, NULLs, ties, decimals whose text order differs from their
//! numeric order (negative ones too), dates and millisecond timestamps.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use polyorm::prelude::*;
use rust_decimal::Decimal;

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "conf_teams", has_many(members = Person::TEAM_ID))]
pub struct Team {
    #[orm(primary_key)]
    pub id: i64,
    #[orm(max_length = 40)]
    pub name: String,
}

/// A priced entry (its own table: the nx-27017 MongoDB test server cannot store Decimal128).
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "conf_entries")]
pub struct Entry {
    #[orm(primary_key)]
    pub id: i64,
    pub bucket: i16,
    #[orm(precision = 10, scale = 2)]
    pub amount: Decimal,
    #[orm(precision = 10, scale = 2)]
    pub discount: Option<Decimal>,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "conf_people")]
pub struct Person {
    #[orm(primary_key)]
    pub id: i64,
    /// Equal to `id`: queries break ties on it, because the nx-27017 MongoDB test server sorts
    /// `_id` (the key) as text.
    #[orm(unique)]
    pub seq: i64,
    #[orm(max_length = 40)]
    pub name: String,
    #[orm(max_length = 40)]
    pub city: Option<String>,
    pub age: Option<i32>,
    pub score: i32,
    pub born: NaiveDate,
    pub seen_at: Option<DateTime<Utc>>,
    #[orm(belongs_to = Team)]
    pub team_id: Option<i64>,
}

/// Names that collide under case folding, accent folding, padding or LIKE wildcards.
const NAMES: &[&str] = &[
    "Edinburgh",
    "Edinburgh ",
    "edinburgh",
    "EDINBURGH",
    "Édimbourg",
    "édimbourg",
    "ÉDIMBOURG",
    "Lost Boys",
    "lost boys",
    "LOST",
    "Lostwithiel",
    "lost_and_found",
    "Lost%Found",
    "Zoë",
    "zoë",
    "ZOË",
    "Zoe",
    "Ångström",
    "ångström",
    "naïve",
    "Naïve",
    "Straße",
    "STRASSE",
    "O'Brien",
    "o'brien",
    "Ada",
    "ada ",
    " Ada",
    "ADA",
    "Ärger",
    "ärger",
    "Ça va",
    "ça va",
    "Ω omega",
    "ω omega",
    "back\\slash",
    "日本",
    "a",
    "A",
    "b",
    "B",
    "_",
    "%",
];

const CITIES: &[Option<&str>] = &[
    None,
    Some("Paris"),
    Some("paris"),
    Some("PARIS"),
    Some("Zürich"),
    Some("zürich"),
    Some("Oslo"),
    Some("Oslo "),
    Some("Évry"),
    Some("evry"),
    None,
];

const TEAMS: &[&str] = &["Red", "red", "Blue", "Édith", "green", "Nobody"];

/// The whole dataset.
pub struct Data {
    pub teams: Vec<Team>,
    pub people: Vec<Person>,
    pub entries: Vec<Entry>,
}

/// A fixed-seed linear congruential generator (Knuth's MMIX constants).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % bound
    }
}

fn generate() -> Data {
    let teams = TEAMS
        .iter()
        .zip(1..)
        .map(|(name, id)| Team {
            id,
            name: (*name).to_owned(),
        })
        .collect();
    let mut rng = Lcg(20_261_123);
    let epoch = DateTime::<Utc>::from_timestamp(1_577_836_800, 0).expect("2020-01-01");
    let first_birthday = NaiveDate::from_ymd_opt(1950, 1, 1).expect("valid date");
    let people = (1..=300)
        .map(|id: i64| {
            let index = usize::try_from(id).expect("small");
            let name =
                NAMES[(index * 7 + usize::try_from(rng.next(3)).expect("small")) % NAMES.len()];
            let city = CITIES[usize::try_from(rng.next(CITIES.len() as u64)).expect("small")];
            let age =
                (rng.next(100) >= 15).then(|| 18 + i32::try_from(rng.next(60)).expect("small"));
            let score = i32::try_from(index % 7 * 10).expect("small");
            let born =
                first_birthday + Duration::days(i64::try_from(rng.next(22_000)).expect("small"));
            // Whole seconds and milliseconds mixed (MongoDB stores milliseconds).
            let seen_at = (rng.next(100) >= 20).then(|| {
                let seconds = i64::try_from(rng.next(150_000_000)).expect("small");
                let millis = if rng.next(2) == 0 {
                    0
                } else {
                    i64::try_from(rng.next(1000)).expect("small")
                };
                epoch + Duration::seconds(seconds) + Duration::milliseconds(millis)
            });
            let team_id =
                (rng.next(10) > 0).then(|| 1 + i64::try_from(rng.next(5)).expect("small"));
            Person {
                id,
                seq: id,
                name: name.to_owned(),
                city: city.map(str::to_owned),
                age,
                score,
                born,
                seen_at,
                team_id,
            }
        })
        .collect();
    let entries = (1..=300)
        .map(|id| {
            // Cents from -500.00 to 1,500.00: "9.99" > "10.00" as text, not as numbers.
            let cents = i64::try_from(rng.next(200_001)).expect("small") - 50_000;
            let discount = (rng.next(4) > 0)
                .then(|| Decimal::new(i64::try_from(rng.next(10_000)).expect("small"), 2));
            Entry {
                id,
                bucket: i16::try_from(id % 4).expect("small"),
                amount: Decimal::new(cents, 2),
                discount,
            }
        })
        .collect();
    Data {
        teams,
        people,
        entries,
    }
}

/// The dataset (generated once).
pub fn data() -> &'static Data {
    static DATA: std::sync::OnceLock<Data> = std::sync::OnceLock::new();
    DATA.get_or_init(generate)
}

/// Creates the tables and inserts the dataset; `with_decimals: false` leaves the decimal
/// entries out (for the MongoDB test server).
pub async fn load(db: &Db, with_decimals: bool) -> polyorm::Result<()> {
    db.create_table::<Team>().await?;
    db.create_table::<Person>().await?;
    let data = data();
    Team::insert_many(db, &data.teams).await?;
    Person::insert_many(db, &data.people).await?;
    if with_decimals {
        db.create_table::<Entry>().await?;
        Entry::insert_many(db, &data.entries).await?;
    }
    Ok(())
}
