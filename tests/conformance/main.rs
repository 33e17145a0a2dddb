//! The conformance suite: one fixed dataset (`dataset.rs`) loaded into every backend, and the
//! same typed queries run on each. For every query, every backend must return exactly the rows
//! of an answer computed independently in plain Rust over the dataset (so all backends agree
//! with each other too). On MongoDB, the query shapes its compiler does not support yet (joins,
//! projections and aggregates, computed expressions, `nulls_first`/`nulls_last` against its
//! native order) must be refused with `Error::InvalidQuery` (or, for arithmetic and the other
//! nesting expressions, `Error::Unsupported`), never answered differently.
//!
//! Backends and URLs come from the environment as in the shared suite (`tests/suite/harness.rs`).

#[path = "../suite/harness.rs"]
#[macro_use]
mod harness;
mod dataset;

use std::collections::BTreeMap;
use std::fmt::Debug;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use polyorm::prelude::*;
use polyorm::{Error, count_all};
use rust_decimal::Decimal;

use dataset::{Data, Entry, Person, Team, data};
use harness::Backend;

/// One result row, printed with `{:?}`: values compare exactly (text byte for byte, decimals
/// with their scale, floats by their shortest representation).
type Rows = Vec<String>;

fn rows<T: Debug>(items: impl IntoIterator<Item = T>) -> Rows {
    items.into_iter().map(|row| format!("{row:?}")).collect()
}

/// What MongoDB does with a query: answers it, refuses its shape with `InvalidQuery`, or
/// needs what the nx-27017 test server lacks (run with `ORM_TEST_MONGO_REAL=1` against a real
/// MongoDB; named in the test output otherwise).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mongo {
    Answers,
    Refuses,
    NeedsRealMongodb(&'static str),
}

use Mongo::{Answers, NeedsRealMongodb, Refuses};

const NO_DECIMAL128: Mongo = NeedsRealMongodb("nx-27017 cannot store Decimal128");
const NO_LOOKUP: Mongo = NeedsRealMongodb("nx-27017 returns wrong documents for $lookup + $unwind");

/// The queries, by name, with what MongoDB does with each.
const CASES: &[(&str, Mongo)] = &[
    ("eq_is_exact_and_case_sensitive", Answers),
    ("eq_does_not_ignore_trailing_spaces", Answers),
    ("ne_keeps_every_other_spelling", Answers),
    ("lt_orders_text_by_code_point", Answers),
    ("between_on_text_is_code_point_range", Answers),
    ("in_list_of_accented_spellings", Answers),
    ("like_prefix_is_case_sensitive", Answers),
    ("like_underscore_matches_one_character", Answers),
    ("contains_escapes_percent", Answers),
    ("contains_escapes_underscore", Answers),
    ("starts_with_accented_capital", Answers),
    ("ends_with_space", Answers),
    ("ilike_folds_ascii_letters_only", Answers),
    ("ilike_does_not_fold_accented_capitals", Answers),
    ("count_of_ilike_matches", Answers),
    ("exists_with_trailing_space", Answers),
    ("lower_eq_folds_ascii_only", Refuses),
    ("order_by_upper_then_id", Refuses),
    ("order_text_asc_nulls_first_by_default", Answers),
    ("order_text_desc_nulls_last_by_default", Answers),
    ("order_asc_nulls_last_explicit", Refuses),
    ("order_desc_nulls_first_explicit", Refuses),
    ("order_asc_nulls_first_explicit_is_default", Answers),
    ("pagination_over_ties", Answers),
    ("pagination_over_nulls_and_ties", Answers),
    ("is_null_and_is_not_null", Answers),
    ("not_eq_excludes_nulls", Answers),
    ("date_between_inclusive", Answers),
    ("timestamp_range_ordered_by_time", Answers),
    ("year_and_month_filter", Refuses),
    ("order_by_month_of_timestamp", Refuses),
    ("date_parts_selected", Refuses),
    ("inner_join_with_filter_on_joined_text", NO_LOOKUP),
    ("left_join_keeps_unmatched", NO_LOOKUP),
    ("group_by_text_with_every_aggregate", Answers),
    ("group_by_ordered_by_count_desc", Refuses),
    ("having_with_order_by_average", Refuses),
    ("distinct_nullable_text_desc", Answers),
    ("in_subquery_of_ilike_matches", Answers),
    ("not_in_subquery_without_nulls", Answers),
    ("has_many_exists_where_accented_prefix", Answers),
    ("has_many_not_exists", Answers),
    ("belongs_to_exists_where_exact_text", Answers),
    ("decimal_round_trips_exactly", NO_DECIMAL128),
    ("decimal_order_is_numeric", NO_DECIMAL128),
    ("decimal_compare_is_numeric", NO_DECIMAL128),
    ("decimal_nullable_desc_then_id", NO_DECIMAL128),
    ("decimal_sums_are_exact", NO_DECIMAL128),
    ("decimal_sum_grouped_with_having_and_order", Refuses),
    ("decimal_avg_rounds_half_away_from_zero", Refuses),
    (
        "integer_arithmetic_truncates_and_zero_divisor_is_null",
        Refuses,
    ),
];

/// Runs the query named `case` on `db`.
#[allow(clippy::too_many_lines)]
async fn run(case: &str, db: &Db) -> polyorm::Result<Rows> {
    let by_id = || Person::query().order_by(Person::SEQ.asc());
    Ok(match case {
        "eq_is_exact_and_case_sensitive" => {
            rows(by_id().filter(Person::NAME.eq("Edinburgh")).all(db).await?)
        }
        "eq_does_not_ignore_trailing_spaces" => rows(
            by_id()
                .filter(Person::NAME.eq("Edinburgh "))
                .all(db)
                .await?,
        ),
        "ne_keeps_every_other_spelling" => {
            rows(by_id().filter(Person::NAME.ne("Ada")).all(db).await?)
        }
        "lt_orders_text_by_code_point" => rows(
            Person::query()
                .filter(Person::NAME.lt("a"))
                .order_by(Person::NAME.asc())
                .order_by(Person::SEQ.asc())
                .all(db)
                .await?,
        ),
        "between_on_text_is_code_point_range" => rows(
            by_id()
                .filter(Person::NAME.between("E", "Z"))
                .all(db)
                .await?,
        ),
        "in_list_of_accented_spellings" => rows(
            by_id()
                .filter(Person::NAME.in_list(["Zoë", "zoë", "Zoe"]))
                .all(db)
                .await?,
        ),
        "like_prefix_is_case_sensitive" => {
            rows(by_id().filter(Person::NAME.like("Lost%")).all(db).await?)
        }
        "like_underscore_matches_one_character" => {
            rows(by_id().filter(Person::NAME.like("_")).all(db).await?)
        }
        "contains_escapes_percent" => {
            rows(by_id().filter(Person::NAME.contains("%")).all(db).await?)
        }
        "contains_escapes_underscore" => {
            rows(by_id().filter(Person::NAME.contains("_")).all(db).await?)
        }
        "starts_with_accented_capital" => rows(
            by_id()
                .filter(Person::NAME.starts_with("É"))
                .all(db)
                .await?,
        ),
        "ends_with_space" => rows(by_id().filter(Person::NAME.ends_with(" ")).all(db).await?),
        "ilike_folds_ascii_letters_only" => rows(
            by_id()
                .filter(Person::NAME.ilike("edinBURGH%"))
                .all(db)
                .await?,
        ),
        "ilike_does_not_fold_accented_capitals" => {
            rows(by_id().filter(Person::NAME.ilike("ZOË")).all(db).await?)
        }
        "count_of_ilike_matches" => {
            let n = Person::query()
                .filter(Person::NAME.ilike("%o%") & Person::CITY.ilike("paris"))
                .count(db)
                .await?;
            rows([n])
        }
        "exists_with_trailing_space" => {
            let padded = Person::query()
                .filter(Person::CITY.eq("Oslo "))
                .exists(db)
                .await?;
            let missing = Person::query()
                .filter(Person::CITY.eq("Paris "))
                .exists(db)
                .await?;
            rows([padded, missing])
        }
        "lower_eq_folds_ascii_only" => rows(
            by_id()
                .filter(Person::NAME.lower().eq("édimbourg"))
                .all(db)
                .await?,
        ),
        "order_by_upper_then_id" => rows(
            Person::query()
                .filter(Person::ID.le(120))
                .order_by(Person::NAME.upper().asc())
                .order_by(Person::SEQ.asc())
                .all(db)
                .await?,
        ),
        "order_text_asc_nulls_first_by_default" => rows(
            Person::query()
                .order_by(Person::CITY.asc())
                .order_by(Person::SEQ.asc())
                .all(db)
                .await?,
        ),
        "order_text_desc_nulls_last_by_default" => rows(
            Person::query()
                .order_by(Person::CITY.desc())
                .order_by(Person::SEQ.asc())
                .all(db)
                .await?,
        ),
        "order_asc_nulls_last_explicit" => rows(
            Person::query()
                .order_by(Person::AGE.asc().nulls_last())
                .order_by(Person::SEQ.asc())
                .all(db)
                .await?,
        ),
        "order_desc_nulls_first_explicit" => rows(
            Person::query()
                .order_by(Person::AGE.desc().nulls_first())
                .order_by(Person::SEQ.desc())
                .all(db)
                .await?,
        ),
        "order_asc_nulls_first_explicit_is_default" => rows(
            Person::query()
                .order_by(Person::SEEN_AT.asc().nulls_first())
                .order_by(Person::SEQ.asc())
                .all(db)
                .await?,
        ),
        "pagination_over_ties" => rows(
            Person::query()
                .order_by(Person::SCORE.desc())
                .order_by(Person::SEQ.asc())
                .limit(10)
                .offset(20)
                .all(db)
                .await?,
        ),
        "pagination_over_nulls_and_ties" => rows(
            Person::query()
                .order_by(Person::AGE.asc())
                .order_by(Person::SEQ.desc())
                .limit(15)
                .offset(35)
                .all(db)
                .await?,
        ),
        "is_null_and_is_not_null" => {
            let nulls = by_id().filter(Person::CITY.is_null()).count(db).await?;
            let values = by_id()
                .filter(Person::AGE.is_not_null() & Person::SEEN_AT.is_null())
                .all(db)
                .await?;
            let mut out = rows([nulls]);
            out.extend(rows(values));
            out
        }
        "not_eq_excludes_nulls" => rows(by_id().filter(!Person::CITY.eq("Paris")).all(db).await?),
        "date_between_inclusive" => rows(
            by_id()
                .filter(Person::BORN.between(date(1970, 1, 1), date(1979, 12, 31)))
                .all(db)
                .await?,
        ),
        "timestamp_range_ordered_by_time" => rows(
            Person::query()
                .filter(Person::SEEN_AT.ge(utc("2021-01-01T00:00:00Z")))
                .filter(Person::SEEN_AT.lt(utc("2022-06-01T00:00:00.500Z")))
                .order_by(Person::SEEN_AT.desc())
                .order_by(Person::SEQ.asc())
                .all(db)
                .await?,
        ),
        "year_and_month_filter" => rows(
            by_id()
                .filter(Person::BORN.year().ge(1990) & Person::BORN.month().eq(2))
                .all(db)
                .await?,
        ),
        "order_by_month_of_timestamp" => rows(
            Person::query()
                .order_by(Person::SEEN_AT.month().asc().nulls_last())
                .order_by(Person::SEEN_AT.day().desc())
                .order_by(Person::SEQ.asc())
                .all(db)
                .await?,
        ),
        "date_parts_selected" => rows(
            by_id()
                .filter(Person::ID.le(40))
                .select((
                    Person::ID,
                    Person::BORN.year(),
                    Person::BORN.month(),
                    Person::BORN.day(),
                    Person::SEEN_AT.year(),
                ))
                .all(db)
                .await?,
        ),
        "inner_join_with_filter_on_joined_text" => rows(
            Person::query()
                .inner_join(Person::team())
                .filter_joined(Team::NAME.eq("red"))
                .order_by(Person::SEQ.asc())
                .all(db)
                .await?,
        ),
        "left_join_keeps_unmatched" => rows(
            Person::query()
                .left_join(Person::team())
                .filter(Person::ID.le(60))
                .order_by_joined(Team::NAME.desc())
                .order_by(Person::SEQ.asc())
                .all(db)
                .await?,
        ),
        "group_by_text_with_every_aggregate" => rows(
            Person::query()
                .select((
                    Person::CITY,
                    count_all(),
                    Person::AGE.count(),
                    Person::SCORE.sum(),
                    Person::AGE.avg(),
                    Person::AGE.min(),
                    Person::AGE.max(),
                    Person::NAME.max(),
                ))
                .group_by(Person::CITY)
                .order_by(Person::CITY.asc())
                .all(db)
                .await?,
        ),
        "group_by_ordered_by_count_desc" => rows(
            Person::query()
                .select((Person::TEAM_ID, count_all()))
                .group_by(Person::TEAM_ID)
                .order_by(count_all().desc())
                .order_by(Person::TEAM_ID.asc())
                .all(db)
                .await?,
        ),
        "having_with_order_by_average" => rows(
            Person::query()
                .select((Person::SCORE, Person::AGE.avg(), Person::AGE.count()))
                .group_by(Person::SCORE)
                .having(Person::AGE.count().gt(35))
                .order_by(Person::AGE.avg().desc())
                .all(db)
                .await?,
        ),
        "distinct_nullable_text_desc" => rows(
            Person::query()
                .select((Person::CITY,))
                .distinct()
                .order_by(Person::CITY.desc())
                .all(db)
                .await?,
        ),
        "in_subquery_of_ilike_matches" => rows(
            by_id()
                .filter(
                    Person::TEAM_ID.in_subquery(
                        Team::query()
                            .filter(Team::NAME.ilike("RED"))
                            .select_column(Team::ID),
                    ),
                )
                .all(db)
                .await?,
        ),
        "not_in_subquery_without_nulls" => rows(
            Team::query()
                .filter(
                    Team::ID.not_in_subquery(
                        Person::query()
                            .filter(Person::AGE.gt(74) & Person::TEAM_ID.is_not_null())
                            .select_column(Person::TEAM_ID),
                    ),
                )
                .order_by(Team::ID.asc())
                .all(db)
                .await?,
        ),
        "has_many_exists_where_accented_prefix" => rows(
            Team::query()
                .filter(Team::members().exists_where(Person::NAME.starts_with("Éd")))
                .order_by(Team::NAME.asc())
                .all(db)
                .await?,
        ),
        "has_many_not_exists" => rows(
            Team::query()
                .filter(!Team::members().exists())
                .all(db)
                .await?,
        ),
        "belongs_to_exists_where_exact_text" => rows(
            by_id()
                .filter(Person::team().exists_where(Team::NAME.eq("Édith")))
                .all(db)
                .await?,
        ),
        "decimal_round_trips_exactly" => {
            rows(Entry::query().order_by(Entry::ID.asc()).all(db).await?)
        }
        "decimal_order_is_numeric" => rows(
            Entry::query()
                .order_by(Entry::AMOUNT.asc())
                .order_by(Entry::ID.asc())
                .all(db)
                .await?,
        ),
        "decimal_compare_is_numeric" => rows(
            Entry::query()
                .filter(Entry::AMOUNT.gt(Decimal::new(10_000, 2)))
                .filter(Entry::AMOUNT.le(Decimal::new(90_050, 2)))
                .order_by(Entry::ID.asc())
                .all(db)
                .await?,
        ),
        "decimal_sums_are_exact" => rows(
            Entry::query()
                .select((Entry::AMOUNT.sum(), Entry::DISCOUNT.sum(), count_all()))
                .all(db)
                .await?,
        ),
        "decimal_sum_grouped_with_having_and_order" => rows(
            Entry::query()
                .select((Entry::BUCKET, Entry::AMOUNT.sum(), Entry::DISCOUNT.min()))
                .group_by(Entry::BUCKET)
                .having(Entry::AMOUNT.sum().gt(Decimal::new(2_000_000, 2)))
                .order_by(Entry::AMOUNT.sum().desc())
                .all(db)
                .await?,
        ),
        "decimal_avg_rounds_half_away_from_zero" => rows(
            Entry::query()
                .select((Entry::BUCKET, Entry::AMOUNT.avg(), Entry::DISCOUNT.avg()))
                .group_by(Entry::BUCKET)
                .order_by(Entry::BUCKET.asc())
                .all(db)
                .await?,
        ),
        "integer_arithmetic_truncates_and_zero_divisor_is_null" => rows(
            by_id()
                .select((
                    Person::SEQ,
                    Person::SCORE * 3 + Person::AGE.coalesce(0),
                    Person::AGE / (Person::SCORE.as_expr() - 30),
                    (Person::SCORE.as_expr() - 25).cast::<f64>() / 4.0,
                ))
                .all(db)
                .await?,
        ),
        "decimal_nullable_desc_then_id" => rows(
            Entry::query()
                .order_by(Entry::DISCOUNT.desc())
                .order_by(Entry::ID.asc())
                .limit(40)
                .all(db)
                .await?,
        ),
        other => panic!("no query named {other}"),
    })
}

fn date(year: i32, month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(year, month, day).expect("valid date")
}

fn utc(text: &str) -> DateTime<Utc> {
    text.parse().expect("RFC 3339 timestamp")
}

/// The rows of `people` matching `keep`, by id.
fn people(data: &Data, keep: impl Fn(&Person) -> bool) -> Vec<&Person> {
    data.people.iter().filter(|p| keep(p)).collect()
}

/// `people` sorted by `key`, ties by id ascending.
fn sorted<K: Ord>(mut people: Vec<&Person>, key: impl Fn(&Person) -> K) -> Vec<&Person> {
    people.sort_by(|a, b| key(a).cmp(&key(b)).then(a.id.cmp(&b.id)));
    people
}

fn fold(text: &str) -> String {
    text.to_ascii_lowercase()
}

fn team(data: &Data, id: Option<i64>) -> Option<&Team> {
    data.teams.iter().find(|t| Some(t.id) == id)
}

/// The answer to the query named `case`, computed from the dataset in plain Rust. Ordering
/// rules: text by code point (Rust's `str` order), NULL (`None`) smallest unless the query
/// says otherwise.
#[allow(clippy::too_many_lines)]
fn expected(case: &str, data: &Data) -> Rows {
    let d = data;
    let name_is = |n: &'static str| move |p: &Person| p.name == n;
    match case {
        "eq_is_exact_and_case_sensitive" => rows(people(d, name_is("Edinburgh"))),
        "eq_does_not_ignore_trailing_spaces" => rows(people(d, name_is("Edinburgh "))),
        "ne_keeps_every_other_spelling" => rows(people(d, |p| p.name != "Ada")),
        "lt_orders_text_by_code_point" => rows(sorted(people(d, |p| p.name.as_str() < "a"), |p| {
            p.name.clone()
        })),
        "between_on_text_is_code_point_range" => {
            rows(people(d, |p| ("E"..="Z").contains(&p.name.as_str())))
        }
        "in_list_of_accented_spellings" => rows(people(d, |p| {
            ["Zoë", "zoë", "Zoe"].contains(&p.name.as_str())
        })),
        "like_prefix_is_case_sensitive" => rows(people(d, |p| p.name.starts_with("Lost"))),
        "like_underscore_matches_one_character" => rows(people(d, |p| p.name.chars().count() == 1)),
        "contains_escapes_percent" => rows(people(d, |p| p.name.contains('%'))),
        "contains_escapes_underscore" => rows(people(d, |p| p.name.contains('_'))),
        "starts_with_accented_capital" => rows(people(d, |p| p.name.starts_with('É'))),
        "ends_with_space" => rows(people(d, |p| p.name.ends_with(' '))),
        "ilike_folds_ascii_letters_only" => {
            rows(people(d, |p| fold(&p.name).starts_with("edinburgh")))
        }
        "ilike_does_not_fold_accented_capitals" => rows(people(d, |p| fold(&p.name) == "zoË")),
        "count_of_ilike_matches" => rows([people(d, |p| {
            fold(&p.name).contains('o') && p.city.as_deref().map(fold).as_deref() == Some("paris")
        })
        .len() as u64]),
        "exists_with_trailing_space" => rows([
            d.people.iter().any(|p| p.city.as_deref() == Some("Oslo ")),
            d.people.iter().any(|p| p.city.as_deref() == Some("Paris ")),
        ]),
        "lower_eq_folds_ascii_only" => rows(people(d, |p| fold(&p.name) == "édimbourg")),
        "order_by_upper_then_id" => rows(sorted(people(d, |p| p.id <= 120), |p| {
            p.name.to_ascii_uppercase()
        })),
        "order_text_asc_nulls_first_by_default" => {
            rows(sorted(people(d, |_| true), |p| p.city.clone()))
        }
        "order_text_desc_nulls_last_by_default" => rows(sorted(people(d, |_| true), |p| {
            std::cmp::Reverse(p.city.clone())
        })),
        "order_asc_nulls_last_explicit" => {
            rows(sorted(people(d, |_| true), |p| (p.age.is_none(), p.age)))
        }
        "order_desc_nulls_first_explicit" => {
            let mut all = people(d, |_| true);
            all.sort_by(|a, b| {
                (b.age.is_none(), b.age)
                    .cmp(&(a.age.is_none(), a.age))
                    .then(b.id.cmp(&a.id))
            });
            rows(all)
        }
        "order_asc_nulls_first_explicit_is_default" => {
            rows(sorted(people(d, |_| true), |p| p.seen_at))
        }
        "pagination_over_ties" => rows(
            sorted(people(d, |_| true), |p| std::cmp::Reverse(p.score))
                .into_iter()
                .skip(20)
                .take(10),
        ),
        "pagination_over_nulls_and_ties" => {
            let mut all = people(d, |_| true);
            all.sort_by(|a, b| a.age.cmp(&b.age).then(b.id.cmp(&a.id)));
            rows(all.into_iter().skip(35).take(15))
        }
        "is_null_and_is_not_null" => {
            let mut out = rows([people(d, |p| p.city.is_none()).len() as u64]);
            out.extend(rows(people(d, |p| p.age.is_some() && p.seen_at.is_none())));
            out
        }
        // SQL's three-valued logic: NOT (NULL = 'Paris') is UNKNOWN, so NULL cities stay out.
        "not_eq_excludes_nulls" => rows(people(d, |p| {
            p.city.as_deref().is_some_and(|c| c != "Paris")
        })),
        "date_between_inclusive" => rows(people(d, |p| {
            (date(1970, 1, 1)..=date(1979, 12, 31)).contains(&p.born)
        })),
        "timestamp_range_ordered_by_time" => {
            let (low, high) = (utc("2021-01-01T00:00:00Z"), utc("2022-06-01T00:00:00.500Z"));
            rows(sorted(
                people(d, |p| p.seen_at.is_some_and(|t| low <= t && t < high)),
                |p| std::cmp::Reverse(p.seen_at),
            ))
        }
        "year_and_month_filter" => {
            rows(people(d, |p| p.born.year() >= 1990 && p.born.month() == 2))
        }
        "order_by_month_of_timestamp" => rows(sorted(people(d, |_| true), |p| {
            let month = p.seen_at.map(|t| t.month());
            let day = p.seen_at.map(|t| t.day());
            (month.is_none(), month, std::cmp::Reverse(day))
        })),
        "date_parts_selected" => rows(people(d, |p| p.id <= 40).into_iter().map(|p| {
            let part = |v: u32| i32::try_from(v).expect("small");
            (
                p.id,
                p.born.year(),
                part(p.born.month()),
                part(p.born.day()),
                p.seen_at.map(|t| t.year()),
            )
        })),
        "inner_join_with_filter_on_joined_text" => rows(
            d.people
                .iter()
                .filter_map(|p| team(d, p.team_id).map(|t| (p, t)))
                .filter(|(_, t)| t.name == "red"),
        ),
        "left_join_keeps_unmatched" => {
            let mut pairs: Vec<(&Person, Option<&Team>)> = people(d, |p| p.id <= 60)
                .into_iter()
                .map(|p| (p, team(d, p.team_id)))
                .collect();
            pairs.sort_by(|(a, ta), (b, tb)| {
                let name = |t: &Option<&Team>| t.map(|t| t.name.clone());
                name(tb).cmp(&name(ta)).then(a.id.cmp(&b.id))
            });
            rows(pairs)
        }
        "group_by_text_with_every_aggregate" => {
            let mut groups: BTreeMap<Option<String>, Vec<&Person>> = BTreeMap::new();
            for p in &d.people {
                groups.entry(p.city.clone()).or_default().push(p);
            }
            rows(groups.into_iter().map(|(city, ps)| {
                let ages: Vec<i32> = ps.iter().filter_map(|p| p.age).collect();
                let sum: i64 = ps.iter().map(|p| i64::from(p.score)).sum();
                let avg = (!ages.is_empty()).then(|| {
                    ages.iter().map(|&a| i64::from(a)).sum::<i64>() as f64 / ages.len() as f64
                });
                (
                    city,
                    ps.len() as i64,
                    ages.len() as i64,
                    Some(sum),
                    avg,
                    ages.iter().min().copied(),
                    ages.iter().max().copied(),
                    ps.iter().map(|p| p.name.clone()).max(),
                )
            }))
        }
        "group_by_ordered_by_count_desc" => {
            let mut groups: BTreeMap<Option<i64>, i64> = BTreeMap::new();
            for p in &d.people {
                *groups.entry(p.team_id).or_default() += 1;
            }
            let mut out: Vec<(Option<i64>, i64)> = groups.into_iter().collect();
            out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            rows(out)
        }
        "having_with_order_by_average" => {
            let mut groups: BTreeMap<i32, Vec<i32>> = BTreeMap::new();
            for p in &d.people {
                let ages = groups.entry(p.score).or_default();
                ages.extend(p.age);
            }
            let mut out: Vec<(i32, Option<f64>, i64)> = groups
                .into_iter()
                .filter(|(_, ages)| ages.len() > 35)
                .map(|(score, ages)| {
                    let sum: i64 = ages.iter().map(|&a| i64::from(a)).sum();
                    (
                        score,
                        Some(sum as f64 / ages.len() as f64),
                        ages.len() as i64,
                    )
                })
                .collect();
            out.sort_by(|a, b| b.1.partial_cmp(&a.1).expect("no NaN"));
            rows(out)
        }
        "distinct_nullable_text_desc" => {
            let mut cities: Vec<Option<String>> = d.people.iter().map(|p| p.city.clone()).collect();
            cities.sort();
            cities.dedup();
            cities.reverse();
            rows(cities.into_iter().map(|c| (c,)))
        }
        "in_subquery_of_ilike_matches" => {
            let teams: Vec<i64> = d
                .teams
                .iter()
                .filter(|t| fold(&t.name) == "red")
                .map(|t| t.id)
                .collect();
            rows(people(d, |p| {
                p.team_id.is_some_and(|id| teams.contains(&id))
            }))
        }
        "not_in_subquery_without_nulls" => {
            let old: Vec<i64> = d
                .people
                .iter()
                .filter(|p| p.age.is_some_and(|a| a > 74))
                .filter_map(|p| p.team_id)
                .collect();
            rows(d.teams.iter().filter(|t| !old.contains(&t.id)))
        }
        "has_many_exists_where_accented_prefix" => {
            let mut teams: Vec<&Team> = d
                .teams
                .iter()
                .filter(|t| {
                    d.people
                        .iter()
                        .any(|p| p.team_id == Some(t.id) && p.name.starts_with("Éd"))
                })
                .collect();
            teams.sort_by(|a, b| a.name.cmp(&b.name));
            rows(teams)
        }
        "has_many_not_exists" => rows(
            d.teams
                .iter()
                .filter(|t| !d.people.iter().any(|p| p.team_id == Some(t.id))),
        ),
        "belongs_to_exists_where_exact_text" => rows(people(d, |p| {
            team(d, p.team_id).is_some_and(|t| t.name == "Édith")
        })),
        "decimal_round_trips_exactly" => rows(&d.entries),
        "decimal_order_is_numeric" => {
            let mut all: Vec<&Entry> = d.entries.iter().collect();
            all.sort_by(|a, b| a.amount.cmp(&b.amount).then(a.id.cmp(&b.id)));
            rows(all)
        }
        "decimal_compare_is_numeric" => {
            rows(d.entries.iter().filter(|e| {
                e.amount > Decimal::new(10_000, 2) && e.amount <= Decimal::new(90_050, 2)
            }))
        }
        "decimal_sums_are_exact" => {
            let amounts: Decimal = d.entries.iter().map(|e| e.amount).sum();
            let discounts: Decimal = d.entries.iter().filter_map(|e| e.discount).sum();
            rows([(Some(amounts), Some(discounts), d.entries.len() as i64)])
        }
        "decimal_sum_grouped_with_having_and_order" => {
            let mut groups: BTreeMap<i16, Vec<&Entry>> = BTreeMap::new();
            for e in &d.entries {
                groups.entry(e.bucket).or_default().push(e);
            }
            let mut out: Vec<(i16, Option<Decimal>, Option<Decimal>)> = groups
                .into_iter()
                .map(|(bucket, es)| {
                    let sum: Decimal = es.iter().map(|e| e.amount).sum();
                    (
                        bucket,
                        Some(sum),
                        es.iter().filter_map(|e| e.discount).min(),
                    )
                })
                .filter(|(_, sum, _)| *sum > Some(Decimal::new(2_000_000, 2)))
                .collect();
            out.sort_by_key(|row| std::cmp::Reverse(row.1));
            rows(out)
        }
        "decimal_avg_rounds_half_away_from_zero" => {
            let mut groups: BTreeMap<i16, Vec<&Entry>> = BTreeMap::new();
            for e in &d.entries {
                groups.entry(e.bucket).or_default().push(e);
            }
            // The exact mean rounded half away from zero to the columns' 2 places.
            let mean = |values: Vec<Decimal>| {
                let count = Decimal::from(values.len() as i64);
                (!values.is_empty()).then(|| {
                    let sum: Decimal = values.into_iter().sum();
                    let mut mean = (sum / count).round_dp_with_strategy(
                        2,
                        rust_decimal::RoundingStrategy::MidpointAwayFromZero,
                    );
                    mean.rescale(2);
                    mean
                })
            };
            rows(groups.into_iter().map(|(bucket, es)| {
                (
                    bucket,
                    mean(es.iter().map(|e| e.amount).collect()),
                    mean(es.iter().filter_map(|e| e.discount).collect()),
                )
            }))
        }
        "integer_arithmetic_truncates_and_zero_divisor_is_null" => {
            rows(sorted(people(d, |_| true), |p| p.seq).into_iter().map(|p| {
                let divisor = i64::from(p.score) - 30;
                (
                    p.seq,
                    i64::from(p.score) * 3 + i64::from(p.age.unwrap_or(0)),
                    // Rust's `/` truncates toward zero, as every dialect's integer division.
                    p.age
                        .filter(|_| divisor != 0)
                        .map(|a| i64::from(a) / divisor),
                    Some(f64::from(p.score - 25) / 4.0),
                )
            }))
        }
        "decimal_nullable_desc_then_id" => {
            let mut all: Vec<&Entry> = d.entries.iter().collect();
            all.sort_by(|a, b| b.discount.cmp(&a.discount).then(a.id.cmp(&b.id)));
            rows(all.into_iter().take(40))
        }
        other => panic!("no expected answer for {other}"),
    }
}

fn backends() -> Vec<Backend> {
    let mongo = cfg!(feature = "mongodb").then_some(Backend::MongoDb);
    [Backend::Sqlite, Backend::Postgres, Backend::MySql]
        .into_iter()
        .chain(mongo)
        .collect()
}

/// The first difference between two row lists, for the failure report.
fn first_difference(got: &Rows, want: &Rows) -> String {
    let at = got
        .iter()
        .zip(want)
        .position(|(g, w)| g != w)
        .unwrap_or(got.len().min(want.len()));
    format!(
        "{} rows, expected {}; first difference at row {at}:\n      got  {}\n      want {}",
        got.len(),
        want.len(),
        got.get(at).map_or("(none)", String::as_str),
        want.get(at).map_or("(none)", String::as_str),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_query_returns_the_same_expected_rows_on_every_backend() {
    let data = data();
    let mut differences = Vec::new();
    let mut checked = 0;
    for backend in backends() {
        let Some(t) = harness::setup(backend, "conformance").await else {
            continue;
        };
        let mongo = backend == Backend::MongoDb;
        let real_mongo = cfg!(orm_mongo_real);
        dataset::load(&t.db, !mongo || real_mongo)
            .await
            .unwrap_or_else(|e| panic!("loading the dataset into {backend:?}: {e}"));
        for &(case, on_mongo) in CASES {
            if let (true, false, NeedsRealMongodb(reason)) = (mongo, real_mongo, on_mongo) {
                eprintln!("SKIPPED {case} on MongoDb: {reason} (ORM_TEST_MONGO_REAL=1 runs it)");
                continue;
            }
            let got = run(case, &t.db).await;
            checked += 1;
            match (got, mongo && on_mongo == Refuses) {
                (Err(Error::InvalidQuery(_) | Error::Unsupported { .. }), true) => {}
                (other, true) => differences.push(format!(
                    "{case} on {backend:?}: expected a documented refusal (InvalidQuery), got {other:?}"
                )),
                (Ok(rows), false) => {
                    let want = expected(case, data);
                    if rows != want {
                        differences.push(format!(
                            "{case} on {backend:?}: {}",
                            first_difference(&rows, &want)
                        ));
                    }
                }
                (Err(e), false) => differences.push(format!("{case} on {backend:?}: {e}")),
            }
        }
        t.teardown().await;
    }
    assert!(
        differences.is_empty(),
        "{} of {checked} query runs differ from the expected answer:\n  {}",
        differences.len(),
        differences.join("\n  ")
    );
}

#[test]
fn the_dataset_covers_what_the_queries_probe() {
    let d = data();
    assert_eq!(d.people.len(), 300);
    assert!(CASES.len() >= 30, "at least 30 queries");
    let count = |keep: &dyn Fn(&Person) -> bool| d.people.iter().filter(|p| keep(p)).count();
    assert!(count(&|p| p.name == "Edinburgh") > 0);
    assert!(count(&|p| p.name == "Edinburgh ") > 0);
    assert!(count(&|p| p.name.starts_with('É')) > 0);
    assert!(count(&|p| p.city.is_none()) > 20);
    assert!(count(&|p| p.age.is_none()) > 20);
    assert!(count(&|p| p.seen_at.is_none()) > 20);
    assert!(count(&|p| p.team_id.is_none()) > 10);
    assert!(count(&|p| p.seen_at.is_some_and(|t| t.timestamp_subsec_millis() > 0)) > 20);
    // Prices whose text order differs from their numeric order.
    assert!(d.entries.iter().any(|e| e.amount.is_sign_negative()));
    assert!(
        d.entries
            .iter()
            .any(|e| e.amount > Decimal::ZERO && e.amount < Decimal::TEN)
    );
    assert!(
        d.entries
            .iter()
            .any(|e| e.amount >= Decimal::new(10_000, 2))
    );
    assert!(d.entries.iter().any(|e| e.discount.is_none()));
    // Every expected answer of a filter is neither empty nor everything, except where noted.
    for (case, _) in CASES {
        let n = expected(case, d).len();
        assert!(
            n > 0,
            "{case}: the expected answer is empty, so the query proves nothing"
        );
    }
}
