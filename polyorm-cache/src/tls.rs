//! TLS to Redis (feature `tls`): the [`Tls`] settings the SQL backends use, mapped onto
//! redis' rustls connections (`rediss://`).
//!
//! Redis has no "TLS when offered" negotiation: `prefer` and `disable` leave the URL's scheme
//! as written; `require`, `verify-ca` and `verify-full` connect with TLS (a `redis://` URL is
//! upgraded to `rediss://`), checking as much of the certificate as the mode says.

use polyorm_core::tls::{SslMode, Tls};
use redis::{ConnectionAddr, IntoConnectionInfo, TlsCertificates};

use crate::BuildError;

/// A client for `url` with `tls` applied.
pub(crate) fn client(url: &str, tls: &Tls) -> Result<redis::Client, BuildError> {
    let scheme = url.split("://").next().unwrap_or_default();
    let url = match (tls.mode(), scheme) {
        (SslMode::Disable, "rediss") => {
            return Err(BuildError::Tls(
                "a `rediss://` URL with TLS mode `disable`; use `redis://` or another mode"
                    .to_owned(),
            ));
        }
        (SslMode::Disable | SslMode::Prefer, _) => {
            return redis::Client::open(url).map_err(BuildError::RedisUrl);
        }
        (_, "redis") => format!("rediss{}", &url["redis".len()..]),
        _ => url.to_owned(),
    };
    let info = url
        .as_str()
        .into_connection_info()
        .map_err(BuildError::RedisUrl)?;
    let addr = match info.addr().clone() {
        ConnectionAddr::TcpTls {
            host,
            port,
            tls_params,
            ..
        } => ConnectionAddr::TcpTls {
            host,
            port,
            // `require` checks nothing; `verify-ca` the chain, not the name.
            insecure: tls.mode() == SslMode::Require,
            tls_params,
        },
        other => other,
    };
    let read = |path: &std::path::Path, what: &str| {
        std::fs::read(path).map_err(|e| {
            BuildError::Tls(format!(
                "cannot read the TLS {what} file `{}`: {e}; check the path",
                path.display()
            ))
        })
    };
    let root_cert = tls.ca().map(|ca| read(ca, "CA")).transpose()?;
    let client_tls = match tls.client_cert() {
        Some((cert, key)) => Some(redis::ClientTlsConfig {
            client_cert: read(cert, "client certificate")?,
            client_key: read(key, "client key")?,
        }),
        None => None,
    };
    let unusable = |e: redis::RedisError| {
        BuildError::Tls(format!("the TLS settings for Redis are not usable: {e}"))
    };
    let client = redis::Client::build_with_tls(
        info.set_addr(addr),
        TlsCertificates {
            client_tls,
            root_cert,
        },
    )
    .map_err(unusable)?;
    if tls.mode() != SslMode::VerifyCa {
        return Ok(client);
    }
    // The flag lives in the TLS parameters that `build_with_tls` makes from the files.
    let info = client.get_connection_info().clone();
    let mut addr = info.addr().clone();
    addr.set_danger_accept_invalid_hostnames(true);
    redis::Client::open(info.set_addr(addr)).map_err(unusable)
}
