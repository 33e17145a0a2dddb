//! [`DatabaseConfig`] from environment variables, the set deployment guides use:
//! `DATABASE_URL`, or `DB_BACKEND`/`DB_HOST`/`DB_PORT`/`DB_NAME`/`DB_USER`/`DB_PASSWORD`, and
//! `DB_SSL` (+ `DB_SSL_CA`, `DB_SSL_CERT`, `DB_SSL_KEY`), `DB_POOL_MAX`. Every one may be
//! given as `<NAME>_FILE` instead (the Docker-secrets convention): the file's contents, one
//! trailing newline removed; `DB_PASSWORD_FILE` is read again for each new connection.

use std::path::PathBuf;

use super::{DatabaseConfig, PasswordSource};
use crate::credentials::{Secret, read_secret_file};
use crate::error::{Error, Result};
use crate::tls::{SslMode, Tls};

/// Every variable [`DatabaseConfig::from_env`] reads (each also as `<NAME>_FILE`).
pub const VARIABLES: &[&str] = &[
    "DATABASE_URL",
    "DB_BACKEND",
    "DB_HOST",
    "DB_PORT",
    "DB_NAME",
    "DB_USER",
    "DB_PASSWORD",
    "DB_SSL",
    "DB_SSL_CA",
    "DB_SSL_CERT",
    "DB_SSL_KEY",
    "DB_POOL_MAX",
];

/// A variable's value: `NAME`, or the contents of the file `NAME_FILE` names.
struct Vars<F: Fn(&str) -> Option<String>>(F);

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    fn get(&self, name: &str) -> Result<Option<String>> {
        let file_var = format!("{name}_FILE");
        match ((self.0)(name), (self.0)(&file_var)) {
            (Some(_), Some(_)) => Err(Error::Config(format!(
                "both `{name}` and `{file_var}` are set; keep one"
            ))),
            (Some(value), None) => Ok(Some(value)),
            (None, Some(path)) => {
                let text = read_secret_file(path.as_ref(), &format!("`{file_var}`"))?;
                Ok(Some(text.expose().to_owned()))
            }
            (None, None) => Ok(None),
        }
    }

    fn parsed<T: std::str::FromStr>(&self, name: &str, what: &str) -> Result<Option<T>> {
        match self.get(name)? {
            Some(text) => text.trim().parse().map(Some).map_err(|_| {
                Error::Config(format!(
                    "`{name}` = `{text}` is not {what}; fix the variable"
                ))
            }),
            None => Ok(None),
        }
    }
}

impl DatabaseConfig {
    /// Reads the process environment; see [`from_lookup`](Self::from_lookup).
    pub fn from_env() -> Result<DatabaseConfig> {
        DatabaseConfig::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the variables `lookup` returns:
    ///
    /// - `DATABASE_URL` (the whole URL), else `DB_HOST` (required), `DB_PORT`, `DB_NAME`
    ///   and `DB_BACKEND` (`postgres` by default; `mysql`, `mariadb`, `mongodb`) make one;
    /// - `DB_USER` and `DB_PASSWORD` replace the URL's; `DB_PASSWORD_FILE` is a
    ///   [`PasswordSource::File`], read for each new connection (rotation without restart);
    /// - `DB_SSL`: a mode name (`verify-full`…) or `true`/`false` (`require`/`disable`), with
    ///   `DB_SSL_CA`, `DB_SSL_CERT` and `DB_SSL_KEY` (paths);
    /// - `DB_POOL_MAX`: the most connections.
    ///
    /// An error names the variable at fault and never repeats a password.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<DatabaseConfig> {
        let vars = Vars(lookup);
        let url = match vars.get("DATABASE_URL")? {
            Some(url) => url,
            None => {
                let host = vars.get("DB_HOST")?.ok_or_else(|| {
                    Error::Config(
                        "no database configured: set `DATABASE_URL`, or `DB_HOST` (with \
                         `DB_PORT`, `DB_NAME`, `DB_USER`, `DB_PASSWORD`)"
                            .to_owned(),
                    )
                })?;
                let backend = vars.get("DB_BACKEND")?.unwrap_or_else(|| "postgres".into());
                let scheme = match backend.as_str() {
                    "postgres" | "postgresql" => "postgres",
                    "mysql" | "mariadb" => "mysql",
                    "mongodb" => "mongodb",
                    other => {
                        return Err(Error::Config(format!(
                            "`DB_BACKEND` = `{other}` is not a backend; use postgres, mysql, \
                             mariadb or mongodb"
                        )));
                    }
                };
                let port = vars
                    .parsed::<u16>("DB_PORT", "a port number")?
                    .map(|p| format!(":{p}"))
                    .unwrap_or_default();
                let name = vars.get("DB_NAME")?.unwrap_or_default();
                format!("{scheme}://{host}{port}/{name}")
            }
        };
        let password = match ((vars.0)("DB_PASSWORD"), (vars.0)("DB_PASSWORD_FILE")) {
            (Some(_), Some(_)) => {
                return Err(Error::Config(
                    "both `DB_PASSWORD` and `DB_PASSWORD_FILE` are set; keep one".to_owned(),
                ));
            }
            (Some(value), None) => Some(PasswordSource::Value(Secret::new(value))),
            (None, Some(path)) => Some(PasswordSource::File(PathBuf::from(path))),
            (None, None) => None,
        };
        let tls = match vars.get("DB_SSL")? {
            Some(mode) => {
                let mode: SslMode = mode
                    .parse()
                    .map_err(|e| Error::Config(format!("`DB_SSL`: {}", strip_config_prefix(&e))))?;
                let mut tls = Tls::new(mode);
                if let Some(ca) = vars.get("DB_SSL_CA")? {
                    tls = tls.ca_file(ca);
                }
                match (vars.get("DB_SSL_CERT")?, vars.get("DB_SSL_KEY")?) {
                    (Some(cert), Some(key)) => tls = tls.client_certificate(cert, key),
                    (None, None) => {}
                    _ => {
                        return Err(Error::Config(
                            "`DB_SSL_CERT` and `DB_SSL_KEY` go together; set both or neither"
                                .to_owned(),
                        ));
                    }
                }
                Some(tls)
            }
            None => None,
        };
        Ok(DatabaseConfig {
            url,
            tls,
            user: vars.get("DB_USER")?,
            password,
            max_connections: vars.parsed("DB_POOL_MAX", "a number of connections")?,
            ..DatabaseConfig::default()
        })
    }
}

fn strip_config_prefix(e: &Error) -> String {
    match e {
        Error::Config(message) => message.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn read(vars: &[(&str, &str)]) -> Result<DatabaseConfig> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        DatabaseConfig::from_lookup(move |name| map.get(name).cloned())
    }

    #[test]
    fn the_db_set_makes_a_url_credentials_tls_and_pool() {
        let config = read(&[
            ("DB_BACKEND", "mariadb"),
            ("DB_HOST", "db.internal"),
            ("DB_PORT", "3307"),
            ("DB_NAME", "shop"),
            ("DB_USER", "app"),
            ("DB_PASSWORD", "pw-from-env"),
            ("DB_SSL", "verify-full"),
            ("DB_SSL_CA", "/etc/ca.pem"),
            ("DB_POOL_MAX", "25"),
        ])
        .unwrap();
        assert_eq!(config.url, "mysql://db.internal:3307/shop");
        assert_eq!(config.user.as_deref(), Some("app"));
        assert_eq!(
            config.password,
            Some(PasswordSource::Value(Secret::new("pw-from-env")))
        );
        assert_eq!(
            config.tls,
            Some(Tls::new(SslMode::VerifyFull).ca_file("/etc/ca.pem"))
        );
        assert_eq!(config.max_connections, Some(25));
    }

    #[test]
    fn file_variables_are_read_and_the_password_file_is_kept_for_rotation() {
        let dir = std::env::temp_dir().join(format!("orm-env-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let url_file = dir.join("url");
        std::fs::write(&url_file, "postgres://h/app\n").unwrap();
        let config = read(&[
            ("DATABASE_URL_FILE", url_file.to_str().unwrap()),
            ("DB_USER", "app"),
            ("DB_PASSWORD_FILE", "/run/secrets/db_password"),
            ("DB_SSL", "true"),
        ])
        .unwrap();
        assert_eq!(config.url, "postgres://h/app");
        assert_eq!(
            config.password,
            Some(PasswordSource::File("/run/secrets/db_password".into()))
        );
        assert_eq!(config.tls, Some(Tls::new(SslMode::Require)));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn errors_name_the_variable_and_never_the_password() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[], "set `DATABASE_URL`, or `DB_HOST`"),
            (
                &[("DB_HOST", "h"), ("DB_PORT", "x")],
                "`DB_PORT` = `x` is not a port",
            ),
            (
                &[("DB_HOST", "h"), ("DB_BACKEND", "oracle")],
                "`DB_BACKEND` = `oracle`",
            ),
            (
                &[("DB_HOST", "h"), ("DB_POOL_MAX", "-1")],
                "`DB_POOL_MAX` = `-1`",
            ),
            (
                &[("DB_HOST", "h"), ("DB_SSL", "strict")],
                "`DB_SSL`: unknown TLS mode",
            ),
            (
                &[
                    ("DB_HOST", "h"),
                    ("DB_PASSWORD", "pw-123"),
                    ("DB_PASSWORD_FILE", "/x"),
                ],
                "both `DB_PASSWORD` and `DB_PASSWORD_FILE`",
            ),
            (
                &[("DATABASE_URL_FILE", "/nonexistent/url")],
                "cannot read the `DATABASE_URL_FILE` file `/nonexistent/url`",
            ),
        ];
        for (vars, expected) in cases {
            let err = read(vars).unwrap_err().to_string();
            assert!(err.contains(expected), "{vars:?}: {err}");
            assert!(!err.contains("pw-123"), "{err}");
        }
    }
}
