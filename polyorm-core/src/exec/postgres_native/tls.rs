//! TLS for the native driver: rustls (ring) under tokio-postgres' `MakeTlsConnect`, with the
//! meaning the sqlx driver gives every [`SslMode`] (see [`crate::tls`]): `prefer` and
//! `require` encrypt and accept any certificate, `verify-ca` checks the chain and not the host
//! name, `verify-full` checks both. The CA file, when given, is the trust anchor; else the
//! Mozilla roots (webpki-roots, as sqlx's). Files are read when a connection opens.

use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::Socket;
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

use crate::error::{Error, Result};
use crate::tls::{SslMode, Tls};

/// Makes the TLS session of each connection: one rustls configuration, built from [`Tls`]
/// when the connection opens.
#[derive(Clone)]
pub(crate) struct MakeRustls {
    config: Arc<ClientConfig>,
}

impl MakeRustls {
    /// The rustls configuration `tls` asks for (its files read now). With `disable` it is
    /// never used; it is made anyway so that every connection has one stream type.
    pub(crate) fn new(tls: &Tls) -> Result<MakeRustls> {
        Ok(MakeRustls {
            config: Arc::new(client_config(tls)?),
        })
    }
}

/// The rustls client configuration of `tls`, as sqlx's rustls handshake makes it.
fn client_config(tls: &Tls) -> Result<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Config(format!("rustls refused its own default protocols: {e}")))?;
    let builder = match tls.mode() {
        SslMode::VerifyFull => builder.with_webpki_verifier(webpki(tls, provider)?),
        SslMode::VerifyCa => {
            let chain = Some(webpki(tls, provider.clone())?);
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Lenient { provider, chain }))
        }
        SslMode::Disable | SslMode::Prefer | SslMode::Require => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(Lenient {
                provider,
                chain: None,
            })),
    };
    match tls.client_cert() {
        Some((cert_file, key_file)) => {
            let chain = certificates(cert_file, "client certificate")?;
            let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| {
                Error::Config(format!(
                    "the TLS client key file `{}` holds no readable PEM private key ({e}); \
                     give the key (PKCS#8, PKCS#1 or SEC1) of the client certificate",
                    key_file.display()
                ))
            })?;
            builder.with_client_auth_cert(chain, key).map_err(|e| {
                Error::Config(format!(
                    "the TLS client certificate `{}` and key `{}` do not go together ({e}); \
                     give the key of that certificate",
                    cert_file.display(),
                    key_file.display()
                ))
            })
        }
        None => Ok(builder.with_no_client_auth()),
    }
}

/// webpki's verifier of the server's certificate (chain to the trusted roots, validity,
/// host name).
fn webpki(tls: &Tls, provider: Arc<CryptoProvider>) -> Result<Arc<WebPkiServerVerifier>> {
    let roots = Arc::new(trusted_roots(tls.ca())?);
    WebPkiServerVerifier::builder_with_provider(roots, provider)
        .build()
        .map_err(|e| {
            Error::Config(format!(
                "cannot verify server certificates with the trusted CA ({e}); check the CA file"
            ))
        })
}

/// The CA certificates of `ca`, or the Mozilla roots without one.
fn trusted_roots(ca: Option<&Path>) -> Result<RootCertStore> {
    let Some(ca) = ca else {
        return Ok(RootCertStore::from_iter(
            webpki_roots::TLS_SERVER_ROOTS.iter().cloned(),
        ));
    };
    let mut roots = RootCertStore::empty();
    for cert in certificates(ca, "CA")? {
        roots.add(cert).map_err(|e| {
            Error::Config(format!(
                "the TLS CA file `{}` holds a certificate rustls cannot use as a trust anchor \
                 ({e}); give the PEM certificate of the CA that signs the server's",
                ca.display()
            ))
        })?;
    }
    Ok(roots)
}

/// The PEM certificates in `path` (at least one); `what` names the file in errors.
fn certificates(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let unreadable = |e: &dyn std::fmt::Display| {
        Error::Config(format!(
            "the TLS {what} file `{}` cannot be read as PEM certificates ({e}); check the path \
             and that it holds `-----BEGIN CERTIFICATE-----` blocks",
            path.display()
        ))
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| unreadable(&e))?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| unreadable(&e))?;
    if certs.is_empty() {
        return Err(unreadable(&"no certificate in it"));
    }
    Ok(certs)
}

impl MakeTlsConnect<Socket> for MakeRustls {
    type Stream = RustlsStream;
    type TlsConnect = RustlsConnect;
    type Error = std::convert::Infallible;

    fn make_tls_connect(&mut self, host: &str) -> std::result::Result<RustlsConnect, Self::Error> {
        // tokio-postgres asks for every host, TLS or not (a Unix socket's is empty): a name
        // rustls cannot use is an error only if a handshake is made.
        Ok(RustlsConnect {
            connector: tokio_rustls::TlsConnector::from(self.config.clone()),
            server: ServerName::try_from(host.to_owned()).map_err(|_| host.to_owned()),
        })
    }
}

/// The TLS handshake of one connection.
pub(crate) struct RustlsConnect {
    connector: tokio_rustls::TlsConnector,
    /// The server's name for SNI and `verify-full`, or the host that is not a valid one.
    server: std::result::Result<ServerName<'static>, String>,
}

impl TlsConnect<Socket> for RustlsConnect {
    type Stream = RustlsStream;
    type Error = HandshakeFailed;
    type Future =
        Pin<Box<dyn Future<Output = std::result::Result<RustlsStream, HandshakeFailed>> + Send>>;

    fn connect(self, socket: Socket) -> Self::Future {
        Box::pin(async move {
            let server = self.server.map_err(|host| {
                HandshakeFailed(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("`{host}` is not a host name or IP address TLS can verify"),
                ))
            })?;
            let stream = self
                .connector
                .connect(server, socket)
                .await
                .map_err(HandshakeFailed)?;
            Ok(RustlsStream(Box::new(stream)))
        })
    }
}

/// Why a TLS handshake failed (rustls' error, as tokio-rustls reports it): its own type, so
/// that opening a connection tells it from a network error.
#[derive(Debug)]
pub(crate) struct HandshakeFailed(io::Error);

impl std::fmt::Display for HandshakeFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for HandshakeFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // The rustls error under the I/O error, so that `explain_failure` finds its name.
        self.0
            .get_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// A TLS session over the connection's socket. Boxed: rustls' connection state is large, and
/// a plain-TCP connection carries the stream type too.
pub(crate) struct RustlsStream(Box<tokio_rustls::client::TlsStream<Socket>>);

impl TlsStream for RustlsStream {
    fn channel_binding(&self) -> ChannelBinding {
        // SCRAM then authenticates without channel binding, as on the sqlx driver.
        ChannelBinding::none()
    }
}

impl AsyncRead for RustlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for RustlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

/// What `prefer` and `require` (`chain: None`: any certificate) and `verify-ca` (`chain`:
/// webpki's check of the chain, validity and signatures, letting through only a host name the
/// certificate does not list) accept, as sqlx's verifiers do. The handshake's signatures are
/// checked in every mode.
#[derive(Debug)]
struct Lenient {
    provider: Arc<CryptoProvider>,
    chain: Option<Arc<WebPkiServerVerifier>>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            verified => verified,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
