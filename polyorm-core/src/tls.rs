//! TLS settings of a connection, one vocabulary for every backend: [`SslMode`] (PostgreSQL's
//! `sslmode` names) and [`Tls`] (mode, certificate authority, client certificate).
//!
//! Every backend uses rustls: sqlx's rustls for PostgreSQL and MySQL/MariaDB, the MongoDB
//! driver's, and redis' for the cache. What each mode promises:
//!
//! | mode          | encrypted                  | server certificate checked against the CA | host name checked |
//! |---------------|----------------------------|--------------------------------------------|-------------------|
//! | `disable`     | never                      | no                                         | no                |
//! | `prefer`      | when the server offers TLS | no                                         | no                |
//! | `require`     | always, or no connection   | no                                         | no                |
//! | `verify-ca`   | always, or no connection   | yes                                        | no                |
//! | `verify-full` | always, or no connection   | yes                                        | yes               |

use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::Error;

/// How a connection uses TLS; the names are PostgreSQL's `sslmode` values (MySQL's
/// `ssl-mode` spellings are accepted too: `disabled`, `preferred`, `required`, `verify_ca`,
/// `verify_identity`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum SslMode {
    /// Plain TCP, never TLS.
    Disable,
    /// TLS when the server offers it, plain TCP otherwise; the certificate is not checked.
    #[default]
    Prefer,
    /// TLS or no connection; the certificate is not checked (protects against eavesdropping
    /// only, not against a server that impersonates the real one).
    Require,
    /// TLS, and the server's certificate must chain to the trusted CA (any host name).
    VerifyCa,
    /// TLS, the certificate must chain to the trusted CA and name the host connected to.
    VerifyFull,
}

impl SslMode {
    /// The PostgreSQL spelling (`verify-full`).
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// Whether the server's certificate is checked against the trusted CA.
    pub fn verifies_certificate(self) -> bool {
        matches!(self, SslMode::VerifyCa | SslMode::VerifyFull)
    }
}

impl std::fmt::Display for SslMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SslMode {
    type Err = Error;

    /// Reads a mode name (case-insensitive, `-` or `_`); `true`/`on`/`1` mean `require` and
    /// `false`/`off`/`0` mean `disable` (the `DB_SSL=true` convention).
    fn from_str(s: &str) -> Result<Self, Error> {
        let normal = s.trim().to_ascii_lowercase().replace('_', "-");
        Ok(match normal.as_str() {
            "disable" | "disabled" | "false" | "off" | "0" | "no" => SslMode::Disable,
            "prefer" | "preferred" | "allow" => SslMode::Prefer,
            "require" | "required" | "true" | "on" | "1" | "yes" => SslMode::Require,
            "verify-ca" => SslMode::VerifyCa,
            "verify-full" | "verify-identity" => SslMode::VerifyFull,
            _ => {
                return Err(Error::Config(format!(
                    "unknown TLS mode `{s}`; use disable, prefer, require, verify-ca or verify-full"
                )));
            }
        })
    }
}

/// TLS settings for a connection: the [`SslMode`], the CA that signs the server's certificate
/// (else the Mozilla roots), and a client certificate for servers that authenticate clients
/// by certificate. Files are PEM and read when a connection opens (a renewed certificate is
/// used by the next connection).
///
/// ```
/// use polyorm_core::tls::{SslMode, Tls};
/// let tls = Tls::new(SslMode::VerifyFull)
///     .ca_file("/etc/orm/ca.pem")
///     .client_certificate("/etc/orm/client.pem", "/etc/orm/client.key");
/// assert_eq!(tls.mode(), SslMode::VerifyFull);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tls {
    mode: SslMode,
    ca_file: Option<PathBuf>,
    client_cert: Option<PathBuf>,
    client_key: Option<PathBuf>,
}

impl Tls {
    /// TLS in `mode`, trusting the Mozilla roots, no client certificate.
    pub fn new(mode: SslMode) -> Tls {
        Tls {
            mode,
            ..Tls::default()
        }
    }

    /// Trusts the CA certificate(s) in this PEM file (instead of the Mozilla roots).
    pub fn ca_file(mut self, path: impl Into<PathBuf>) -> Tls {
        self.ca_file = Some(path.into());
        self
    }

    /// Presents this client certificate (PEM) and its private key (PEM, PKCS#8 or RSA) to
    /// the server. On MongoDB both must be one file holding the certificate and the key
    /// (the driver's `tlsCertificateKeyFile`): pass the same path twice.
    pub fn client_certificate(mut self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Tls {
        self.client_cert = Some(cert.into());
        self.client_key = Some(key.into());
        self
    }

    /// The mode.
    pub fn mode(&self) -> SslMode {
        self.mode
    }

    /// The trusted CA file, when one is set.
    pub fn ca(&self) -> Option<&Path> {
        self.ca_file.as_deref()
    }

    /// The client certificate and key files, when set.
    pub fn client_cert(&self) -> Option<(&Path, &Path)> {
        Some((self.client_cert.as_deref()?, self.client_key.as_deref()?))
    }

    /// Checks what can be checked before connecting: the files exist, and a CA or client
    /// certificate is not given with `disable`.
    pub fn validate(&self) -> Result<(), Error> {
        let files = [
            ("CA", &self.ca_file),
            ("client certificate", &self.client_cert),
            ("client key", &self.client_key),
        ];
        for (what, file) in files {
            if let Some(path) = file
                && !path.is_file()
            {
                return Err(Error::Config(format!(
                    "the TLS {what} file `{}` does not exist or is not a file; check the path",
                    path.display()
                )));
            }
        }
        if self.mode == SslMode::Disable && (self.ca_file.is_some() || self.client_cert.is_some()) {
            return Err(Error::Config(
                "TLS mode `disable` with a CA or client certificate: the files would be \
                 ignored; choose require, verify-ca or verify-full"
                    .to_owned(),
            ));
        }
        Ok(())
    }
}

/// The TLS parameters a connect URL gives (its mode and certificate files), read by the native
/// drivers, which apply them themselves.
#[cfg(any(feature = "postgres-native", feature = "mysql-native"))]
#[derive(Debug, Default)]
pub(crate) struct UrlTls {
    pub(crate) mode: Option<SslMode>,
    pub(crate) ca: Option<PathBuf>,
    pub(crate) cert: Option<PathBuf>,
    pub(crate) key: Option<PathBuf>,
}

#[cfg(any(feature = "postgres-native", feature = "mysql-native"))]
impl UrlTls {
    /// These settings with `pool`'s over them, as the sqlx drivers apply [`Tls`] to the URL's
    /// options: its mode, and its CA and client certificate where it has them. `names` are the
    /// URL's names of the certificate and key parameters, for the error when only one is given.
    pub(crate) fn under(self, pool: Option<&Tls>, names: (&str, &str)) -> Result<Tls, Error> {
        let mode = pool.map(Tls::mode).or(self.mode).unwrap_or_default();
        let mut tls = Tls::new(mode);
        if let Some(ca) = pool.and_then(Tls::ca).map(PathBuf::from).or(self.ca) {
            tls = tls.ca_file(ca);
        }
        match (pool.and_then(Tls::client_cert), self.cert, self.key) {
            (Some((cert, key)), _, _) => tls = tls.client_certificate(cert, key),
            (None, Some(cert), Some(key)) => tls = tls.client_certificate(cert, key),
            (None, None, None) => {}
            (None, _, _) => {
                let (cert, key) = names;
                return Err(Error::Config(format!(
                    "the URL gives only one of `{cert}` and `{key}`; give both (the client \
                     certificate and its key), or neither"
                )));
            }
        }
        Ok(tls)
    }
}

/// Explains a failed TLS handshake in words that name the cause and what to do, from the
/// error chain of the driver (rustls' certificate errors, or a server without TLS).
#[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
pub(crate) fn explain_failure(error: &(dyn std::error::Error + 'static)) -> Option<&'static str> {
    let mut text = String::new();
    let mut next = Some(error);
    while let Some(e) = next {
        text.push_str(&format!("{e} {e:?} "));
        next = e.source();
    }
    let has = |needle: &str| text.contains(needle);
    Some(if has("NotValidForName") || has("not valid for name") {
        "the server's certificate does not name the host connected to (wrong host name); \
         connect by a name the certificate lists, or use sslmode=verify-ca to skip the \
         host-name check"
    } else if has("Expired") || has("expired") {
        "the server's certificate has expired; renew the server's certificate"
    } else if has("NotValidYet") {
        "the server's certificate is not valid yet; check the clocks of both machines"
    } else if has("UnknownIssuer") || has("unknown issuer") {
        "the server's certificate is signed by an unknown certificate authority; trust its CA \
         with `sslrootcert` / `ssl-ca` / `Tls::ca_file`"
    } else if has("does not support TLS") || has("does not support SSL") {
        "the server does not offer TLS, and the TLS mode requires it; enable TLS on the \
         server or use sslmode=prefer/disable"
    } else if has("CertificateRequired") || has("certificate required") {
        "the server requires a client certificate; give one with `sslcert`/`sslkey` or \
         `Tls::client_certificate`"
    } else if has("BadSignature") || has("UnsupportedSignatureAlgorithm") {
        "the server's certificate signature cannot be verified with the trusted CA"
    } else {
        return None;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_of_every_mode_is_read() {
        for (text, mode) in [
            ("disable", SslMode::Disable),
            ("DISABLED", SslMode::Disable),
            ("false", SslMode::Disable),
            ("prefer", SslMode::Prefer),
            ("preferred", SslMode::Prefer),
            ("require", SslMode::Require),
            ("true", SslMode::Require),
            ("verify-ca", SslMode::VerifyCa),
            ("VERIFY_CA", SslMode::VerifyCa),
            ("verify-full", SslMode::VerifyFull),
            ("verify_identity", SslMode::VerifyFull),
        ] {
            assert_eq!(text.parse::<SslMode>().unwrap(), mode, "{text}");
        }
        let err = "strict".parse::<SslMode>().unwrap_err().to_string();
        assert!(err.contains("unknown TLS mode `strict`"), "{err}");
    }

    #[test]
    fn a_missing_certificate_file_is_named_before_connecting() {
        let err = Tls::new(SslMode::VerifyFull)
            .ca_file("/nonexistent/ca.pem")
            .validate()
            .unwrap_err()
            .to_string();
        assert!(err.contains("TLS CA file `/nonexistent/ca.pem`"), "{err}");
    }
}
