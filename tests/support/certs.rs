//! Certificates made at run time for the TLS tests (rcgen): a CA the client trusts, a second
//! CA it does not, and PEM files signed by either, written to a directory of the test's own
//! that a server running as another user (PostgreSQL as `postgres`) can read.

#![allow(dead_code)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, date_time_ymd,
};

/// A certificate authority: its certificate and the key that signs what it issues.
pub struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
    /// The CA certificate's PEM file.
    pub cert: PathBuf,
}

/// A leaf certificate's PEM files.
pub struct Leaf {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Certificate then key in one file (MongoDB's `tlsCertificateKeyFile`).
    pub combined: PathBuf,
}

/// What a leaf certificate is for.
pub enum Use {
    /// A server reachable as these DNS names / IP addresses.
    Server(&'static [&'static str]),
    /// A client logging in as this user (the certificate's common name).
    Client(&'static str),
}

/// A fresh directory for one test's certificates, readable by every user (the keys in it are
/// made readable only by the server that uses them, see [`hand_key_to`]).
pub fn directory(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("orm-tls-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create the certificates' directory");
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

impl Ca {
    /// A new CA named `name`, its certificate written to `dir/<name>.pem`.
    pub fn new(dir: &Path, name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("CA key");
        let issuer = CertifiedIssuer::self_signed(params, key).expect("self-signed CA");
        let cert = dir.join(format!("{name}.pem"));
        write(&cert, &issuer.pem(), 0o644);
        Ca { issuer, cert }
    }

    /// A certificate for `usage`, valid now (or expired since 2021 when `expired`), written to
    /// `dir/<name>.pem` and `dir/<name>.key`.
    pub fn issue(&self, dir: &Path, name: &str, usage: Use, expired: bool) -> Leaf {
        let (names, common_name, purpose) = match usage {
            Use::Server(names) => (
                names.iter().map(|n| (*n).to_owned()).collect(),
                names[0],
                ExtendedKeyUsagePurpose::ServerAuth,
            ),
            Use::Client(user) => (Vec::new(), user, ExtendedKeyUsagePurpose::ClientAuth),
        };
        let mut params = CertificateParams::new(names).expect("leaf params");
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![purpose];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        if expired {
            params.not_before = date_time_ymd(2020, 1, 1);
            params.not_after = date_time_ymd(2021, 1, 1);
        }
        let key = KeyPair::generate().expect("leaf key");
        let cert = params.signed_by(&key, &self.issuer).expect("sign");
        let leaf = Leaf {
            cert: dir.join(format!("{name}.pem")),
            key: dir.join(format!("{name}.key")),
            combined: dir.join(format!("{name}.combined.pem")),
        };
        write(&leaf.cert, &cert.pem(), 0o644);
        write(&leaf.key, &key.serialize_pem(), 0o600);
        write(
            &leaf.combined,
            &format!("{}{}", cert.pem(), key.serialize_pem()),
            0o600,
        );
        leaf
    }
}

fn write(path: &Path, text: &str, mode: u32) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Makes `key` owned by `user` with mode 0600 (PostgreSQL refuses a key others can read, and
/// runs as `postgres` when the tests run as root).
pub fn hand_key_to(key: &Path, user: &str) {
    let out = std::process::Command::new("chown")
        .arg(user)
        .arg(key)
        .output()
        .expect("run chown");
    assert!(out.status.success(), "chown {user} {}", key.display());
}

/// Copies `from` over `to`, keeping `to`'s owner, with `from`'s mode (a server reloading its
/// certificate reads the new one from the same path; a key stays readable by its owner only).
pub fn replace(to: &Path, from: &Path) {
    let text = std::fs::read(from).expect("read the new file");
    std::fs::write(to, text).expect("overwrite the server's file");
    let mode = std::fs::metadata(from).expect("stat").permissions();
    std::fs::set_permissions(to, mode).expect("chmod");
}
