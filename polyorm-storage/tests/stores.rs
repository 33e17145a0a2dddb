//! The behaviour suite, written once and run on every store: memory, a local directory, S3
//! (moto, and s3rver), and Azure (azurite). GCS has no emulator that object_store's client
//! can talk to (see `gcs_offline.rs`). The emulators are installed by
//! `bash scripts/storage-emulators.sh install` and started by the tests on free ports; a
//! missing emulator fails the tests.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Kind, content, store, store_with};
use futures::StreamExt;
use polyorm_storage::object_store::{ObjectStoreExt, PutPayload};
use polyorm_storage::{Lifecycle, StaticKeys, StorageError, Store, UploadOptions};
use sha2::{Digest, Sha256};

fn sha(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Runs each behaviour below as one test per store: `s3::multipart_…`, `azure::…`.
macro_rules! per_store {
    ($($module:ident => $kind:expr),* $(,)?) => {$(
        mod $module {
            use super::*;
            per_store!(@tests $kind;
                small_objects_round_trip_with_their_metadata,
                large_objects_stream_in_parts_and_report_progress,
                progress_is_also_a_stream,
                ranged_reads_return_exactly_the_range,
                missing_objects_are_not_found_errors,
                delete_copy_and_list_work_one_by_one_and_in_batches,
                compressed_and_encrypted_blobs_round_trip_and_a_wrong_key_is_refused,
                an_object_changed_outside_the_orm_fails_its_check,
                lifecycle_expires_objects_by_prefix_and_age,
                presigned_urls_work_until_they_expire,
                public_urls_need_a_public_blob_and_a_base_url,
                resumable_uploads_complete_and_match_their_hash,
                a_missing_bucket_is_a_clear_error,
            );
        }
    )*};
    (@tests $kind:expr; $($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            super::$name($kind).await;
        }
    )*};
}

per_store! {
    memory => Kind::Memory,
    local => Kind::Local,
    s3 => Kind::S3,
    s3rver => Kind::S3rver,
    azure => Kind::Azure,
}

async fn small_objects_round_trip_with_their_metadata(kind: Kind) {
    let store = store(kind).await;
    let data = content(1000, 1);
    let blob = store
        .upload_bytes(
            "a/b c.txt",
            data.clone(),
            UploadOptions::new().content_type("text/plain"),
        )
        .await
        .unwrap();
    assert_eq!(blob.store, kind.name());
    assert_eq!(blob.key, "a/b c.txt");
    assert_eq!(blob.size, 1000);
    assert_eq!(blob.content_type, "text/plain");
    assert_eq!(blob.sha256, sha(&data));
    assert!(blob.is_plain());
    assert_eq!(store.read_all(&blob).await.unwrap(), data);
    assert!(store.exists("a/b c.txt").await.unwrap());
    assert!(!store.exists("a/other").await.unwrap());
    // An empty object too.
    let empty = store
        .upload_bytes("empty", Vec::new(), UploadOptions::new())
        .await
        .unwrap();
    assert_eq!(empty.size, 0);
    assert_eq!(store.read_all(&empty).await.unwrap().len(), 0);
}

/// A store with 5 MiB parts, 2 at once (S3's smallest part size).
async fn multipart_store(kind: Kind) -> Store {
    store_with(kind, |b| b.part_size(5 << 20).concurrency(2)).await
}

async fn large_objects_stream_in_parts_and_report_progress(kind: Kind) {
    let store = multipart_store(kind).await;
    let data = content((12 << 20) + 12345, 2);
    let reports = Arc::new(Mutex::new(Vec::new()));
    let seen = reports.clone();
    let blob = store
        .upload(
            "big.bin",
            &data[..],
            UploadOptions::new()
                .size(data.len() as u64)
                .on_progress(move |p| seen.lock().unwrap().push(p)),
        )
        .await;
    let blob = blob.unwrap();
    assert_eq!(blob.size, data.len() as u64);
    assert_eq!(blob.sha256, sha(&data));
    let reports = reports.lock().unwrap().clone();
    // Three parts acknowledged, then the end.
    assert!(reports.len() >= 4, "{reports:?}");
    assert!(
        reports
            .windows(2)
            .all(|w| w[0].sent <= w[1].sent && w[0].read <= w[1].read)
    );
    let last = reports.last().unwrap();
    assert!(last.finished);
    assert_eq!(
        (last.sent, last.read, last.total),
        (
            data.len() as u64,
            data.len() as u64,
            Some(data.len() as u64)
        )
    );
    assert!(reports[..reports.len() - 1].iter().all(|p| !p.finished));
    // Streaming download, chunk by chunk.
    let mut stream = store.download(&blob).await.unwrap();
    let mut back = Vec::new();
    while let Some(chunk) = stream.next().await {
        back.extend_from_slice(&chunk.unwrap());
    }
    assert!(back == data);
}

async fn progress_is_also_a_stream(kind: Kind) {
    let store = store(kind).await;
    let (options, stream) = UploadOptions::new().progress_stream();
    let blob = store
        .upload_bytes("p", content(300, 3), options)
        .await
        .unwrap();
    let reports: Vec<_> = stream.collect().await;
    assert_eq!(
        reports.last().map(|p| (p.finished, p.read)),
        Some((true, 300)),
        "{reports:?}"
    );
    assert_eq!(blob.size, 300);
}

async fn ranged_reads_return_exactly_the_range(kind: Kind) {
    let data = content(3 << 20, 4);
    for store in [
        store(kind).await,
        store_with(kind, |b| b.compression(3)).await,
    ] {
        let blob = store
            .upload_bytes("r", data.clone(), UploadOptions::new())
            .await
            .unwrap();
        for range in [
            0..2,
            5..100_000,
            (1 << 20) - 3..(2 << 20) + 7,
            (3 << 20) - 10..3 << 20,
            7..7,
        ] {
            let got = store
                .read_range(&blob, range.start as u64..range.end as u64)
                .await
                .unwrap();
            assert!(
                got[..] == data[range.clone()],
                "{range:?} on {}",
                kind.name()
            );
        }
        let err = store.read_range(&blob, 0..(3 << 20) + 1).await.unwrap_err();
        assert!(matches!(err, StorageError::Config(_)), "{err}");
    }
}

async fn missing_objects_are_not_found_errors(kind: Kind) {
    let store = store(kind).await;
    let blob = store
        .upload_bytes("gone", content(10, 5), UploadOptions::new())
        .await
        .unwrap();
    store.delete(&blob).await.unwrap();
    let err = store.read_all(&blob).await.unwrap_err();
    assert!(
        matches!(err, StorageError::NotFound { ref key, .. } if key == "gone"),
        "{err}"
    );
    // Deleting again is not an error.
    store.delete(&blob).await.unwrap();
}

async fn delete_copy_and_list_work_one_by_one_and_in_batches(kind: Kind) {
    let store = store(kind).await;
    let mut blobs = Vec::new();
    for i in 0..5 {
        blobs.push(
            store
                .upload_bytes(
                    &format!("dir/{i}"),
                    content(100 + i, i as u8),
                    UploadOptions::new(),
                )
                .await
                .unwrap(),
        );
    }
    store
        .upload_bytes("other/x", content(1, 9), UploadOptions::new())
        .await
        .unwrap();
    let mut listed: Vec<String> = store
        .list(Some("dir"))
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    listed.sort();
    assert_eq!(listed, ["dir/0", "dir/1", "dir/2", "dir/3", "dir/4"]);
    assert_eq!(store.list(None).await.unwrap().len(), 6);

    let copy = store.copy(&blobs[0], "copies/0").await.unwrap();
    assert_eq!(store.read_all(&copy).await.unwrap(), content(100, 0));
    let n = store
        .copy_many([("dir/1", "copies/1"), ("dir/2", "copies/2")])
        .await
        .unwrap();
    assert_eq!(n, 2);
    assert_eq!(store.list(Some("copies")).await.unwrap().len(), 3);

    let n = store
        .delete_many(["dir/0", "dir/1", "dir/2", "never-was"])
        .await
        .unwrap();
    assert_eq!(n, 4);
    let mut left: Vec<String> = store
        .list(Some("dir"))
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    left.sort();
    assert_eq!(left, ["dir/3", "dir/4"]);
}

async fn compressed_and_encrypted_blobs_round_trip_and_a_wrong_key_is_refused(kind: Kind) {
    let data = content(2_500_000, 6);
    let text = b"attack at dawn ".repeat(100_000);
    let keys = StaticKeys::new("k1", [1; 32]);
    let store = store_with(kind, |b| b.compression(3).encryption(keys.clone())).await;
    for (key, payload) in [("random", &data), ("text", &text)] {
        let blob = store
            .upload_bytes(key, payload.clone(), UploadOptions::new())
            .await
            .unwrap();
        assert_eq!(blob.compression.as_deref(), Some("zstd"));
        assert_eq!(blob.key_id.as_deref(), Some("k1"));
        assert_eq!(blob.size, payload.len() as u64);
        assert_eq!(blob.sha256, sha(payload));
        assert!(store.read_all(&blob).await.unwrap() == payload[..]);
        // The stored bytes are neither the content nor contain it.
        let stored = store
            .object_store()
            .get(&store.path(key))
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        assert_eq!(Some(stored.len() as u64), blob.stored_size);
        assert!(!stored.windows(15).any(|w| w == b"attack at dawn "));
        if key == "text" {
            assert!(
                stored.len() < payload.len() / 10,
                "zstd compressed the text"
            );
        }
    }
    let blob = store
        .upload_bytes("s", text.clone(), UploadOptions::new())
        .await
        .unwrap();
    // Same store, another key under the same id: a clear error, no plaintext.
    let impostor = same_objects_other_keys(&store, StaticKeys::new("k1", [2; 32]));
    let err = impostor.read_all(&blob).await.unwrap_err();
    assert!(
        matches!(err, StorageError::WrongKey { ref key_id, .. } if key_id == "k1"),
        "{err}"
    );
    let unknown = same_objects_other_keys(&store, StaticKeys::new("k2", [1; 32]));
    let err = unknown.read_all(&blob).await.unwrap_err();
    assert!(
        matches!(err, StorageError::UnknownKey { ref key_id } if key_id == "k1"),
        "{err}"
    );
    // Rotation: the old key still reads.
    let rotated = same_objects_other_keys(
        &store,
        StaticKeys::new("k2", [3; 32]).with_old("k1", [1; 32]),
    );
    assert!(rotated.read_all(&blob).await.unwrap() == text[..]);
}

/// A store over the same objects (and prefix) with another key provider.
fn same_objects_other_keys(store: &Store, keys: StaticKeys) -> Store {
    store.with_encryption(keys)
}

async fn an_object_changed_outside_the_orm_fails_its_check(kind: Kind) {
    let store = store(kind).await;
    let blob = store
        .upload_bytes("c", content(5000, 7), UploadOptions::new())
        .await
        .unwrap();
    let mut changed = content(5000, 7);
    changed[4000] ^= 1;
    store
        .object_store()
        .put(&store.path("c"), PutPayload::from(changed))
        .await
        .unwrap();
    let err = store.read_all(&blob).await.unwrap_err();
    assert!(matches!(err, StorageError::Integrity { .. }), "{err}");
    store
        .object_store()
        .put(&store.path("c"), PutPayload::from(content(4000, 7)))
        .await
        .unwrap();
    let err = store.read_all(&blob).await.unwrap_err();
    assert!(matches!(err, StorageError::Integrity { .. }), "{err}");

    // An object of several blocks, whose hash is computed beside the upload and checked
    // block by block as it is read: a byte changed in its third block, a byte missing at
    // its end, a byte more.
    let data = content((3 << 20) + 17, 8);
    let blob = store
        .upload_bytes("d", data.clone(), UploadOptions::new())
        .await
        .unwrap();
    assert_eq!(blob.sha256, sha(&data));
    assert!(store.read_all(&blob).await.unwrap() == data);
    let mut changed = data.clone();
    changed[(2 << 20) + 5] ^= 0x80;
    let mut longer = data.clone();
    longer.push(0);
    for bad in [changed, data[..data.len() - 1].to_vec(), longer] {
        let len = bad.len();
        store
            .object_store()
            .put(&store.path("d"), PutPayload::from(bad))
            .await
            .unwrap();
        let err = store.read_all(&blob).await.unwrap_err();
        assert!(
            matches!(err, StorageError::Integrity { .. }),
            "{len} bytes: {err}"
        );
    }
}

async fn lifecycle_expires_objects_by_prefix_and_age(kind: Kind) {
    let store = store(kind).await;
    for key in ["tmp/1", "tmp/2", "keep/1"] {
        store
            .upload_bytes(key, content(10, 8), UploadOptions::new())
            .await
            .unwrap();
    }
    // Nothing is a day old yet.
    let none = Lifecycle::new()
        .expire("tmp", Duration::from_secs(86400))
        .run(&store)
        .await
        .unwrap();
    assert!(none.is_empty());
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let mut gone = Lifecycle::new()
        .expire("tmp", Duration::from_secs(1))
        .run(&store)
        .await
        .unwrap();
    gone.sort();
    assert_eq!(gone, ["tmp/1", "tmp/2"]);
    let left: Vec<String> = store
        .list(None)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(left, ["keep/1"]);
}

async fn presigned_urls_work_until_they_expire(kind: Kind) {
    let store = store(kind).await;
    let blob = store
        .upload_bytes("signed", content(64, 9), UploadOptions::new())
        .await
        .unwrap();
    if matches!(kind, Kind::Memory | Kind::Local) {
        let err = store
            .presigned_get(&blob, Duration::from_secs(60))
            .await
            .unwrap_err();
        assert!(matches!(err, StorageError::Unsupported { .. }), "{err}");
        assert!(err.to_string().contains("only S3, GCS and Azure"), "{err}");
        let err = store
            .presigned_put("x", Duration::from_secs(60))
            .await
            .unwrap_err();
        assert!(matches!(err, StorageError::Unsupported { .. }), "{err}");
        return;
    }
    let client = reqwest::Client::new();
    let url = store
        .presigned_get(&blob, Duration::from_secs(2))
        .await
        .unwrap();
    let response = client.get(url.clone()).send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    assert_eq!(response.bytes().await.unwrap(), content(64, 9));

    let put = store
        .presigned_put("uploaded", Duration::from_secs(2))
        .await
        .unwrap();
    let mut request = client.put(put.clone()).body(content(33, 10));
    if kind == Kind::Azure {
        request = request.header("x-ms-blob-type", "BlockBlob");
    }
    let response = request.send().await.unwrap();
    assert!(
        response.status().is_success(),
        "{}: {}",
        response.status(),
        response.text().await.unwrap_or_default()
    );
    let uploaded = store
        .blob_of("uploaded", Some("application/x-test"))
        .await
        .unwrap();
    assert_eq!(uploaded.sha256, sha(&content(33, 10)));
    assert_eq!(store.read_all(&uploaded).await.unwrap(), content(33, 10));

    tokio::time::sleep(Duration::from_millis(3100)).await;
    let late = client.get(url).send().await.unwrap();
    let late_put = client
        .put(put)
        .body("late")
        .header("x-ms-blob-type", "BlockBlob")
        .send()
        .await
        .unwrap();
    if kind == Kind::S3 {
        // moto does not check presigned URLs' expiry (s3rver and azurite do, below): the
        // request passes. Should moto learn to, this fails: then assert the refusal here too.
        assert!(late.status().is_success(), "{}", late.status());
        return;
    }
    assert_eq!(
        late.status().as_u16(),
        403,
        "an expired GET URL must be refused"
    );
    assert_eq!(
        late_put.status().as_u16(),
        403,
        "an expired PUT URL must be refused"
    );
}

async fn public_urls_need_a_public_blob_and_a_base_url(kind: Kind) {
    let store = store_with(kind, |b| {
        b.public_base_url("https://cdn.example.com/assets")
    })
    .await;
    let private = store
        .upload_bytes("img/a b.png", content(5, 1), UploadOptions::new())
        .await
        .unwrap();
    let err = store.public_url(&private).unwrap_err();
    assert!(matches!(err, StorageError::NotPublic { .. }), "{err}");
    let public = store
        .upload_bytes(
            "img/a b.png",
            content(5, 1),
            UploadOptions::new().public(true),
        )
        .await
        .unwrap();
    let prefix = if matches!(kind, Kind::Memory | Kind::Local) {
        ""
    } else {
        "pre/fix/"
    };
    assert_eq!(
        store.public_url(&public).unwrap().as_str(),
        format!("https://cdn.example.com/assets/{prefix}img/a%20b.png")
    );
    let bare = store_with(kind, |b| b).await;
    let public = bare
        .upload_bytes("p", content(5, 1), UploadOptions::new().public(true))
        .await
        .unwrap();
    assert!(matches!(
        bare.public_url(&public),
        Err(StorageError::NotPublic { .. })
    ));
}

async fn resumable_uploads_complete_and_match_their_hash(kind: Kind) {
    let store = multipart_store(kind).await;
    let dir = std::env::temp_dir().join(common::unique("polyorm-storage-resume"));
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("source");
    let data = content((11 << 20) + 5, 11);
    std::fs::write(&source, &data).unwrap();
    let state = dir.join("state.json");
    let result = store
        .upload_resumable("resumed", &source, &state, UploadOptions::new())
        .await;
    match kind {
        Kind::Local => {
            let err = result.unwrap_err();
            assert!(matches!(err, StorageError::Unsupported { .. }), "{err}");
        }
        _ => {
            let blob = result.unwrap();
            assert_eq!(blob.sha256, sha(&data));
            assert!(!state.exists(), "the state file is removed at the end");
            assert!(store.read_all(&blob).await.unwrap() == data[..]);
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

async fn a_missing_bucket_is_a_clear_error(kind: Kind) {
    if matches!(kind, Kind::Memory | Kind::Local) {
        // No buckets: a local store creates its directory.
        let store = store(kind).await;
        store.check().await.unwrap();
        return;
    }
    let emulator = common::shared_handle(kind);
    let store = emulator
        .builder(&common::unique("no-such-bucket"), "")
        .build()
        .unwrap();
    let err = store.check().await.unwrap_err();
    assert!(
        matches!(err, StorageError::BucketNotFound { .. }),
        "{kind:?}: {err:?}"
    );
    let err = store
        .upload_bytes("x", content(5, 1), UploadOptions::new())
        .await
        .unwrap_err();
    assert!(
        matches!(err, StorageError::BucketNotFound { .. }),
        "{kind:?}: {err:?}"
    );
    assert!(
        err.to_string().contains("create it, or fix the store URL"),
        "{err}"
    );
}
