//! Horizontal sharding on real databases: three PostgreSQL databases on the shared server,
//! two MariaDB databases on the shared server, three SQLite files. Every test writes through
//! `Shards`, then reads each shard directly to prove where the rows went; keyless and
//! cross-shard statements are refused with the model and key named; `all_shards()` merges
//! ordered, paged, counted and aggregated reads exactly; a transaction is bound to one shard;
//! a write across shards commits through two-phase commit (MariaDB XA).

use std::collections::BTreeMap;
use std::time::Duration;

use polyorm::prelude::*;
use polyorm::shard::{HashMod, Lookup, Ranges, ShardError, ShardKey, Shards};
use polyorm::{Error, PoolOptions};

/// An order of a tenant; tenants are spread over the shards.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "shard_orders")]
struct Order {
    #[orm(primary_key)]
    id: i64,
    #[orm(shard_key)]
    tenant: i64,
    item: String,
    amount: i64,
}

/// A model whose key is registered on the builder instead of the derive.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "shard_notes")]
struct Note {
    #[orm(primary_key)]
    id: i64,
    tenant: String,
    body: String,
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

async fn connect(url: &str) -> Db {
    PoolOptions::new()
        .max_connections(4)
        .acquire_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .unwrap_or_else(|e| panic!("connect {url}: {e}"))
}

/// `base` with its database replaced by `database`.
fn with_database(base: &str, database: &str) -> String {
    let (head, query) = base
        .split_once('?')
        .map_or((base, None), |(h, q)| (h, Some(q)));
    let at = head.rfind('/').expect("a URL with a database");
    let mut url = format!("{}/{database}", &head[..at]);
    if let Some(query) = query {
        url = format!("{url}?{query}");
    }
    url
}

/// Pools on `names`, created on the server of `base` (administrator's database) if missing.
async fn databases(base: &str, names: &[&str]) -> Vec<Db> {
    let admin = connect(base).await;
    for name in names {
        let sql = if base.starts_with("postgres") {
            format!("CREATE DATABASE {name}")
        } else {
            format!("CREATE DATABASE IF NOT EXISTS {name}")
        };
        if let Err(e) = admin.execute_raw(&sql).await {
            assert!(e.to_string().contains("already exists"), "{sql}: {e}");
        }
    }
    admin.close().await;
    let mut dbs = Vec::new();
    for name in names {
        dbs.push(connect(&with_database(base, name)).await);
    }
    dbs
}

fn shards_over(router: impl polyorm::shard::ShardRouter, dbs: Vec<Db>) -> Shards {
    let mut builder = Shards::builder(router).shard_key(Note::TENANT);
    for (i, db) in dbs.into_iter().enumerate() {
        builder = builder.shard(format!("s{i}"), db);
    }
    builder.build().unwrap()
}

fn shard_error(result: Result<impl std::fmt::Debug, Error>) -> ShardError {
    match result {
        Err(Error::Shard(e)) => *e,
        other => panic!("expected a shard error, got {other:?}"),
    }
}

fn orders() -> Vec<Order> {
    (1..=60)
        .map(|id| Order {
            id,
            tenant: id % 12 + 1,
            item: format!("item-{}", id % 7),
            amount: (id * 37) % 101,
        })
        .collect()
}

/// The whole scenario, on any backend's shards (`dbs` are fresh pools, one per shard).
async fn scenario(shards: &Shards) {
    shards.drop_table::<Order>().await.unwrap();
    shards.drop_table::<Note>().await.unwrap();
    shards.create_table::<Order>().await.unwrap();
    shards.create_table::<Note>().await.unwrap();
    let all = orders();

    // Inserts route by the row's key.
    for order in &all {
        let stored = order.insert(shards).await.unwrap();
        assert_eq!(&stored, order);
    }

    // Placement, read back from each shard directly: a tenant's rows all sit on its shard.
    let mut seen = 0;
    for (i, (name, db)) in shards.iter().enumerate() {
        let rows = Order::query().all(db).await.unwrap();
        assert!(
            !rows.is_empty(),
            "shard {name} got no row: the router does not spread"
        );
        for row in &rows {
            assert_eq!(
                shards.shard_index(row.tenant).unwrap(),
                i,
                "{row:?} on {name}"
            );
        }
        seen += rows.len();
    }
    assert_eq!(seen, all.len(), "every row on exactly one shard");

    // A keyed read goes to its shard.
    let mut mine = Order::query()
        .filter(Order::TENANT.eq(5))
        .all(shards)
        .await
        .unwrap();
    mine.sort_by_key(|o| o.id);
    let expected: Vec<Order> = all.iter().filter(|o| o.tenant == 5).cloned().collect();
    assert_eq!(mine, expected);
    let refused = shard_error(Order::find(shards, 7).await);
    assert!(
        matches!(refused, ShardError::MissingKey { .. }),
        "find by id alone has no key"
    );
    let found = Order::query()
        .filter(Order::TENANT.eq(all[6].tenant) & Order::ID.eq(7))
        .one(shards)
        .await
        .unwrap();
    assert_eq!(found, all[6]);
    assert_eq!(
        Order::query()
            .filter(Order::TENANT.eq(5))
            .count(shards)
            .await
            .unwrap(),
        5
    );

    // A read without the key is refused, naming the model and key.
    let refused = shard_error(
        Order::query()
            .filter(Order::AMOUNT.gt(10))
            .all(shards)
            .await,
    );
    assert_eq!(
        refused,
        ShardError::MissingKey {
            model: "Order",
            key: "tenant"
        }
    );
    assert!(refused.to_string().contains("all_shards()"), "{refused}");

    // An IN over tenants of several shards is a cross-shard read: refused, unless asked for.
    let spread: Vec<i64> = (1..=12).collect();
    let refused = shard_error(
        Order::query()
            .filter(Order::TENANT.in_list(spread.clone()))
            .all(shards)
            .await,
    );
    assert!(
        matches!(refused, ShardError::CrossShard { what: "read", .. }),
        "{refused:?}"
    );
    let in_list = Order::query()
        .filter(Order::TENANT.in_list([1_i64, 2, 3]))
        .count(&shards.all_shards())
        .await
        .unwrap();
    assert_eq!(in_list, all.iter().filter(|o| o.tenant <= 3).count() as u64);

    // Fan-out: order, offset and limit applied again after the merge.
    let page = Order::query()
        .order_by(Order::AMOUNT.desc())
        .order_by(Order::ID.asc())
        .offset(3)
        .limit(10)
        .all(&shards.all_shards())
        .await
        .unwrap();
    let mut sorted = all.clone();
    sorted.sort_by(|a, b| b.amount.cmp(&a.amount).then(a.id.cmp(&b.id)));
    assert_eq!(page, sorted[3..13].to_vec());
    let first = Order::query()
        .order_by(Order::ITEM.asc())
        .order_by(Order::ID.desc())
        .optional(&shards.all_shards())
        .await
        .unwrap();
    let mut by_item = all.clone();
    by_item.sort_by(|a, b| a.item.cmp(&b.item).then(b.id.cmp(&a.id)));
    assert_eq!(first.as_ref(), by_item.first());

    // count and aggregates merged.
    let fan = shards.all_shards();
    assert_eq!(Order::query().count(&fan).await.unwrap(), all.len() as u64);
    assert_eq!(
        Order::query()
            .filter(Order::AMOUNT.ge(50))
            .count(&fan)
            .await
            .unwrap(),
        all.iter().filter(|o| o.amount >= 50).count() as u64
    );
    let (n, sum, min, max) = Order::query()
        .select((
            count_all(),
            Order::AMOUNT.sum(),
            Order::AMOUNT.min(),
            Order::AMOUNT.max(),
        ))
        .one(&fan)
        .await
        .unwrap();
    assert_eq!(n, all.len() as i64);
    assert_eq!(sum, Some(all.iter().map(|o| o.amount).sum::<i64>()));
    assert_eq!(min, all.iter().map(|o| o.amount).min());
    assert_eq!(max, all.iter().map(|o| o.amount).max());

    // Grouped across shards: a group's rows on several shards are combined.
    let groups = Order::query()
        .select((Order::ITEM, count_all(), Order::AMOUNT.sum()))
        .group_by(Order::ITEM)
        .order_by(Order::ITEM.asc())
        .all(&fan)
        .await
        .unwrap();
    let mut expected: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for o in &all {
        let e = expected.entry(o.item.clone()).or_default();
        e.0 += 1;
        e.1 += o.amount;
    }
    let expected: Vec<(String, i64, Option<i64>)> = expected
        .into_iter()
        .map(|(item, (n, s))| (item, n, Some(s)))
        .collect();
    assert_eq!(groups, expected);
    let refused = shard_error(
        Order::query()
            .select((Order::AMOUNT.avg(),))
            .one(&fan)
            .await,
    );
    assert!(
        matches!(refused, ShardError::CannotMerge { .. }),
        "{refused:?}"
    );

    // Writes: a multi-row insert over several shards, and an update of the key, are refused;
    // updates and deletes route by key.
    let other_tenant = (1..=12)
        .find(|t| shards.shard_index(*t).unwrap() != shards.shard_index(1).unwrap())
        .unwrap();
    let cross = vec![
        Order {
            id: 101,
            tenant: 1,
            item: "x".into(),
            amount: 1,
        },
        Order {
            id: 102,
            tenant: other_tenant,
            item: "x".into(),
            amount: 1,
        },
    ];
    let refused = shard_error(Order::insert_many(shards, &cross).await);
    assert!(
        matches!(refused, ShardError::CrossShard { what: "insert", .. }),
        "{refused:?}"
    );
    let refused = shard_error(
        Order::update_many()
            .filter(Order::TENANT.eq(5))
            .set(Order::TENANT, 6)
            .execute(shards)
            .await,
    );
    assert!(
        matches!(refused, ShardError::KeyUpdate { .. }),
        "{refused:?}"
    );
    let bumped = Order::update_many()
        .filter(Order::TENANT.eq(5))
        .set(Order::AMOUNT, 1000)
        .execute(shards)
        .await
        .unwrap();
    assert_eq!(bumped, 5);
    let home = shards.for_key(5).unwrap();
    assert_eq!(
        Order::query()
            .filter(Order::AMOUNT.eq(1000))
            .count(home)
            .await
            .unwrap(),
        5,
        "the update ran on tenant 5's shard"
    );
    let refused = shard_error(
        Order::delete_many()
            .filter(Order::AMOUNT.eq(1000))
            .execute(shards)
            .await,
    );
    assert!(
        matches!(refused, ShardError::MissingKey { .. }),
        "{refused:?}"
    );
    let deleted = Order::delete_many()
        .filter(Order::TENANT.eq(5))
        .execute(shards)
        .await
        .unwrap();
    assert_eq!(deleted, 5);
    assert_eq!(
        Order::query().count(&fan).await.unwrap(),
        all.len() as u64 - 5
    );

    // Raw SQL has no key: refused on `Shards`, run on each shard through `all_shards()`.
    assert_eq!(
        shard_error(shards.execute_raw("DELETE FROM shard_orders").await),
        ShardError::RawSql
    );

    // A builder-registered key (text) routes the same way (a range router over integer
    // tenants has no shard for text: that is refused, typed).
    if let Err(e) = shards.shard_index("acme") {
        assert!(
            matches!(e, Error::Shard(ref e) if matches!(**e, ShardError::NoShard { .. })),
            "{e:?}"
        );
    } else {
        for (i, tenant) in ["acme", "globex", "initech", "umbrella"].iter().enumerate() {
            Note {
                id: i as i64,
                tenant: (*tenant).to_owned(),
                body: "hi".into(),
            }
            .insert(shards)
            .await
            .unwrap();
            let db = shards.for_key(*tenant).unwrap();
            assert_eq!(
                Note::query()
                    .filter(Note::ID.eq(i as i64))
                    .count(db)
                    .await
                    .unwrap(),
                1,
                "note of {tenant} on its shard"
            );
        }
    }

    // A transaction is bound to one shard: a statement for another shard's key is refused,
    // and the failed body rolls back what it wrote.
    let outcome: Result<(), Error> = shards
        .transaction(1, |tx| async move {
            Order {
                id: 201,
                tenant: 1,
                item: "tx".into(),
                amount: 1,
            }
            .insert(&tx)
            .await?;
            Order {
                id: 202,
                tenant: other_tenant,
                item: "tx".into(),
                amount: 1,
            }
            .insert(&tx)
            .await?;
            Ok(())
        })
        .await;
    let refused = shard_error(outcome);
    assert!(
        matches!(refused, ShardError::OtherShardInTransaction { .. }),
        "{refused:?}"
    );
    assert_eq!(
        Order::query()
            .filter(Order::ITEM.eq("tx"))
            .count(&fan)
            .await
            .unwrap(),
        0,
        "the refused transaction rolled back its first insert"
    );
    shards
        .transaction(1, |tx| async move {
            Order {
                id: 203,
                tenant: 1,
                item: "tx".into(),
                amount: 1,
            }
            .insert(&tx)
            .await?;
            Order::update_many()
                .filter(Order::ID.eq(203))
                .set(Order::AMOUNT, 2)
                .execute(&tx)
                .await?;
            Ok::<_, Error>(())
        })
        .await
        .unwrap();
    let committed = Order::query()
        .filter(Order::TENANT.eq(1) & Order::ID.eq(203))
        .one(shards.for_key(1).unwrap())
        .await
        .unwrap();
    assert_eq!(committed.amount, 2);

    shards.drop_table::<Order>().await.unwrap();
    shards.drop_table::<Note>().await.unwrap();
}

#[tokio::test]
async fn postgres_three_databases_route_by_tenant() {
    let base = env_or(
        "ORM_TEST_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/test",
    );
    let dbs = databases(&base, &["orm_shard_0", "orm_shard_1", "orm_shard_2"]).await;
    scenario(&shards_over(HashMod, dbs)).await;
}

#[tokio::test]
async fn mariadb_two_databases_route_by_tenant() {
    let base = env_or("ORM_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test");
    let dbs = databases(&base, &["orm_shard_0", "orm_shard_1"]).await;
    // Tenants 1-6 on the first database, 7 and up on the second.
    scenario(&shards_over(Ranges::new().from(0, 0).from(7, 1), dbs)).await;
}

#[tokio::test]
async fn sqlite_files_route_by_tenant() {
    let dir = std::env::temp_dir().join(format!("orm-shard-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut dbs = Vec::new();
    for i in 0..3 {
        let path = dir.join(format!("s{i}.db"));
        dbs.push(connect(&format!("sqlite://{}?mode=rwc", path.display())).await);
    }
    scenario(&shards_over(HashMod, dbs)).await;
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn lookup_router_places_named_tenants_and_refuses_unknown_ones() {
    let dbs = vec![
        connect("sqlite::memory:").await,
        connect("sqlite::memory:").await,
    ];
    let shards = shards_over(Lookup::new().key(1, 1).key(2, 0), dbs);
    shards.create_table::<Order>().await.unwrap();
    Order {
        id: 1,
        tenant: 1,
        item: "a".into(),
        amount: 1,
    }
    .insert(&shards)
    .await
    .unwrap();
    assert_eq!(Order::query().count(shards.shard(1)).await.unwrap(), 1);
    assert_eq!(Order::query().count(shards.shard(0)).await.unwrap(), 0);
    let refused = shard_error(
        Order {
            id: 2,
            tenant: 3,
            item: "a".into(),
            amount: 1,
        }
        .insert(&shards)
        .await,
    );
    assert!(matches!(refused, ShardError::NoShard { .. }), "{refused:?}");
    assert!(refused.to_string().contains("tenant = 3"), "{refused}");
    assert_eq!(shards.shard_index(ShardKey::Int(2)).unwrap(), 0);
}

/// A write over two shards that must be atomic: a two-phase commit through the coordinator,
/// its branches named after the shards (MariaDB XA on the shared server).
#[tokio::test]
async fn a_write_across_shards_commits_with_two_phase_commit() {
    use polyorm::distributed::{Coordinator, DecisionLog};
    let base = env_or("ORM_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test");
    let dbs = databases(&base, &["orm_shard2pc_0", "orm_shard2pc_1"]).await;
    let shards = shards_over(Ranges::new().from(0, 0).from(100, 1), dbs);
    shards.drop_table::<Order>().await.unwrap();
    shards.create_table::<Order>().await.unwrap();
    let log = std::env::temp_dir().join(format!("orm-shard-2pc-{}.log", std::process::id()));
    let coordinator = Coordinator::new("shard-test", DecisionLog::file(&log)).unwrap();
    let tx = shards
        .begin_distributed(&coordinator, &[ShardKey::Int(1), ShardKey::Int(100)])
        .await
        .unwrap();
    Order {
        id: 1,
        tenant: 1,
        item: "move".into(),
        amount: -5,
    }
    .insert(tx.branch(shards.name_for(1).unwrap()).unwrap())
    .await
    .unwrap();
    Order {
        id: 2,
        tenant: 100,
        item: "move".into(),
        amount: 5,
    }
    .insert(tx.branch(shards.name_for(100).unwrap()).unwrap())
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(Order::query().count(shards.shard(0)).await.unwrap(), 1);
    assert_eq!(Order::query().count(shards.shard(1)).await.unwrap(), 1);
    let (sum,) = Order::query()
        .select((Order::AMOUNT.sum(),))
        .one(&shards.all_shards())
        .await
        .unwrap();
    assert_eq!(sum, Some(0));
    shards.drop_table::<Order>().await.unwrap();
    let _ = std::fs::remove_file(&log);
}
