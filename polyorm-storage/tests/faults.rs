//! Faults: the server killed in the middle of an upload, a source that fails, wrong
//! credentials. Each test runs emulators of its own (killed and restarted here).

mod common;

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use common::{Emulator, Kind};
use polyorm_storage::{StorageError, UploadOptions};
use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::Notify;

/// Content produced slowly (1 MiB every 20 ms), failing after `fail_after` bytes if set.
struct SlowSource {
    left: usize,
    fail_after: Option<usize>,
    produced: usize,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl SlowSource {
    fn new(len: usize, fail_after: Option<usize>) -> Self {
        SlowSource {
            left: len,
            fail_after,
            produced: 0,
            sleep: None,
        }
    }
}

impl AsyncRead for SlowSource {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.left == 0 {
            return Poll::Ready(Ok(()));
        }
        if let Some(limit) = self.fail_after
            && self.produced >= limit
        {
            return Poll::Ready(Err(std::io::Error::other("the source broke")));
        }
        if self.produced.is_multiple_of(1 << 20) {
            let sleep = self
                .sleep
                .get_or_insert_with(|| Box::pin(tokio::time::sleep(Duration::from_millis(20))));
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            self.sleep = None;
        }
        let to_next_mib = (1 << 20) - self.produced % (1 << 20);
        let n = buf
            .remaining()
            .min(self.left)
            .min(to_next_mib)
            .min(64 << 10);
        buf.put_slice(&vec![7u8; n]);
        self.left -= n;
        self.produced += n;
        Poll::Ready(Ok(()))
    }
}

async fn killed_mid_upload(kind: Kind) {
    let mut emulator = Emulator::start(kind, None);
    let bucket = common::unique("faults");
    emulator.create_bucket(&bucket).await;
    let store = emulator
        .builder(&bucket, "")
        .part_size(5 << 20)
        .concurrency(1)
        .retry(1, Duration::from_secs(3))
        .build()
        .unwrap();
    // A committed object, to show that the restarted server kept its data.
    store
        .upload_bytes("before", vec![5; 100], UploadOptions::new())
        .await
        .unwrap();
    if kind == Kind::Azure {
        // Azurite writes its metadata to disk every 5 s (LokiJS autosave): let it.
        tokio::time::sleep(Duration::from_secs(6)).await;
    }
    let first_part = Arc::new(Notify::new());
    let signal = first_part.clone();
    let upload = tokio::spawn({
        let store = store.clone();
        async move {
            store
                .upload(
                    "big",
                    SlowSource::new(64 << 20, None),
                    UploadOptions::new().on_progress(move |p| {
                        if p.sent > 0 {
                            signal.notify_one();
                        }
                    }),
                )
                .await
        }
    });
    tokio::time::timeout(Duration::from_secs(60), first_part.notified())
        .await
        .expect("a first part is acknowledged");
    emulator.kill();
    let err = tokio::time::timeout(Duration::from_secs(60), upload)
        .await
        .expect("the upload gives up")
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(err, StorageError::Unavailable { .. }),
        "{}: {err:?}",
        kind.name()
    );
    assert!(err.is_unavailable());
    assert!(err.to_string().contains("nothing was committed"), "{err}");
    // The server comes back with its data: the object is not there, not even in part.
    emulator.restart();
    assert!(!store.exists("big").await.unwrap());
    let listed: Vec<String> = store
        .list(None)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.key)
        .collect();
    assert_eq!(listed, ["before"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn azurite_killed_mid_upload_is_a_typed_error_and_leaves_no_object() {
    killed_mid_upload(Kind::Azure).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3rver_killed_mid_upload_is_a_typed_error_and_leaves_no_object() {
    killed_mid_upload(Kind::S3rver).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn moto_killed_mid_upload_is_a_typed_error() {
    // moto keeps its data in memory: after a restart nothing is left anyway, so only the
    // error is checked here (azurite and s3rver above keep their data across the restart).
    let mut emulator = Emulator::start(Kind::S3, None);
    let bucket = common::unique("faults");
    emulator.create_bucket(&bucket).await;
    let store = emulator
        .builder(&bucket, "")
        .retry(1, Duration::from_secs(3))
        .build()
        .unwrap();
    store
        .upload_bytes("small", vec![1; 10], UploadOptions::new())
        .await
        .unwrap();
    emulator.kill();
    let err = store
        .upload_bytes("x", vec![1; 10], UploadOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::Unavailable { .. }), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_that_fails_mid_upload_leaves_no_object_on_any_store() {
    for kind in [
        Kind::Memory,
        Kind::Local,
        Kind::S3,
        Kind::S3rver,
        Kind::Azure,
    ] {
        let store = common::store_with(kind, |b| b.part_size(5 << 20).concurrency(2)).await;
        for fail_after in [100, 12 << 20] {
            let err = store
                .upload(
                    "broken",
                    SlowSource::new(20 << 20, Some(fail_after)),
                    UploadOptions::new(),
                )
                .await
                .unwrap_err();
            assert!(
                matches!(err, StorageError::Io { .. }),
                "{}: {err:?}",
                kind.name()
            );
            assert!(err.to_string().contains("the source broke"), "{err}");
            assert!(!store.exists("broken").await.unwrap(), "{}", kind.name());
            assert!(
                store.list(None).await.unwrap().is_empty(),
                "{}",
                kind.name()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_credentials_are_a_clear_error() {
    for kind in [Kind::Azure, Kind::S3rver] {
        let emulator = common::shared_handle(kind);
        let bucket = common::unique("creds");
        emulator.create_bucket(&bucket).await;
        let builder = emulator.builder(&bucket, "");
        let builder = match kind {
            Kind::Azure => builder.option(
                "azure_storage_account_key",
                "d3Jvbmcga2V5IHdyb25nIGtleSB3cm9uZyBrZXkgd3Jvbmcga2V5IHdyb25nIGtleSB3cm9uZyBrZXk=",
            ),
            _ => builder.option("aws_access_key_id", "WRONG"),
        };
        let store = builder.build().unwrap();
        let err = store
            .upload_bytes("x", vec![1; 10], UploadOptions::new())
            .await
            .unwrap_err();
        assert!(
            matches!(err, StorageError::Unauthorized { .. }),
            "{}: {err:?}",
            kind.name()
        );
        assert!(err.to_string().contains("refused the credentials"), "{err}");
        let err = store.check().await.unwrap_err();
        assert!(
            matches!(err, StorageError::Unauthorized { .. }),
            "{}: {err:?}",
            kind.name()
        );
    }
}
