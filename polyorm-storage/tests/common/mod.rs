//! Shared by polyorm-storage's tests: the emulators (moto's S3 server, s3rver, azurite), started on kernel-chosen ports and killed with the test process, and a store of
//! each kind with a bucket of its own.

#![allow(dead_code)]

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use polyorm_storage::{Store, StoreBuilder};

/// Azurite's well-known development account and key (public, documented by Microsoft).
pub const AZURE_ACCOUNT: &str = "devstoreaccount1";
pub const AZURE_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// The store kinds every behaviour of the suite runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Memory,
    Local,
    S3,
    /// S3 on s3rver, which (unlike moto) checks presigned URLs' expiry.
    S3rver,
    Gcs,
    Azure,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::Memory => "memory",
            Kind::Local => "local",
            Kind::S3 => "s3",
            Kind::S3rver => "s3rver",
            Kind::Gcs => "gcs",
            Kind::Azure => "azure",
        }
    }
}

/// Where `scripts/storage-emulators.sh install` put the emulators.
pub fn emulators_dir() -> PathBuf {
    std::env::var_os("ORM_STORAGE_EMULATORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/storage-emulators")
        })
}

/// A free TCP port (the kernel's choice).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("bound").port()
}

/// A name no other test (or run) uses: lowercase letters, digits and dashes.
pub fn unique(prefix: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_nanos();
    format!(
        "{prefix}-{}-{}-{}",
        std::process::id(),
        nanos % 1_000_000_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// One emulator process; killed on drop, and by the kernel if the thread that started it
/// (or the test process) dies.
pub struct Emulator {
    pub kind: Kind,
    pub port: u16,
    child: Option<Child>,
    data: Option<PathBuf>,
}

impl Emulator {
    /// Starts the emulator of `kind` on `port` (a free one when `None`) and waits until it
    /// answers. Azurite keeps its data in a directory of its own, so that a restarted
    /// server still has what was committed.
    pub fn start(kind: Kind, port: Option<u16>) -> Emulator {
        let mut e = Emulator {
            kind,
            port: port.unwrap_or_else(free_port),
            child: None,
            data: None,
        };
        if matches!(kind, Kind::Azure | Kind::S3rver) {
            let dir = std::env::temp_dir().join(unique("polyorm-storage-azurite"));
            std::fs::create_dir_all(&dir).expect("azurite's data directory");
            e.data = Some(dir);
        }
        e.restart();
        e
    }

    /// Starts the server again on its port (after [`kill`](Self::kill)).
    pub fn restart(&mut self) {
        let dir = emulators_dir();
        let port = self.port.to_string();
        let mut command = match self.kind {
            Kind::S3 => {
                let mut c = Command::new(dir.join("venv/bin/moto_server"));
                c.args(["-H", "127.0.0.1", "-p", &port]);
                c
            }
            Kind::S3rver => {
                let mut c = Command::new("node");
                c.arg(dir.join("node/node_modules/s3rver/bin/s3rver.js"));
                c.args([
                    "-a",
                    "127.0.0.1",
                    "-p",
                    &port,
                    "--silent",
                    "--no-vhost-buckets",
                    "-d",
                ]);
                c.arg(self.data.as_ref().expect("s3rver data dir"));
                c
            }
            Kind::Azure => {
                let mut c = Command::new("node");
                c.arg(dir.join("node/node_modules/azurite/dist/src/blob/main.js"));
                c.args([
                    "--blobHost",
                    "127.0.0.1",
                    "--blobPort",
                    &port,
                    "--location",
                    self.data
                        .as_ref()
                        .expect("azurite data dir")
                        .to_str()
                        .expect("utf-8 path"),
                    "--silent",
                    "--skipApiVersionCheck",
                    "--disableTelemetry",
                ]);
                c
            }
            Kind::Memory | Kind::Local | Kind::Gcs => unreachable!("no server"),
        };
        command.stdout(Stdio::null()).stderr(Stdio::null());
        // SAFETY: prctl is async-signal-safe and touches no memory of the parent.
        #[allow(unsafe_code)]
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        let child = command.spawn().unwrap_or_else(|e| {
            panic!(
                "the {} emulator does not start ({e}): run `bash scripts/storage-emulators.sh install` (installs into {})",
                self.kind.name(),
                dir.display()
            )
        });
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(90);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if let Some(status) = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten())
            {
                panic!(
                    "the {} emulator exited at start ({status})",
                    self.kind.name()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the {} emulator did not listen on port {} within 90 s",
                self.kind.name(),
                self.port
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Kills the server (SIGKILL) and waits until it is gone.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill the emulator");
            child.wait().expect("reap the emulator");
        }
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Creates bucket (container) `name`.
    pub async fn create_bucket(&self, name: &str) {
        let client = reqwest::Client::new();
        let response = match self.kind {
            Kind::S3 | Kind::S3rver => client
                .put(format!("{}/{name}", self.endpoint()))
                .send()
                .await
                .expect("the S3 server answers"),
            Kind::Azure => {
                let date = httpdate_now();
                let version = "2021-08-06";
                let string_to_sign = format!(
                    "PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:{date}\nx-ms-version:{version}\n/{AZURE_ACCOUNT}/{AZURE_ACCOUNT}/{name}\nrestype:container"
                );
                use base64::Engine;
                let key = base64::engine::general_purpose::STANDARD
                    .decode(AZURE_KEY)
                    .expect("base64 key");
                let sig = base64::engine::general_purpose::STANDARD
                    .encode(hmac_sha256(&key, string_to_sign.as_bytes()));
                client
                    .put(format!(
                        "{}/{AZURE_ACCOUNT}/{name}?restype=container",
                        self.endpoint()
                    ))
                    .header("x-ms-date", date)
                    .header("x-ms-version", version)
                    .header("content-length", "0")
                    .header("authorization", format!("SharedKey {AZURE_ACCOUNT}:{sig}"))
                    .send()
                    .await
                    .expect("azurite answers")
            }
            Kind::Memory | Kind::Local | Kind::Gcs => unreachable!("no buckets"),
        };
        assert!(
            response.status().is_success(),
            "creating bucket {name} on {}: {} {}",
            self.kind.name(),
            response.status(),
            response.text().await.unwrap_or_default()
        );
    }

    /// A builder for a store on bucket `bucket` of this emulator.
    pub fn builder(&self, bucket: &str, prefix: &str) -> StoreBuilder {
        match self.kind {
            Kind::S3 | Kind::S3rver => {
                StoreBuilder::new(self.kind.name(), format!("s3://{bucket}/{prefix}"))
                    .option("aws_endpoint", self.endpoint())
                    .option("aws_allow_http", "true")
                    // s3rver's fixed credentials; moto takes any.
                    .option("aws_access_key_id", "S3RVER")
                    .option("aws_secret_access_key", "S3RVER")
                    .option("aws_region", "us-east-1")
                    .option("aws_virtual_hosted_style_request", "false")
            }
            Kind::Gcs => gcs_builder(&self.endpoint(), bucket, prefix),
            Kind::Azure => StoreBuilder::new(self.kind.name(), format!("az://{bucket}/{prefix}"))
                .option("azure_storage_account_name", AZURE_ACCOUNT)
                .option("azure_storage_account_key", AZURE_KEY)
                .option(
                    "azure_storage_endpoint",
                    format!("{}/{AZURE_ACCOUNT}", self.endpoint()),
                )
                .option("azure_allow_http", "true"),
            Kind::Memory | Kind::Local => unreachable!("no server"),
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.kill();
        if let Some(dir) = &self.data {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The emulators shared by a test binary, started once from a thread that lives as long as
/// the process (the kernel kills them when the process ends: PR_SET_PDEATHSIG follows the
/// starting thread).
pub fn shared(kind: Kind) -> &'static (Kind, u16) {
    static ALL: OnceLock<Vec<(Kind, u16)>> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let emulators: Vec<Emulator> = [Kind::S3, Kind::S3rver, Kind::Azure]
                .into_iter()
                .map(|k| Emulator::start(k, None))
                .collect();
            tx.send(
                emulators
                    .iter()
                    .map(|e| (e.kind, e.port))
                    .collect::<Vec<_>>(),
            )
            .expect("the test waits");
            // Keep them (and this thread) alive until the process exits.
            loop {
                std::thread::park();
            }
        });
        rx.recv()
            .expect("the emulators started (see the panic above)")
    });
    all.iter().find(|(k, _)| *k == kind).expect("started")
}

/// An emulator handle for a shared emulator (not owned: dropping it kills nothing).
pub fn shared_handle(kind: Kind) -> std::mem::ManuallyDrop<Emulator> {
    let (kind, port) = *shared(kind);
    attach(kind, port)
}

/// A handle for an emulator of `kind` that runs on `port`, started by someone else
/// (not owned: dropping it kills nothing).
pub fn attach(kind: Kind, port: u16) -> std::mem::ManuallyDrop<Emulator> {
    std::mem::ManuallyDrop::new(Emulator {
        kind,
        port,
        child: None,
        data: None,
    })
}

/// A fresh store of `kind` (a bucket of its own on the shared emulator, a temp directory,
/// or memory), customised by `f`.
pub async fn store_with(kind: Kind, f: impl FnOnce(StoreBuilder) -> StoreBuilder) -> Store {
    let builder = match kind {
        Kind::Memory => StoreBuilder::new("memory", "memory://"),
        Kind::Local => {
            let dir = std::env::temp_dir().join(unique("polyorm-storage-local"));
            StoreBuilder::new("local", format!("file://{}", dir.display()))
        }
        _ => {
            let emulator = shared_handle(kind);
            let bucket = unique("b");
            emulator.create_bucket(&bucket).await;
            emulator.builder(&bucket, "pre/fix")
        }
    };
    f(builder)
        .build()
        .unwrap_or_else(|e| panic!("{} store: {e}", kind.name()))
}

pub async fn store(kind: Kind) -> Store {
    store_with(kind, |b| b).await
}

/// Deterministic content of `len` bytes.
pub fn content(len: usize, seed: u8) -> Vec<u8> {
    let mut x = u32::from(seed).wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// The date in RFC 1123 format, for Azure's `x-ms-date`.
fn httpdate_now() -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let days = secs / 86400;
    let rem = secs % 86400;
    // Civil from days (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{}, {:02} {} {} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        d,
        MONTHS[(m - 1) as usize],
        y,
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// HMAC-SHA256 (RFC 2104) for signing Azure's container creation.
fn hmac_sha256(key: &[u8], message: &[u8]) -> Vec<u8> {
    use sha2::{Digest, Sha256};
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let inner: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let outer: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let mut h = Sha256::new();
    h.update(&inner);
    h.update(message);
    let inner_hash = h.finalize();
    let mut h = Sha256::new();
    h.update(&outer);
    h.update(inner_hash);
    h.finalize().to_vec()
}

/// A GCS store for `endpoint` (no emulator answers object_store's GCS client: used offline,
/// for configuration and URL signing), with a service account key that signs URLs locally.
pub fn gcs_builder(endpoint: &str, bucket: &str, prefix: &str) -> StoreBuilder {
    let key = serde_json::json!({
        "private_key": TEST_RSA_KEY,
        "private_key_id": "test",
        "client_email": "test@polyorm-storage.iam.gserviceaccount.com",
    })
    .to_string();
    StoreBuilder::new("gcs", format!("gs://{bucket}/{prefix}"))
        .option("google_base_url", endpoint)
        .option("google_service_account_key", key)
        .gcs_credentials(std::sync::Arc::new(
            polyorm_storage::object_store::StaticCredentialProvider::new(
                polyorm_storage::object_store::gcp::GcpCredential {
                    bearer: "offline".into(),
                },
            ),
        ))
}

/// A 2048-bit RSA key made for these tests only (it signs presigned GCS URLs for the
/// emulator; it guards nothing).
pub const TEST_RSA_KEY: &str = include_str!("test-only-rsa-key.pem");
