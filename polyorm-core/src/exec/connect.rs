//! The connect options of ONE new connection: the URL's options, then the [`Tls`] settings,
//! then the credentials (fixed, or asked of a [`CredentialProvider`] now, so a rotated
//! password is used by the next connection).
//!
//! The pool of PostgreSQL and MySQL/MariaDB (`super::remote_pool`) opens every connection
//! through [`Connector::open`]: the provider is asked for each new connection, and again after
//! a login the server refused (the password may have been rotated between the provider's
//! answer and the server's change).

// SQLite takes no TLS or credentials: with no other backend, only `PoolOptions` keeps them.
#![cfg_attr(
    not(any(feature = "postgres", feature = "mysql", feature = "mongodb")),
    allow(dead_code, unused_imports)
)]

use crate::credentials::{CredentialProvider, Credentials};
#[cfg(any(feature = "postgres", feature = "mysql", feature = "mongodb"))]
use crate::error::Error;
use crate::error::Result;
#[cfg(any(feature = "postgres", feature = "mysql", feature = "mongodb"))]
use crate::tls::SslMode;
use crate::tls::Tls;

/// How many times a refused login is tried again with credentials asked anew.
#[cfg(any(feature = "postgres", feature = "mysql"))]
const LOGIN_RETRIES: u32 = 8;
/// The pause before the first such retry; it doubles each time (~2.5 s in all).
#[cfg(any(feature = "postgres", feature = "mysql"))]
const LOGIN_RETRY_PAUSE: std::time::Duration = std::time::Duration::from_millis(10);

/// Where the credentials of a new connection come from, beside the URL's own.
#[derive(Clone, Default)]
pub(crate) enum Login {
    /// The URL's user and password.
    #[default]
    Url,
    /// These, for every connection.
    Fixed(Credentials),
    /// Asked of the provider for every connection.
    Provider(std::sync::Arc<dyn CredentialProvider>),
}

impl std::fmt::Debug for Login {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Login::Url => f.write_str("Url"),
            Login::Fixed(c) => f.debug_tuple("Fixed").field(c).finish(),
            Login::Provider(_) => f.write_str("Provider(..)"),
        }
    }
}

impl Login {
    /// The credentials for a connection opened now (`None`: the URL's).
    pub(crate) async fn current(&self) -> Result<Option<Credentials>> {
        Ok(match self {
            Login::Url => None,
            Login::Fixed(c) => Some(c.clone()),
            Login::Provider(p) => Some(p.credentials().await?),
        })
    }
}

/// The connect options of a sqlx database.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) type Options<DB> = <<DB as sqlx::Database>::Connection as sqlx::Connection>::Options;

/// A sqlx database whose connect options take TLS settings and credentials.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) trait TlsLogin: sqlx::Database {
    /// `options` with `tls` applied.
    fn with_tls(options: Options<Self>, tls: &Tls) -> Options<Self>;
    /// `options` logging in as `credentials`.
    fn with_login(options: Options<Self>, credentials: &Credentials) -> Options<Self>;
}

#[cfg(feature = "postgres")]
impl TlsLogin for sqlx::Postgres {
    fn with_tls(options: Options<Self>, tls: &Tls) -> Options<Self> {
        use sqlx::postgres::PgSslMode;
        let mut options = options.ssl_mode(match tls.mode() {
            SslMode::Disable => PgSslMode::Disable,
            SslMode::Prefer => PgSslMode::Prefer,
            SslMode::Require => PgSslMode::Require,
            SslMode::VerifyCa => PgSslMode::VerifyCa,
            SslMode::VerifyFull => PgSslMode::VerifyFull,
        });
        if let Some(ca) = tls.ca() {
            options = options.ssl_root_cert(ca);
        }
        if let Some((cert, key)) = tls.client_cert() {
            options = options.ssl_client_cert(cert).ssl_client_key(key);
        }
        options
    }

    fn with_login(options: Options<Self>, credentials: &Credentials) -> Options<Self> {
        options
            .username(&credentials.user)
            .password(credentials.password.expose())
    }
}

#[cfg(feature = "mysql")]
impl TlsLogin for sqlx::MySql {
    fn with_tls(options: Options<Self>, tls: &Tls) -> Options<Self> {
        use sqlx::mysql::MySqlSslMode;
        let mut options = options.ssl_mode(match tls.mode() {
            SslMode::Disable => MySqlSslMode::Disabled,
            SslMode::Prefer => MySqlSslMode::Preferred,
            SslMode::Require => MySqlSslMode::Required,
            SslMode::VerifyCa => MySqlSslMode::VerifyCa,
            SslMode::VerifyFull => MySqlSslMode::VerifyIdentity,
        });
        if let Some(ca) = tls.ca() {
            options = options.ssl_ca(ca);
        }
        if let Some((cert, key)) = tls.client_cert() {
            options = options.ssl_client_cert(cert).ssl_client_key(key);
        }
        options
    }

    fn with_login(options: Options<Self>, credentials: &Credentials) -> Options<Self> {
        options
            .username(&credentials.user)
            .password(credentials.password.expose())
    }
}

/// Makes the connect options of each new connection to one SQL server.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) struct Connector<DB: TlsLogin> {
    /// The URL's options with the TLS settings applied.
    base: Options<DB>,
    login: Login,
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
impl<DB: TlsLogin> std::fmt::Debug for Connector<DB> {
    // The options hold the password (sqlx's own `Debug` prints it): never shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("login", &self.login)
            .finish_non_exhaustive()
    }
}

#[cfg(any(feature = "postgres", feature = "mysql"))]
impl<DB: TlsLogin> Connector<DB> {
    /// `url_options` (parsed from the URL) with `tls` and `login` applied per connection.
    pub(crate) fn new(url_options: Options<DB>, tls: Option<&Tls>, login: Login) -> Self {
        let base = match tls {
            Some(tls) => DB::with_tls(url_options, tls),
            None => url_options,
        };
        Connector { base, login }
    }

    /// The URL's options with the TLS settings (no credentials of a provider).
    pub(crate) fn url_options(&self) -> &Options<DB> {
        &self.base
    }

    /// The options for one connection logging in as `credentials` (`None`: the URL's).
    fn options(&self, credentials: Option<Credentials>) -> Options<DB> {
        match credentials {
            Some(credentials) => DB::with_login(self.base.clone(), &credentials),
            None => self.base.clone(),
        }
    }

    /// Opens one connection with `open` and the options made now; while the server refuses
    /// the login and the credentials come from a provider, asks it again and retries (up to
    /// [`LOGIN_RETRIES`] times, pausing [`LOGIN_RETRY_PAUSE`] and doubling): a password
    /// rotated between the provider's answer and the server's change costs a short wait, not
    /// an error.
    pub(crate) async fn open<C, F, Fut>(&self, open: F) -> Result<C>
    where
        F: Fn(Options<DB>) -> Fut,
        Fut: std::future::Future<Output = Result<C>>,
    {
        open_with_login(&self.login, |credentials| open(self.options(credentials))).await
    }
}

/// Opens one connection with `open` and the credentials `login` gives now (`None`: the
/// URL's); while the server refuses the login and the credentials come from a provider, asks
/// it again and retries (up to [`LOGIN_RETRIES`] times, pausing [`LOGIN_RETRY_PAUSE`] and
/// doubling). Every driver of a server with logins opens its connections through here.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) async fn open_with_login<C, F, Fut>(login: &Login, open: F) -> Result<C>
where
    F: Fn(Option<Credentials>) -> Fut,
    Fut: std::future::Future<Output = Result<C>>,
{
    let mut pause = LOGIN_RETRY_PAUSE;
    let mut retries = 0;
    loop {
        match open(login.current().await?).await {
            Err(Error::Authentication { .. })
                if matches!(login, Login::Provider(_)) && retries < LOGIN_RETRIES =>
            {
                tokio::time::sleep(pause).await;
                pause *= 2;
                retries += 1;
            }
            outcome => return outcome,
        }
    }
}

/// The MongoDB driver's options for `url` with `tls` and the credentials of `login` (asked
/// once: the driver opens its connections itself, with the credentials it was given).
#[cfg(feature = "mongodb")]
pub(crate) async fn mongodb_options(
    url: &str,
    tls: Option<&Tls>,
    login: &Login,
) -> Result<mongodb::options::ClientOptions> {
    use mongodb::options::{ClientOptions, Credential, Tls as MongoTls};
    let mut options = ClientOptions::parse(url)
        .await
        .map_err(|e| super::mongo::from_mongo(e, None))?;
    if let Some(tls) = tls {
        options.tls = mongodb_tls(tls)?.map(|o| match o {
            Some(o) => MongoTls::Enabled(o),
            None => MongoTls::Disabled,
        });
    }
    if let Some(credentials) = login.current().await? {
        let source = options.credential.as_ref().and_then(|c| c.source.clone());
        options.credential = Some(
            Credential::builder()
                .username(credentials.user)
                .password(credentials.password.expose().to_owned())
                .source(source)
                .build(),
        );
    }
    Ok(options)
}

/// The driver's TLS setting for `tls`: `None` leaves the URL's (`prefer`: MongoDB has no
/// "TLS when offered"), `Some(None)` turns TLS off, `Some(Some(_))` on with these checks.
#[cfg(feature = "mongodb")]
pub(crate) fn mongodb_tls(tls: &Tls) -> Result<Option<Option<mongodb::options::TlsOptions>>> {
    use mongodb::options::TlsOptions;
    let invalid_certificates = match tls.mode() {
        SslMode::Disable => return Ok(Some(None)),
        SslMode::Prefer => return Ok(None),
        SslMode::Require => true,
        SslMode::VerifyCa => {
            // The driver's rustls build checks the host name whenever it checks the chain.
            return Err(Error::Config(
                "MongoDB's driver cannot check the certificate authority without the host \
                 name: use verify-full (connect by a name the certificate lists) or require"
                    .to_owned(),
            ));
        }
        SslMode::VerifyFull => false,
    };
    let cert_key = match tls.client_cert() {
        Some((cert, key)) if cert != key => {
            return Err(Error::Config(format!(
                "MongoDB reads the client certificate and its key from one PEM file; \
                 concatenate `{}` and `{}` into one file and pass its path as both",
                cert.display(),
                key.display()
            )));
        }
        Some((cert, _)) => Some(cert.to_owned()),
        None => None,
    };
    Ok(Some(Some(
        TlsOptions::builder()
            .allow_invalid_certificates(invalid_certificates)
            .ca_file_path(tls.ca().map(ToOwned::to_owned))
            .cert_key_file_path(cert_key)
            .build(),
    )))
}

#[cfg(all(test, feature = "mongodb"))]
mod mongo_tests {
    use super::*;

    #[test]
    fn every_mode_maps_to_the_mongodb_drivers_checks() {
        let get = |mode| mongodb_tls(&Tls::new(mode).ca_file("/ca.pem")).unwrap();
        assert_eq!(get(SslMode::Disable), Some(None));
        assert_eq!(get(SslMode::Prefer), None);
        let on = |mode| get(mode).flatten().unwrap();
        let require = on(SslMode::Require);
        assert_eq!(require.allow_invalid_certificates, Some(true));
        let verify_ca = mongodb_tls(&Tls::new(SslMode::VerifyCa)).unwrap_err();
        assert!(
            verify_ca.to_string().contains("use verify-full"),
            "{verify_ca}"
        );
        let full = on(SslMode::VerifyFull);
        assert_eq!(full.allow_invalid_certificates, Some(false));
        assert_eq!(
            full.ca_file_path.as_deref(),
            Some(std::path::Path::new("/ca.pem"))
        );
        let split = Tls::new(SslMode::VerifyFull).client_certificate("/c.pem", "/k.pem");
        let err = mongodb_tls(&split).unwrap_err().to_string();
        assert!(err.contains("one PEM file"), "{err}");
        let joined = Tls::new(SslMode::VerifyFull).client_certificate("/ck.pem", "/ck.pem");
        let joined = mongodb_tls(&joined).unwrap().flatten().unwrap();
        assert_eq!(
            joined.cert_key_file_path.as_deref(),
            Some(std::path::Path::new("/ck.pem"))
        );
    }

    #[tokio::test]
    async fn credentials_of_a_provider_replace_the_urls_and_keep_its_auth_source() {
        let login = Login::Fixed(Credentials::new("rotated", "s3cret-pw"));
        let options = mongodb_options(
            "mongodb://old:pw@127.0.0.1:1/app?authSource=admin",
            None,
            &login,
        )
        .await
        .unwrap();
        let credential = options.credential.unwrap();
        assert_eq!(credential.username.as_deref(), Some("rotated"));
        assert_eq!(credential.password.as_deref(), Some("s3cret-pw"));
        assert_eq!(credential.source.as_deref(), Some("admin"));
    }
}
