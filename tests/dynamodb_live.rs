//! The DynamoDB backend (`dynamodb://`) against a live emulator: keys, indexes, conditional
//! writes, transactions, refusals, and hostile strings as values and in filters.
//!
//! Server: `ORM_TEST_DYNAMODB_URL` (default `dynamodb://127.0.0.1:27191?region=us-east-1`,
//! what `bash scripts/dynamodb-server.sh start` runs: moto). An unreachable server fails the
//! tests, unless `ORM_TEST_BACKENDS` is set without `dynamodb`. Each test has its own tables.

use polyorm::prelude::*;

const DEFAULT_URL: &str = "dynamodb://127.0.0.1:27191?region=us-east-1";

/// Tests share tables (`create_table` of one model): one test at a time.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Connects, or `None` when DynamoDB is not among `ORM_TEST_BACKENDS`.
async fn connect(test: &str) -> Option<(Db, tokio::sync::MutexGuard<'static, ()>)> {
    let serial = SERIAL.lock().await;
    if let Ok(backends) = std::env::var("ORM_TEST_BACKENDS")
        && !backends.split(',').any(|b| b.trim() == "dynamodb")
    {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "CI must run every backend, but ORM_TEST_BACKENDS={backends:?} leaves out dynamodb"
            );
        }
        eprintln!("SKIPPED {test}: ORM_TEST_BACKENDS={backends:?} does not include dynamodb");
        return None;
    }
    let url = std::env::var("ORM_TEST_DYNAMODB_URL").unwrap_or_else(|_| DEFAULT_URL.to_owned());
    let db = Db::connect(&url).await.unwrap_or_else(|e| {
        panic!(
            "cannot reach the DynamoDB test server at {url}: {e}\nstart it with \
             `bash scripts/dynamodb-server.sh start` (or leave dynamodb out of ORM_TEST_BACKENDS)"
        )
    });
    Some((db, serial))
}

/// A fresh table for `M`.
async fn fresh<M: Model>(db: &Db) {
    db.drop_table::<M>().await.unwrap();
    db.create_table::<M>().await.unwrap();
}

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "ddb_users")]
struct User {
    #[orm(primary_key, auto_increment)]
    id: i64,
    #[orm(unique)]
    email: String,
    #[orm(index)]
    team: String,
    age: i32,
    nickname: Option<String>,
    score: f64,
}

fn user(email: &str, team: &str, age: i32) -> User {
    User {
        id: 0,
        email: email.to_owned(),
        team: team.to_owned(),
        age,
        nickname: None,
        score: f64::from(age) / 4.0,
    }
}

#[tokio::test]
async fn crud_by_key_reads_back_every_value() {
    let Some((db, _serial)) = connect("crud").await else {
        return;
    };
    fresh::<User>(&db).await;
    let mut ann = user("ann@example.com", "red", 31)
        .insert(&db)
        .await
        .unwrap();
    let bob = user("bob@example.com", "blue", 42)
        .insert(&db)
        .await
        .unwrap();
    assert_eq!((ann.id, bob.id), (1, 2), "keys come from the counter");
    assert_eq!(User::find(&db, ann.id).await.unwrap(), Some(ann.clone()));
    assert_eq!(User::find(&db, 99).await.unwrap(), None);

    ann.nickname = Some("annie".into());
    ann.age = 32;
    ann.update(&db).await.unwrap();
    assert_eq!(User::find(&db, ann.id).await.unwrap(), Some(ann.clone()));
    ann.nickname = None;
    ann.update(&db).await.unwrap();
    let back = User::find(&db, ann.id).await.unwrap().unwrap();
    assert_eq!(back.nickname, None, "a NULL removes the attribute");

    assert!(bob.delete(&db).await.unwrap());
    assert!(
        !bob.delete(&db).await.unwrap(),
        "a second delete finds nothing"
    );
    assert_eq!(User::find(&db, bob.id).await.unwrap(), None);
    let missing = User {
        id: 77,
        ..ann.clone()
    };
    assert!(matches!(
        missing.update(&db).await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn existing_key_and_taken_unique_value_are_unique_violations() {
    let Some((db, _serial)) = connect("unique").await else {
        return;
    };
    fresh::<User>(&db).await;
    let ann = user("ann@example.com", "red", 31)
        .insert(&db)
        .await
        .unwrap();
    let again = User { ..ann.clone() };
    let err = User::insert_many(&db, &[again]).await.unwrap_err();
    assert!(matches!(err, Error::UniqueViolation { .. }), "{err:?}");

    let err = user("ann@example.com", "blue", 5)
        .insert(&db)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UniqueViolation { .. }), "{err:?}");
    assert_eq!(
        User::query().allow_scan().count(&db).await.unwrap(),
        1,
        "nothing half-written"
    );

    // Changing the unique value frees the old one and takes the new one.
    let mut ann = ann;
    ann.email = "ann@new.example".into();
    ann.update(&db).await.unwrap();
    user("ann@example.com", "blue", 5)
        .insert(&db)
        .await
        .unwrap();
    let err = user("ann@new.example", "blue", 6)
        .insert(&db)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::UniqueViolation { .. }), "{err:?}");
    // Deleting frees it too.
    ann.delete(&db).await.unwrap();
    user("ann@new.example", "blue", 6)
        .insert(&db)
        .await
        .unwrap();
}

#[tokio::test]
async fn queries_use_the_index_or_need_allow_scan() {
    let Some((db, _serial)) = connect("index").await else {
        return;
    };
    fresh::<User>(&db).await;
    let rows: Vec<User> = (0..30)
        .map(|i| {
            user(
                &format!("u{i}@x"),
                if i % 3 == 0 { "red" } else { "blue" },
                i,
            )
        })
        .collect();
    assert_eq!(User::insert_many(&db, &rows).await.unwrap(), 30);

    let red = User::query()
        .filter(User::TEAM.eq("red") & User::AGE.ge(9))
        .order_by(User::AGE.desc())
        .all(&db)
        .await
        .unwrap();
    let ages: Vec<i32> = red.iter().map(|u| u.age).collect();
    assert_eq!(ages, [27, 24, 21, 18, 15, 12, 9]);
    assert_eq!(
        User::query()
            .filter(User::TEAM.eq("blue"))
            .count(&db)
            .await
            .unwrap(),
        20
    );

    let err = User::query()
        .filter(User::AGE.gt(3))
        .all(&db)
        .await
        .unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::InvalidQuery(_)), "{err:?}");
    assert!(
        message.contains("`age`") && message.contains("allow_scan"),
        "{message}"
    );

    let page = User::query()
        .filter(User::AGE.gt(3) & User::NICKNAME.is_null())
        .order_by(User::AGE.asc())
        .offset(2)
        .limit(3)
        .allow_scan()
        .all(&db)
        .await
        .unwrap();
    assert_eq!(page.iter().map(|u| u.age).collect::<Vec<_>>(), [6, 7, 8]);
    assert_eq!(
        User::query()
            .filter(User::AGE.lt(10))
            .allow_scan()
            .count(&db)
            .await
            .unwrap(),
        10
    );
    let err = User::query()
        .filter(User::TEAM.eq("red"))
        .consistent_read()
        .all(&db)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("eventually consistent"), "{err}");
}

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "ddb_events", primary_key(stream, seq))]
struct Event {
    stream: String,
    seq: i64,
    kind: String,
    payload: Option<Vec<u8>>,
}

#[tokio::test]
async fn composite_key_queries_by_partition_in_sort_key_order() {
    let Some((db, _serial)) = connect("composite").await else {
        return;
    };
    fresh::<Event>(&db).await;
    let events: Vec<Event> = (1..=120)
        .map(|seq| Event {
            stream: if seq % 2 == 0 { "a".into() } else { "b".into() },
            seq,
            kind: format!("k{}", seq % 5),
            payload: (seq % 7 == 0).then(|| vec![0, 255, seq as u8]),
        })
        .collect();
    // More than one TransactWriteItems of 100.
    assert_eq!(Event::insert_many(&db, &events).await.unwrap(), 120);
    let got = Event::find(&db, ("a".to_owned(), 14))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got, events[13]);

    let last = Event::query()
        .filter(Event::STREAM.eq("a") & Event::SEQ.between(10, 30))
        .order_by(Event::SEQ.desc())
        .limit(3)
        .consistent_read()
        .all(&db)
        .await
        .unwrap();
    assert_eq!(last.iter().map(|e| e.seq).collect::<Vec<_>>(), [30, 28, 26]);
    let k0 = Event::query()
        .filter(Event::STREAM.eq("b") & Event::KIND.eq("k0"))
        .all(&db)
        .await
        .unwrap();
    assert_eq!(
        k0.iter().map(|e| e.seq).collect::<Vec<_>>(),
        [5, 15, 25, 35, 45, 55, 65, 75, 85, 95, 105, 115]
    );

    // Keyset pagination in sort-key order.
    let first = Event::query()
        .filter(Event::STREAM.eq("a"))
        .order_by(Event::SEQ.asc())
        .limit(2)
        .all(&db)
        .await
        .unwrap();
    let next = Event::query()
        .filter(Event::STREAM.eq("a"))
        .order_by(Event::STREAM.asc())
        .order_by(Event::SEQ.asc())
        .after(&first[1])
        .limit(2)
        .all(&db)
        .await
        .unwrap();
    assert_eq!(next.iter().map(|e| e.seq).collect::<Vec<_>>(), [6, 8]);

    let removed = Event::delete_many()
        .filter(Event::STREAM.eq("b") & Event::SEQ.gt(100))
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(removed, 10);
    let changed = Event::update_many()
        .set(Event::KIND, "seen")
        .filter(Event::STREAM.eq("a") & Event::SEQ.le(10))
        .execute(&db)
        .await
        .unwrap();
    assert_eq!(changed, 5);
    assert_eq!(
        Event::query()
            .filter(Event::STREAM.eq("a") & Event::KIND.eq("seen"))
            .count(&db)
            .await
            .unwrap(),
        5
    );
    // No filter: every item, through BatchWriteItem.
    assert_eq!(Event::delete_many().execute(&db).await.unwrap(), 110);
    assert_eq!(Event::query().allow_scan().count(&db).await.unwrap(), 0);
}

#[tokio::test]
async fn transactions_commit_all_or_nothing() {
    let Some((db, _serial)) = connect("tx").await else {
        return;
    };
    fresh::<Event>(&db).await;
    let ev = |seq: i64| Event {
        stream: "t".into(),
        seq,
        kind: "x".into(),
        payload: None,
    };
    let tx = db.begin().await.unwrap();
    ev(1).insert(&tx).await.unwrap();
    ev(2).insert(&tx).await.unwrap();
    assert_eq!(
        Event::find(&db, ("t".into(), 1)).await.unwrap(),
        None,
        "not before commit"
    );
    tx.commit().await.unwrap();
    assert_eq!(
        Event::query()
            .filter(Event::STREAM.eq("t"))
            .count(&db)
            .await
            .unwrap(),
        2
    );

    let tx = db.begin().await.unwrap();
    ev(3).insert(&tx).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(Event::find(&db, ("t".into(), 3)).await.unwrap(), None);

    // A taken key fails the whole commit: item 4 is not written either.
    let tx = db.begin().await.unwrap();
    ev(4).insert(&tx).await.unwrap();
    ev(1).insert(&tx).await.unwrap();
    let err = tx.commit().await.unwrap_err();
    assert!(matches!(err, Error::UniqueViolation { .. }), "{err:?}");
    assert_eq!(Event::find(&db, ("t".into(), 4)).await.unwrap(), None);

    let err = db
        .begin_with(TxOptions::new().read_only())
        .await
        .err()
        .unwrap();
    assert!(matches!(err, Error::Config(_)), "{err:?}");
}

#[tokio::test]
async fn sql_only_shapes_are_refused_by_name() {
    let Some((db, _serial)) = connect("refused").await else {
        return;
    };
    fresh::<User>(&db).await;
    let err = db.execute_raw("DROP TABLE ddb_users").await.unwrap_err();
    assert!(err.to_string().contains("raw SQL on DynamoDB"), "{err}");
    let err = User::query()
        .filter(User::TEAM.eq("red") & User::EMAIL.like("%a_b%"))
        .all(&db)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Unsupported {
                backend: "DynamoDB",
                ..
            }
        ),
        "{err:?}"
    );
    let err = User::query()
        .filter(User::TEAM.eq("red") & User::NICKNAME.ilike("x"))
        .all(&db)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unsupported { .. }), "{err:?}");
    let caps = db.capabilities();
    assert!(!caps.joins && !caps.aggregates && !caps.savepoints && caps.transactions);
}

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "ddb_notes")]
struct Note {
    #[orm(primary_key)]
    slug: String,
    #[orm(index)]
    tag: String,
    body: Option<String>,
    data: Option<serde_json::Value>,
}

/// Strings that would break an expression if they were ever spliced into one.
const HOSTILE: &[&str] = &[
    "",
    " ",
    "#n0",
    ":v0",
    "a = :v0 OR attribute_exists(slug)",
    "') OR 1=1 --",
    "\"quoted\"",
    "$where",
    "{\"$gt\": \"\"}",
    "back\\slash",
    "new\nline\ttab",
    "😀 émoji ∑",
    "%_%",
    "attribute_not_exists(#n0)",
    "SET #n0 = :v1",
];

#[tokio::test]
async fn hostile_strings_are_only_values() {
    let Some((db, _serial)) = connect("hostile").await else {
        return;
    };
    fresh::<Note>(&db).await;
    for (i, s) in HOSTILE.iter().enumerate() {
        let note = Note {
            slug: format!("k{i}-{s}"),
            tag: (*s).to_owned(),
            body: Some((*s).to_owned()),
            data: Some(serde_json::json!({ *s: [*s, i, null, {"nested": *s}] })),
        };
        let tag_is_key = !s.is_empty();
        if tag_is_key {
            note.insert(&db).await.unwrap();
        } else {
            // An empty string cannot be an index key on DynamoDB.
            let err = note.insert(&db).await.unwrap_err();
            assert!(
                matches!(err, Error::InvalidQuery(_) | Error::Database { .. }),
                "{err:?}"
            );
            continue;
        }
        assert_eq!(
            Note::find(&db, note.slug.clone()).await.unwrap(),
            Some(note.clone()),
            "{s:?}"
        );
        let by_tag = Note::query()
            .filter(Note::TAG.eq(*s))
            .all(&db)
            .await
            .unwrap();
        assert_eq!(by_tag, vec![note.clone()], "{s:?}");
        let by_body = Note::query()
            .filter(Note::BODY.eq(*s) & Note::BODY.ne("x"))
            .allow_scan()
            .all(&db)
            .await
            .unwrap();
        assert_eq!(by_body, vec![note.clone()], "{s:?}");
        let prefix = Note::query()
            .filter(
                Note::TAG.eq(*s) & Note::BODY.like(format!("{}%", polyorm::query::escape_like(s))),
            )
            .count(&db)
            .await
            .unwrap();
        assert_eq!(prefix, 1, "{s:?}");
    }
    let total = Note::query().allow_scan().count(&db).await.unwrap();
    assert_eq!(
        total as usize,
        HOSTILE.len() - 1,
        "no filter matched more than its value"
    );
}

/// Many-to-many: a post's tags through a join model.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "ddb_mm_posts", has_many(tags = through(DdbPostTag)))]
struct DdbPost {
    #[orm(primary_key)]
    id: i64,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "ddb_mm_tags")]
struct DdbTag {
    #[orm(primary_key)]
    id: i64,
    name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "ddb_mm_post_tags")]
struct DdbPostTag {
    #[orm(primary_key)]
    id: i64,
    #[orm(belongs_to = DdbPost)]
    post_id: i64,
    #[orm(belongs_to = DdbTag)]
    tag_id: i64,
}

/// A relation's `exists` is a subquery, which DynamoDB cannot run: refused by name when the
/// read is planned (no server needed), for many-to-many as for the other relations.
#[test]
fn relation_exists_is_refused_as_a_subquery() {
    let policy = polyorm::dynamo::ReadPolicy {
        allow_scan: true,
        consistent: false,
    };
    let many_to_many =
        DdbPost::query().filter(DdbPost::tags().exists_where(DdbTag::NAME.eq("rust")));
    let many_to_one =
        DdbPostTag::query().filter(DdbPostTag::post().exists_where(DdbPost::ID.eq(1)));
    for query in [many_to_many.ir().clone(), many_to_one.ir().clone()] {
        let err = polyorm::dynamo::read_plan(&query, policy).unwrap_err();
        assert!(
            matches!(
                err,
                Error::Unsupported {
                    backend: "DynamoDB",
                    construct: "a subquery",
                    ..
                }
            ),
            "{err:?}"
        );
    }
}
