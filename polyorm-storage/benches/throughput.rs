//! Upload and download throughput of 1 MiB and 64 MiB objects: polyorm-storage against the same
//! calls made on `object_store` directly, in one run, on a local directory, in memory and on
//! S3 (moto, started here on a free port; `bash scripts/storage-emulators.sh install` first).
//!
//! ```sh
//! cargo bench -p polyorm-storage --bench throughput
//! # only some stores (no emulator needed without s3-moto):
//! ORM_BENCH_STORES=local,memory cargo bench -p polyorm-storage --bench throughput
//! ```
//!
//! `ORM_BENCH_STORES` is a comma-separated list of `local`, `memory` and `s3-moto` (default:
//! all three); moto is started only when `s3-moto` is in it.
//!
//! The ORM also hashes (SHA-256) on the way up and checks size and hash on the way down; the
//! raw calls do neither. Both sides use 8 MiB parts, 4 in flight.

#[path = "../tests/common/mod.rs"]
mod common;

use std::time::Duration;

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures::StreamExt;
use polyorm_storage::object_store::path::Path;
use polyorm_storage::object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};
use polyorm_storage::{Blob, Store, UploadOptions};

const PART: usize = 8 << 20;
const CONCURRENCY: usize = 4;

/// What `raw` does for an upload: one put below a part, else a multipart upload.
async fn raw_put(store: &dyn ObjectStore, path: &Path, data: &Bytes) {
    if data.len() < PART {
        store
            .put(path, PutPayload::from(data.clone()))
            .await
            .unwrap();
    } else {
        let upload = store.put_multipart(path).await.unwrap();
        let mut write = WriteMultipart::new_with_chunk_size(upload, PART);
        for chunk in data.chunks(PART) {
            write.wait_for_capacity(CONCURRENCY).await.unwrap();
            write.put(data.slice_ref(chunk));
        }
        write.finish().await.unwrap();
    }
}

async fn raw_get(store: &dyn ObjectStore, path: &Path) -> usize {
    let mut stream = store.get(path).await.unwrap().into_stream();
    let mut n = 0;
    while let Some(chunk) = stream.next().await {
        n += chunk.unwrap().len();
    }
    n
}

async fn orm_get(store: &Store, blob: &Blob) -> usize {
    let mut stream = store.download(blob).await.unwrap();
    let mut n = 0;
    while let Some(chunk) = stream.next().await {
        n += chunk.unwrap().len();
    }
    n
}

fn throughput(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let wanted =
        std::env::var("ORM_BENCH_STORES").unwrap_or_else(|_| "local,memory,s3-moto".to_owned());
    let wanted: Vec<&str> = wanted.split(',').map(str::trim).collect();
    for name in &wanted {
        assert!(
            ["local", "memory", "s3-moto"].contains(name),
            "ORM_BENCH_STORES: unknown store `{name}`; write local, memory and/or s3-moto"
        );
    }
    let dir = std::env::temp_dir().join(common::unique("polyorm-storage-bench"));
    let mut stores = Vec::new();
    if wanted.contains(&"local") {
        let url = format!("file://{}", dir.display());
        stores.push(("local", polyorm_storage::StoreBuilder::new("local", url)));
    }
    if wanted.contains(&"memory") {
        stores.push((
            "memory",
            polyorm_storage::StoreBuilder::new("memory", "memory://"),
        ));
    }
    let moto = wanted.contains(&"s3-moto").then(|| {
        let moto = common::Emulator::start(common::Kind::S3, None);
        let bucket = common::unique("bench");
        rt.block_on(moto.create_bucket(&bucket));
        stores.push(("s3-moto", moto.builder(&bucket, "")));
        moto
    });
    let stores: Vec<(&str, polyorm_storage::Store)> = stores
        .into_iter()
        .map(|(name, builder)| {
            let store = builder.part_size(PART).concurrency(CONCURRENCY).build();
            (name, store.unwrap())
        })
        .collect();
    let smoke = std::env::var_os("ORM_BENCH_SMOKE").is_some();

    for (store_name, store) in &stores {
        for (size_name, size) in [("1MiB", 1usize << 20), ("64MiB", 64 << 20)] {
            let data = Bytes::from(common::content(size, 3));
            let raw = store.object_store().clone();
            let path = store.path("raw");
            let mut group = c.benchmark_group(format!("upload/{store_name}/{size_name}"));
            group.throughput(Throughput::Bytes(size as u64));
            group.sample_size(10);
            group.measurement_time(Duration::from_secs(if smoke { 1 } else { 10 }));
            group.bench_function(BenchmarkId::from_parameter("object_store"), |b| {
                b.to_async(&rt).iter(|| raw_put(raw.as_ref(), &path, &data));
            });
            group.bench_function(BenchmarkId::from_parameter("polyorm-storage"), |b| {
                b.to_async(&rt).iter(|| async {
                    store
                        .upload_bytes("orm", data.clone(), UploadOptions::new())
                        .await
                        .unwrap()
                });
            });
            group.finish();

            let blob = rt
                .block_on(store.upload_bytes("orm", data.clone(), UploadOptions::new()))
                .unwrap();
            let mut group = c.benchmark_group(format!("download/{store_name}/{size_name}"));
            group.throughput(Throughput::Bytes(size as u64));
            group.sample_size(10);
            group.measurement_time(Duration::from_secs(if smoke { 1 } else { 10 }));
            group.bench_function(BenchmarkId::from_parameter("object_store"), |b| {
                b.to_async(&rt).iter(|| raw_get(raw.as_ref(), &path));
            });
            group.bench_function(BenchmarkId::from_parameter("polyorm-storage"), |b| {
                b.to_async(&rt).iter(|| orm_get(store, &blob));
            });
            group.finish();
        }
    }
    drop(moto);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, throughput);
criterion_main!(benches);
