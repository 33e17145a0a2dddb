//! Reads that pin primary keys are invalidated by writes to those keys only: proved against
//! uncached answers under two concurrent writing processes, and measured on a 9:1 mix.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{REDIS_URL, prefix};
use polyorm::cache::{Cache, CacheExt, CachedDb};
use polyorm::prelude::*;

/// A row owned by one of the two writers (`owner` is "a" or "b").
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "ledger")]
pub struct Ledger {
    #[orm(primary_key)]
    id: i64,
    owner: String,
    balance: i64,
}

const MINUTE: Duration = Duration::from_secs(60);

/// xorshift64*: reproducible from the printed seed, no dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }
}

fn row(id: i64, owner: &str, balance: i64) -> Ledger {
    Ledger {
        id,
        owner: owner.to_owned(),
        balance,
    }
}

/// Every kind of cached read of `owner`'s rows, through `cached`, must equal the database's
/// answer read through `plain` (only this writer changes these rows, so it is stable).
async fn check(cached: &CachedDb<Db>, plain: &Db, owner: &str, ids: [i64; 3], step: usize) {
    let by_key = |id: i64| Ledger::query().filter(Ledger::ID.eq(id));
    for id in ids {
        let seen = by_key(id).cached(MINUTE).optional(cached).await.unwrap();
        let truth = by_key(id).optional(plain).await.unwrap();
        assert_eq!(seen, truth, "step {step}: row {id} read through the cache");
    }
    let pair = || {
        Ledger::query()
            .filter(Ledger::ID.in_list([ids[0], ids[1]]))
            .order_by(Ledger::ID.asc())
    };
    let seen = pair().cached(MINUTE).all(cached).await.unwrap();
    assert_eq!(
        seen,
        pair().all(plain).await.unwrap(),
        "step {step}: IN read"
    );
    let mine = || {
        Ledger::query()
            .filter(Ledger::OWNER.eq(owner))
            .order_by(Ledger::ID.asc())
    };
    let seen = mine().cached(MINUTE).all(cached).await.unwrap();
    assert_eq!(
        seen,
        mine().all(plain).await.unwrap(),
        "step {step}: owner's rows"
    );
    let seen = mine().cached(MINUTE).count(cached).await.unwrap();
    assert_eq!(
        seen,
        mine().count(plain).await.unwrap(),
        "step {step}: count"
    );
}

/// One writer: random writes of every kind to its own rows through `mine`, each followed by
/// checks through both processes' caches.
async fn writer(
    mine: CachedDb<Db>,
    other: CachedDb<Db>,
    owner: &'static str,
    ids: std::ops::Range<i64>,
    seed: u64,
) {
    let plain = mine.inner().clone();
    let mut rng = Rng(seed);
    let span = (ids.end - ids.start) as u64;
    let pick = move |rng: &mut Rng| ids.start + rng.below(span) as i64;
    for step in 0..150 {
        let id = pick(&mut rng);
        let value = rng.below(1000) as i64;
        match rng.below(100) {
            0..40 => {
                let update = Ledger::update_many()
                    .set(Ledger::BALANCE, value)
                    .filter(Ledger::ID.eq(id));
                update.execute(&mine).await.unwrap();
            }
            40..52 => {
                let bulk = Ledger::update_many()
                    .set(Ledger::BALANCE, value)
                    .filter(Ledger::OWNER.eq(owner).and(Ledger::BALANCE.lt(500)));
                bulk.execute(&mine).await.unwrap();
            }
            52..66 => {
                if Ledger::find(&plain, id).await.unwrap().is_none() {
                    row(id, owner, value).insert(&mine).await.unwrap();
                }
            }
            66..78 => {
                Ledger::delete_by_key(&mine, id).await.unwrap();
            }
            78..90 => {
                let two = Ledger::update_many()
                    .set(Ledger::BALANCE, value)
                    .filter(Ledger::ID.in_list([id, pick(&mut rng)]));
                two.execute(&mine).await.unwrap();
            }
            _ => {
                let upsert = OnConflict::on(Ledger::ID).update(Ledger::BALANCE);
                Ledger::upsert_many(&mine, &[row(id, owner, value)], upsert)
                    .await
                    .unwrap();
            }
        }
        let ids = [id, pick(&mut rng), pick(&mut rng)];
        check(&mine, &plain, owner, ids, step).await;
        check(&other, &plain, owner, ids, step).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pinned_reads_match_the_database_under_two_concurrent_writing_processes() {
    let (url, schema) = common::postgres_schema("fine").await;
    let shared = prefix("fine");
    let process = || async {
        // This test is about what is served, not how fast: a Redis reply slower than the
        // default 50 ms (a loaded 2-core machine) would count as a cache error.
        let cache = Cache::builder()
            .redis_url(REDIS_URL)
            .prefix(shared.clone())
            .redis_timeout(std::time::Duration::from_secs(2))
            .build()
            .unwrap();
        cache.wrap(Db::connect(&url).await.unwrap())
    };
    let (a, b) = (process().await, process().await);
    a.inner().create_table::<Ledger>().await.unwrap();
    let start: Vec<Ledger> = (1..=30)
        .map(|id| row(id, "a", id))
        .chain((51..=80).map(|id| row(id, "b", id)))
        .collect();
    Ledger::insert_many(a.inner(), &start).await.unwrap();
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("seed {seed}");
    let one = tokio::spawn(writer(a.clone(), b.clone(), "a", 1..50, seed));
    let two = tokio::spawn(writer(
        b.clone(),
        a.clone(),
        "b",
        51..100,
        seed.rotate_left(17),
    ));
    let (one, two) = (one.await, two.await);
    drop((a.clone(), b.clone()));
    common::drop_schema(&schema).await;
    one.expect("writer a: cached answers equal the database's");
    two.expect("writer b: cached answers equal the database's");
    let (sa, sb) = (a.cache().stats(), b.cache().stats());
    assert!(
        sa.hits() > 0 && sb.hits() > 0,
        "the cache served some reads: {sa:?} {sb:?}"
    );
    assert_eq!(sa.errors + sb.errors, 0);
}

/// A 9:1 get/set mix over 100 hot keys: reads that pin their key (`id = k`) against the same
/// reads phrased so that they pin nothing (`id BETWEEN k AND k`), which every write to the
/// table invalidates, as all reads were before per-key invalidation.
#[tokio::test]
async fn a_nine_to_one_mix_over_one_hundred_keys_mostly_hits() {
    let db = common::sqlite().await;
    db.create_table::<Ledger>().await.unwrap();
    let rows: Vec<Ledger> = (0..100).map(|id| row(id, "a", 0)).collect();
    Ledger::insert_many(&db, &rows).await.unwrap();
    let mut ratios = Vec::new();
    for pinned in [false, true] {
        let cache = Cache::builder()
            .redis_url(REDIS_URL)
            .prefix(prefix("mix"))
            .build()
            .unwrap();
        let cached = Arc::new(cache.wrap(db.clone()));
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        for n in 0..5_000_i64 {
            let key = rng.below(100) as i64;
            if rng.below(10) == 0 {
                let set = Ledger::update_many()
                    .set(Ledger::BALANCE, n)
                    .filter(Ledger::ID.eq(key));
                set.execute(&*cached).await.unwrap();
            } else if pinned {
                let get = Ledger::query().filter(Ledger::ID.eq(key)).cached(MINUTE);
                get.one(&*cached).await.unwrap();
            } else {
                let get = Ledger::query()
                    .filter(Ledger::ID.between(key, key))
                    .cached(MINUTE);
                get.one(&*cached).await.unwrap();
            }
        }
        let stats = cache.stats();
        ratios.push(stats.hits() as f64 / (stats.hits() + stats.misses) as f64);
    }
    eprintln!(
        "9:1 get/set over 100 keys: hit ratio {:.1}% per table, {:.1}% per key",
        ratios[0] * 100.0,
        ratios[1] * 100.0
    );
    assert!(
        ratios[0] < 0.2,
        "per-table invalidation drops nearly all: {ratios:?}"
    );
    assert!(
        ratios[1] > 0.6,
        "per-key invalidation keeps most: {ratios:?}"
    );
}

/// Reads that look pinned but read other rows, and writes that move a key, fall back to
/// per-table invalidation: each read below goes stale if they did not.
#[tokio::test]
async fn reads_and_writes_that_pin_no_key_invalidate_per_table() {
    let db = common::sqlite().await;
    db.create_table::<Ledger>().await.unwrap();
    Ledger::insert_many(&db, &[row(1, "a", 10), row(2, "a", 20)])
        .await
        .unwrap();
    let cache = Cache::builder()
        .redis_url(REDIS_URL)
        .prefix(prefix("unpinned"))
        .build()
        .unwrap();
    let cached = cache.wrap(db.clone());
    let either = || {
        Ledger::query()
            .filter(Ledger::ID.eq(1).or(Ledger::ID.eq(2)))
            .order_by(Ledger::ID.asc())
    };
    let same_owner_as_2 = || {
        let owner_of_2 = Ledger::query()
            .filter(Ledger::ID.eq(2))
            .select_column(Ledger::OWNER);
        Ledger::query().filter(Ledger::ID.eq(1).and(Ledger::OWNER.in_subquery(owner_of_2)))
    };
    let three = || Ledger::query().filter(Ledger::ID.eq(3));
    let read_all = || async {
        let e = either().cached(MINUTE).all(&cached).await.unwrap();
        let s = same_owner_as_2().cached(MINUTE).all(&cached).await.unwrap();
        let t = three().cached(MINUTE).all(&cached).await.unwrap();
        let truth = (
            either().all(&db).await.unwrap(),
            same_owner_as_2().all(&db).await.unwrap(),
            three().all(&db).await.unwrap(),
        );
        assert_eq!((e, s, t), truth);
    };
    read_all().await;
    // A write to row 2 only: the OR read and the subquery read both depend on it.
    let update = Ledger::update_many()
        .set(Ledger::OWNER, "b")
        .filter(Ledger::ID.eq(2));
    update.execute(&cached).await.unwrap();
    read_all().await;
    // Row 2 becomes row 3: the cached empty read of key 3 must see it.
    let rekey = Ledger::update_many()
        .set(Ledger::ID, 3_i64)
        .filter(Ledger::ID.eq(2));
    rekey.execute(&cached).await.unwrap();
    read_all().await;
    // Only the read of key 3 survived the write to row 2; every other re-read was stale.
    let stats = cache.stats();
    assert_eq!((stats.hits(), stats.stale), (1, 5), "{stats:?}");
}
