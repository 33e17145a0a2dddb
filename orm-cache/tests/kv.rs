//! `cache.kv()`: typed values, counters and data structures in the shared tier.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{REDIS_URL, Server, prefix};
use orm::cache::{Cache, KvBatch, KvError};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Session {
    user: u64,
    roles: Vec<String>,
}

fn session(user: u64) -> Session {
    Session {
        user,
        roles: vec!["admin".to_owned()],
    }
}

/// What every tier offers: values with a TTL, delete, counters, a type mismatch as an error.
async fn basics(cache: &Cache) {
    let kv = cache.kv();
    assert_eq!(kv.get::<Session>("s1").await.unwrap(), None);
    kv.set("s1", &session(7), Some(Duration::from_secs(1)))
        .await
        .unwrap();
    kv.set("s2", &session(8), None).await.unwrap();
    assert_eq!(kv.get("s1").await.unwrap(), Some(session(7)));
    let wrong = kv.get::<u64>("s2").await;
    assert!(matches!(wrong, Err(KvError::Serde { .. })), "{wrong:?}");
    assert!(kv.delete("s2").await.unwrap());
    assert!(!kv.delete("s2").await.unwrap());
    assert_eq!(kv.get::<Session>("s2").await.unwrap(), None);
    assert_eq!(kv.incr("hits", 1).await.unwrap(), 1);
    assert_eq!(kv.incr("hits", 41).await.unwrap(), 42);
    assert_eq!(kv.get::<i64>("hits").await.unwrap(), Some(42));
    // Memcached expires in whole seconds: wait out two.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert_eq!(kv.get::<Session>("s1").await.unwrap(), None, "expired");
}

#[tokio::test]
async fn redis_values_counters_and_data_structures() {
    let cache = Cache::builder()
        .redis_url(REDIS_URL)
        .prefix(prefix("kv"))
        .build()
        .unwrap();
    basics(&cache).await;
    let kv = cache.kv();
    assert_eq!(kv.list_push("recent", &session(1)).await.unwrap(), 1);
    assert_eq!(kv.list_push("recent", &session(2)).await.unwrap(), 2);
    assert_eq!(
        kv.list_range::<Session>("recent", 0, -1).await.unwrap(),
        [session(1), session(2)]
    );
    assert!(kv.set_add("tags", "a").await.unwrap());
    assert!(!kv.set_add("tags", "a").await.unwrap());
    assert!(kv.set_add("tags", "b").await.unwrap());
    assert!(kv.set_remove("tags", "a").await.unwrap());
    assert_eq!(kv.set_members::<String>("tags").await.unwrap(), ["b"]);
    kv.hash_set("user:1", "name", "ada").await.unwrap();
    kv.hash_set("user:1", "city", "london").await.unwrap();
    assert_eq!(
        kv.hash_get::<String>("user:1", "name")
            .await
            .unwrap()
            .as_deref(),
        Some("ada")
    );
    assert_eq!(kv.hash_get::<String>("user:1", "none").await.unwrap(), None);
    let all: HashMap<String, String> = kv.hash_all("user:1").await.unwrap();
    assert_eq!(all.len(), 2);
    kv.sorted_add("board", 30.0, "cy").await.unwrap();
    kv.sorted_add("board", 10.0, "ada").await.unwrap();
    kv.sorted_add("board", 20.0, "bob").await.unwrap();
    assert_eq!(
        kv.sorted_range_by_score::<String>("board", 15.0, 100.0)
            .await
            .unwrap(),
        ["bob", "cy"]
    );
    assert_eq!(
        kv.publish("events", &session(3)).await.unwrap(),
        0,
        "no subscriber"
    );
}

#[tokio::test]
async fn memcached_has_the_basics_and_says_so_for_the_rest() {
    let server = Server::memcached(None).await;
    let cache = Cache::builder()
        .memcached(server.url())
        .prefix(prefix("kv_mc"))
        .build()
        .unwrap();
    basics(&cache).await;
    let err = cache.kv().list_push("recent", &1).await.unwrap_err();
    assert!(
        matches!(
            err,
            KvError::Unsupported {
                op: "list_push",
                tier: "Memcached"
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("Memcached has no `list_push`"),
        "{err}"
    );
    let mut batch = KvBatch::new();
    batch.incr("n", 1);
    let err = cache.kv().pipeline(&batch).await.unwrap_err();
    assert!(
        matches!(
            err,
            KvError::Unsupported {
                op: "pipeline",
                tier: "Memcached"
            }
        ),
        "{err:?}"
    );
    let err = cache
        .kv()
        .transaction(&["n"], |_| async { Ok(KvBatch::new()) })
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            KvError::Unsupported {
                op: "transaction",
                tier: "Memcached"
            }
        ),
        "{err:?}"
    );
}

/// A transfer of `amount` from the `balance` a transaction read (its watched key 0).
fn transfer(snapshot: &orm::cache::KvReplies, amount: i64) -> Result<KvBatch, KvError> {
    let balance: i64 = snapshot.value(0)?.expect("a balance");
    let mut batch = KvBatch::new();
    batch
        .set("balance", &(balance - amount), None)?
        .incr("spent", amount);
    Ok(batch)
}

#[tokio::test]
async fn redis_pipelines_and_transactions_that_a_watched_write_aborts() {
    let shared = prefix("kv_batch");
    let build = || {
        Cache::builder()
            .redis_url(REDIS_URL)
            .prefix(&shared)
            .build()
            .unwrap()
    };
    let (cache, other) = (build(), build());
    let kv = cache.kv();

    // A pipeline: one reply per command, in order.
    let mut batch = KvBatch::new();
    batch
        .set("s", &session(1), None)
        .unwrap()
        .incr("n", 2)
        .incr("n", 3)
        .get("s")
        .get("missing")
        .delete("s");
    let replies = kv.pipeline(&batch).await.unwrap();
    assert_eq!(replies.len(), 6);
    assert_eq!(replies.number(2).unwrap(), 5);
    assert_eq!(replies.value::<Session>(3).unwrap(), Some(session(1)));
    assert_eq!(replies.value::<Session>(4).unwrap(), None);
    assert_eq!(replies.number(5).unwrap(), 1);
    assert!(matches!(replies.number(6), Err(KvError::Serde { .. })));
    assert_eq!(kv.get::<i64>("n").await.unwrap(), Some(5));
    assert_eq!(kv.get::<Session>("s").await.unwrap(), None);

    // A transaction over an unchanged watched key commits.
    kv.set("balance", &100_i64, None).await.unwrap();
    let done = kv
        .transaction(
            &["balance"],
            |snapshot| async move { transfer(&snapshot, 30) },
        )
        .await
        .unwrap()
        .expect("no other client wrote `balance`");
    assert_eq!(done.number(1).unwrap(), 30);
    assert_eq!(kv.get::<i64>("balance").await.unwrap(), Some(70));

    // Another client writes the watched key between WATCH and EXEC: nothing is written.
    let theirs = other.kv();
    let raced = kv
        .transaction(&["balance"], |snapshot| async move {
            theirs.set("balance", &1_000_i64, None).await?;
            transfer(&snapshot, 30)
        })
        .await
        .unwrap();
    assert!(raced.is_none(), "EXEC must fail after a watched write");
    assert_eq!(kv.get::<i64>("balance").await.unwrap(), Some(1_000));
    assert_eq!(kv.get::<i64>("spent").await.unwrap(), Some(30));
}

#[tokio::test]
async fn a_dead_server_or_no_shared_tier_is_an_error_that_says_what_to_do() {
    let err = Cache::builder()
        .build()
        .unwrap()
        .kv()
        .get::<u8>("k")
        .await
        .unwrap_err();
    assert!(matches!(err, KvError::NoSharedTier), "{err:?}");
    let mut server = Server::memcached(None).await;
    let cache = Cache::builder()
        .memcached(server.url())
        .prefix(prefix("kv_dead"))
        .build()
        .unwrap();
    server.kill();
    let err = cache.kv().set("k", &1, None).await.unwrap_err();
    assert!(matches!(err, KvError::Server { op: "set", .. }), "{err:?}");
}
