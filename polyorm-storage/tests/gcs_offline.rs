//! GCS without a server: no emulator installable from the project's registries answers
//! object_store's GCS client (it uses the XML API: gcp-storage-emulator lacks HEAD, DELETE, list,
//! copy and multipart, fake-gcs-server takes no XML write; docs/gcs-emulators.md), so what can be
//! checked without Google is checked here: configuration from the URL and URL signing with a
//! service account key (V4 signatures are computed locally).

mod common;

use std::time::Duration;

use polyorm_storage::{StorageError, StoreKind, UploadOptions};

#[tokio::test]
async fn a_gcs_store_is_configured_by_url_and_signs_urls_locally_with_their_expiry() {
    let store = common::gcs_builder("http://127.0.0.1:9", "my-bucket", "pre/fix")
        .build()
        .unwrap();
    assert_eq!(store.kind(), StoreKind::Gcs);
    assert_eq!(store.path("a/b.png").as_ref(), "pre/fix/a/b.png");
    let url = store
        .presigned_put("a/b.png", Duration::from_secs(900))
        .await
        .unwrap();
    assert!(url.path().ends_with("/my-bucket/pre/fix/a/b.png"), "{url}");
    let query: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(query["X-Goog-Algorithm"], "GOOG4-RSA-SHA256");
    assert_eq!(query["X-Goog-Expires"], "900");
    assert!(
        query["X-Goog-Credential"].starts_with("test@polyorm-storage.iam.gserviceaccount.com/")
    );
    assert_eq!(
        query["X-Goog-Signature"].len(),
        512,
        "a 2048-bit RSA signature in hex"
    );
}

#[tokio::test]
async fn an_unreachable_gcs_endpoint_is_a_typed_error() {
    // Port 9 (discard) is closed on the test machines: nothing listens there.
    let store = common::gcs_builder("http://127.0.0.1:9", "my-bucket", "")
        .retry(1, Duration::from_secs(2))
        .build()
        .unwrap();
    let err = store
        .upload_bytes("x", vec![1, 2, 3], UploadOptions::new())
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::Unavailable { .. }), "{err:?}");
    assert!(err.to_string().contains("unreachable"), "{err}");
}

#[test]
fn a_bad_url_or_option_is_a_configuration_error() {
    for (url, needle) in [
        ("nope://x", "unknown scheme `nope`"),
        ("not a url", "is not a URL"),
    ] {
        let err = polyorm_storage::StoreBuilder::new("s", url)
            .build()
            .unwrap_err();
        assert!(
            matches!(err, StorageError::Config(_)) && err.to_string().contains(needle),
            "{err}"
        );
    }
    let err = polyorm_storage::StoreBuilder::new("s", "s3://b")
        .option("aws_no_such_key", "1")
        .build()
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("`aws_no_such_key` is not a configuration key"),
        "{err}"
    );
    let err = polyorm_storage::StoreBuilder::new("s", "s3://b")
        .part_size(1 << 20)
        .build()
        .unwrap_err();
    assert!(
        err.to_string().contains("below the service's minimum"),
        "{err}"
    );
}
