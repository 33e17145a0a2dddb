//! A 1 GiB object goes up and comes back down in constant memory. Alone in its test binary,
//! so that the process's peak resident size (VmHWM) measures this upload only.

mod common;

use std::pin::Pin;
use std::task::{Context, Poll};

use futures::StreamExt;
use polyorm_storage::UploadOptions;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, ReadBuf};

const GIB: u64 = 1 << 30;

/// `len` bytes of a repeating pattern (period 251), generated as they are read.
struct Generated {
    left: u64,
    pos: u64,
}

/// The pattern from offset `pos` on, `n` bytes (n ≤ 2 MiB).
fn pattern(pos: u64, n: usize) -> &'static [u8] {
    static BUF: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    let buf = BUF.get_or_init(|| (0..(2 << 20) + 251).map(|i| (i % 251) as u8).collect());
    let start = (pos % 251) as usize;
    &buf[start..start + n]
}

impl AsyncRead for Generated {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = (buf.remaining() as u64).min(self.left).min(2 << 20) as usize;
        buf.put_slice(pattern(self.pos, n));
        self.left -= n as u64;
        self.pos += n as u64;
        Poll::Ready(Ok(()))
    }
}

/// Peak resident set size of this process, in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("Linux /proc");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM");
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_gib_object_streams_up_and_down_in_constant_memory() {
    let dir = std::env::temp_dir().join(common::unique("polyorm-storage-gib"));
    let store = polyorm_storage::StoreBuilder::new("big", format!("file://{}", dir.display()))
        .part_size(8 << 20)
        .concurrency(4)
        .build()
        .unwrap();
    let before = peak_rss();
    let blob = store
        .upload(
            "gib",
            Generated { left: GIB, pos: 0 },
            UploadOptions::new().size(GIB),
        )
        .await
        .unwrap();
    assert_eq!(blob.size, GIB);
    let mut expected = Sha256::new();
    let mut pos = 0u64;
    let mut stream = store.download(&blob).await.unwrap();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        for (i, piece) in chunk.chunks(2 << 20).enumerate() {
            let at = pos + (i as u64) * (2 << 20);
            assert!(
                piece == pattern(at, piece.len()),
                "content differs near {at}"
            );
        }
        expected.update(&chunk);
        pos += chunk.len() as u64;
    }
    assert_eq!(pos, GIB);
    assert_eq!(hex::encode(expected.finalize()), blob.sha256);
    let grown = peak_rss().saturating_sub(before);
    // Parts in flight: 8 MiB × (4 + 1), plus the allocator's slack; far below 1 GiB.
    assert!(grown < 160 << 20, "peak memory grew by {} MiB", grown >> 20);
    eprintln!("1 GiB up and down: peak memory grew by {} MiB", grown >> 20);
    std::fs::remove_dir_all(&dir).unwrap();
}
