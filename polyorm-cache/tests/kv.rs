//! `cache.kv()`: typed values, counters and data structures in the shared tier.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::cluster::Cluster;
use common::{REDIS_URL, Server, prefix};
use polyorm::cache::{Cache, KvBatch, KvError};
use serde::{Deserialize, Serialize};

/// The calls' timeout where the timeout is not what a test is about: a loaded CI machine can
/// take longer than the default 50 ms to open a connection.
const SLOW_MACHINE: Duration = Duration::from_secs(2);

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
    let err = cache.kv().subscribe::<u8>(&["events"]).await.unwrap_err();
    assert!(
        matches!(
            err,
            KvError::Unsupported {
                op: "subscribe",
                tier: "Memcached"
            }
        ),
        "{err:?}"
    );
}

/// A transfer of `amount` from the balance a transaction read (its watched key 0) at `balance`,
/// counted at `spent`.
fn transfer(
    snapshot: &polyorm::cache::KvReplies,
    (balance_key, spent_key): (&str, &str),
    amount: i64,
) -> Result<KvBatch, KvError> {
    let balance: i64 = snapshot.value(0)?.expect("a balance");
    let mut batch = KvBatch::new();
    batch
        .set(balance_key, &(balance - amount), None)?
        .incr(spent_key, amount);
    Ok(batch)
}

/// Pipelines, and transactions that a write to a watched key aborts, through `cache` with a
/// second process `other`; `key` names the keys (one hash tag on a cluster).
async fn pipelines_and_watched_transactions(
    cache: &Cache,
    other: &Cache,
    key: impl Fn(&str) -> String,
) {
    let kv = cache.kv();
    let (s, n, missing) = (key("s"), key("n"), key("missing"));
    let (balance, spent) = (key("balance"), key("spent"));

    // A pipeline: one reply per command, in order.
    let mut batch = KvBatch::new();
    batch
        .set(&s, &session(1), None)
        .unwrap()
        .incr(&n, 2)
        .incr(&n, 3)
        .get(&s)
        .get(&missing)
        .delete(&s);
    let replies = kv.pipeline(&batch).await.unwrap();
    assert_eq!(replies.len(), 6);
    assert_eq!(replies.number(2).unwrap(), 5);
    assert_eq!(replies.value::<Session>(3).unwrap(), Some(session(1)));
    assert_eq!(replies.value::<Session>(4).unwrap(), None);
    assert_eq!(replies.number(5).unwrap(), 1);
    assert!(matches!(replies.number(6), Err(KvError::Serde { .. })));
    assert_eq!(kv.get::<i64>(&n).await.unwrap(), Some(5));
    assert_eq!(kv.get::<Session>(&s).await.unwrap(), None);

    // A transaction over an unchanged watched key commits.
    kv.set(&balance, &100_i64, None).await.unwrap();
    let keys = (balance.as_str(), spent.as_str());
    let done = kv
        .transaction(&[&balance], |snapshot| async move {
            transfer(&snapshot, keys, 30)
        })
        .await
        .unwrap()
        .expect("no other client wrote the balance");
    assert_eq!(done.number(1).unwrap(), 30);
    assert_eq!(kv.get::<i64>(&balance).await.unwrap(), Some(70));

    // Another client writes the watched key between WATCH and EXEC: nothing is written.
    let theirs = other.kv();
    let raced = kv
        .transaction(&[&balance], |snapshot| async move {
            theirs.set(keys.0, &1_000_i64, None).await?;
            transfer(&snapshot, keys, 30)
        })
        .await
        .unwrap();
    assert!(raced.is_none(), "EXEC must fail after a watched write");
    assert_eq!(kv.get::<i64>(&balance).await.unwrap(), Some(1_000));
    assert_eq!(kv.get::<i64>(&spent).await.unwrap(), Some(30));
}

/// The next message of `events`, within 5 s.
async fn next_message(
    events: &mut polyorm::cache::KvSubscription<Session>,
) -> Result<polyorm::cache::KvMessage<Session>, KvError> {
    tokio::time::timeout(Duration::from_secs(5), events.next())
        .await
        .expect("a message within 5 s")
        .expect("the subscription is open")
}

/// Publish and subscribe through `cache`: typed messages on the channels subscribed to, named
/// as published; a message of another type is an error item, not the end of the stream.
/// `counted`: `publish` counts this subscriber (one server; on a cluster it counts the
/// subscribers of the node that took the `PUBLISH` only).
async fn publish_and_subscribe(cache: &Cache, counted: bool) {
    let kv = cache.kv();
    let mut events = kv.subscribe::<Session>(&["events", "audit"]).await.unwrap();
    let receivers = kv.publish("events", &session(3)).await.unwrap();
    kv.publish("elsewhere", &session(4)).await.unwrap();
    kv.publish("audit", &"not a session").await.unwrap();
    kv.publish("audit", &session(5)).await.unwrap();
    if counted {
        assert_eq!(receivers, 1);
    }
    let first = next_message(&mut events).await.unwrap();
    assert_eq!(
        (first.channel.as_str(), first.value),
        ("events", session(3))
    );
    let wrong = next_message(&mut events).await;
    assert!(
        matches!(&wrong, Err(KvError::Serde { key, .. }) if key == "audit"),
        "{wrong:?}"
    );
    let last = next_message(&mut events).await.unwrap();
    assert_eq!((last.channel.as_str(), last.value), ("audit", session(5)));
    drop(events);
    if counted {
        // Unsubscribed when dropped (the server may take a moment to notice).
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while kv.publish("events", &session(6)).await.unwrap() != 0 {
            assert!(std::time::Instant::now() < deadline, "still subscribed");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

#[tokio::test]
async fn redis_pipelines_and_transactions_that_a_watched_write_aborts() {
    let shared = prefix("kv_batch");
    let build = || {
        Cache::builder()
            .redis_url(REDIS_URL)
            .prefix(&shared)
            .redis_timeout(SLOW_MACHINE)
            .build()
            .unwrap()
    };
    pipelines_and_watched_transactions(&build(), &build(), str::to_owned).await;
}

#[tokio::test]
async fn redis_subscribers_receive_typed_messages_until_they_drop() {
    let cache = Cache::builder()
        .redis_url(REDIS_URL)
        .prefix(prefix("kv_pubsub"))
        .redis_timeout(SLOW_MACHINE)
        .build()
        .unwrap();
    publish_and_subscribe(&cache, true).await;
}

/// Redis Cluster: pipelines and watched transactions when the keys share a hash tag (on a
/// connection to the slot's master), a clear error when they do not, and pub/sub through any
/// node.
#[tokio::test]
async fn redis_cluster_pipelines_transactions_and_pubsub_on_one_hash_tag() {
    let cluster = Cluster::start().await;
    let shared = prefix("kv_cluster");
    let build = || {
        Cache::builder()
            .redis_cluster(cluster.urls())
            .prefix(&shared)
            .redis_timeout(SLOW_MACHINE)
            .build()
            .unwrap()
    };
    let (cache, other) = (build(), build());
    pipelines_and_watched_transactions(&cache, &other, |k| format!("{{acct:7}}:{k}")).await;
    // `{acct:7}` and `{acct:8}` hash to slots 1946 and 13941.
    let mut batch = KvBatch::new();
    batch.incr("{acct:7}:n", 1).incr("{acct:8}:n", 1);
    let err = cache.kv().pipeline(&batch).await.unwrap_err();
    assert!(
        matches!(&err, KvError::CrossSlot { keys } if keys == &["{acct:7}:n", "{acct:8}:n"]),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("give the keys one hash tag"),
        "{err}"
    );
    let err = cache
        .kv()
        .transaction(&["{acct:7}:n", "{acct:8}:n"], |_| async {
            Ok(KvBatch::new())
        })
        .await
        .unwrap_err();
    assert!(matches!(err, KvError::CrossSlot { .. }), "{err:?}");
    assert_eq!(cache.kv().get::<i64>("{acct:8}:n").await.unwrap(), None);
    publish_and_subscribe(&cache, false).await;
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
