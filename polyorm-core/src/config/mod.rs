//! One typed configuration of a database connection ([`DatabaseConfig`]: URL, TLS,
//! credentials, pool), read from the environment ([`DatabaseConfig::from_env`]: `DATABASE_URL`
//! or the `DB_*` set, each also as `*_FILE`) or from `orm.toml` (feature `config`,
//! [`mod@file`]: sections per `ORM_ENV`, environment overrides), the file the CLI reads too.

mod env;
#[cfg(feature = "config")]
mod expand;
#[cfg(feature = "config")]
pub mod file;

use std::path::PathBuf;
use std::time::Duration;

use crate::credentials::{Credentials, PasswordFile, Secret};
use crate::error::Result;
use crate::exec::{Db, PoolOptions};
use crate::tls::Tls;

pub use env::VARIABLES;

/// Where the password of a [`DatabaseConfig`] comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordSource {
    /// This password.
    Value(Secret),
    /// The file at this path, read again for each new connection (a rotated Docker / Vault
    /// secret is used without a restart).
    File(PathBuf),
}

/// How to connect to one database: everything a deployment sets, in one value.
///
/// Its `Debug` never shows a password (the URL's is masked, [`Secret`]s print `***`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct DatabaseConfig {
    /// The connect URL (`postgres://…`, `mysql://…`, `sqlite:…`, `mongodb://…`); it may hold
    /// a user and password, which [`user`](Self::user) / [`password`](Self::password) replace.
    pub url: String,
    /// TLS settings, over the URL's own `sslmode` parameters.
    pub tls: Option<Tls>,
    /// Logs in as this user instead of the URL's.
    pub user: Option<String>,
    /// The password, instead of the URL's.
    pub password: Option<PasswordSource>,
    /// PostgreSQL schema / MySQL database the application works in (used by the CLI).
    pub schema: Option<String>,
    /// Most connections open at once.
    pub max_connections: Option<u32>,
    /// Connections kept open when idle.
    pub min_connections: Option<u32>,
    /// How long a query waits for a connection.
    pub acquire_timeout: Option<Duration>,
    /// Idle connections are closed after this.
    pub idle_timeout: Option<Duration>,
    /// Connections are replaced after this.
    pub max_lifetime: Option<Duration>,
}

impl std::fmt::Debug for DatabaseConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DatabaseConfig")
            .field("url", &crate::exec::redact_url(&self.url))
            .field("tls", &self.tls)
            .field("user", &self.user)
            .field("password", &self.password)
            .field("schema", &self.schema)
            .field("max_connections", &self.max_connections)
            .field("min_connections", &self.min_connections)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("idle_timeout", &self.idle_timeout)
            .field("max_lifetime", &self.max_lifetime)
            .finish()
    }
}

impl DatabaseConfig {
    /// A configuration with only a URL.
    pub fn new(url: impl Into<String>) -> DatabaseConfig {
        DatabaseConfig {
            url: url.into(),
            ..DatabaseConfig::default()
        }
    }

    /// The [`PoolOptions`] this configuration describes: pool sizes and timeouts, TLS, and the
    /// credentials (a password file becomes a provider asked for each new connection).
    pub fn pool_options(&self) -> Result<PoolOptions> {
        let mut options = PoolOptions::new();
        if let Some(n) = self.max_connections {
            options = options.max_connections(n);
        }
        if let Some(n) = self.min_connections {
            options = options.min_connections(n);
        }
        if let Some(t) = self.acquire_timeout {
            options = options.acquire_timeout(t);
        }
        if let Some(t) = self.idle_timeout {
            options = options.idle_timeout(t);
        }
        if let Some(t) = self.max_lifetime {
            options = options.max_lifetime(t);
        }
        if let Some(tls) = &self.tls {
            options = options.tls(tls.clone());
        }
        let user = || {
            self.user
                .clone()
                .or_else(|| url_user(&self.url))
                .ok_or_else(|| {
                    crate::Error::Config(
                        "a password is configured but no user: set DB_USER (or `user` in \
                         orm.toml), or put the user in the URL"
                            .to_owned(),
                    )
                })
        };
        match &self.password {
            Some(PasswordSource::Value(secret)) => {
                options = options.credentials(Credentials::new(user()?, secret.clone()));
            }
            Some(PasswordSource::File(path)) => {
                options = options.credential_provider(PasswordFile::new(user()?, path));
            }
            None => {
                if let Some(user) = &self.user {
                    let password = url_password(&self.url).unwrap_or_default();
                    options = options.credentials(Credentials::new(user, password));
                }
            }
        }
        Ok(options)
    }

    /// Connects as this configuration says.
    pub async fn connect(&self) -> Result<Db> {
        self.pool_options()?.connect(&self.url).await
    }
}

/// The user of `scheme://user[:password]@host/…`, percent-decoded.
fn url_user(url: &str) -> Option<String> {
    let info = user_info(url)?;
    let user = info.split_once(':').map_or(info, |(u, _)| u);
    (!user.is_empty()).then(|| percent_decode(user))
}

/// The password of `scheme://user:password@host/…`, percent-decoded.
fn url_password(url: &str) -> Option<String> {
    Some(percent_decode(user_info(url)?.split_once(':')?.1))
}

fn user_info(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let authority = &rest[..rest.find('/').unwrap_or(rest.len())];
    Some(authority.rsplit_once('@')?.0)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_urls_user_and_password_are_read_percent_decoded() {
        assert_eq!(
            url_user("postgres://app:p%40ss@h/db").as_deref(),
            Some("app")
        );
        assert_eq!(
            url_password("postgres://app:p%40ss@h/db").as_deref(),
            Some("p@ss")
        );
        assert_eq!(url_user("postgres://h/db"), None);
    }

    #[test]
    fn debug_masks_the_urls_password_and_the_secret() {
        let config = DatabaseConfig {
            password: Some(PasswordSource::Value(Secret::new("s3cr3t-value"))),
            ..DatabaseConfig::new("postgres://app:url-pw-123@h/db")
        };
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("s3cr3t") && !shown.contains("url-pw-123"),
            "{shown}"
        );
        assert!(shown.contains("postgres://app:***@h/db"), "{shown}");
    }
}
