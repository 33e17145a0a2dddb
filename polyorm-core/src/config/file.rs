//! `orm.toml`: the one configuration file of the library and the CLI (feature `config`).
//! Found by walking up from the working directory (or named by `--config` / `ORM_CONFIG`),
//! read once, checked whole.
//!
//! ```toml
//! [database]
//! url = "postgres://app@db.internal/app"     # ${NAME}: an environment variable
//! schema = "billing"                          # PostgreSQL schema / MySQL database
//! user = "app"
//! password_file = "/run/secrets/db_password"  # or password = "${DB_PASSWORD}"
//! tls = { mode = "verify-full", ca = "certs/ca.pem" }   # cert / key: client certificate
//! pool = { max_connections = 20, acquire_timeout = "5s", max_lifetime = "30m" }
//!
//! [cache]
//! redis_url = "rediss://cache.internal:6380"
//! tls = { mode = "verify-full", ca = "certs/ca.pem" }
//! ttl = "60s"
//!
//! [topology]
//! replicas = ["postgres://app@replica-1/app"]
//!
//! [migrations]
//! dir = "db/migrations"                       # relative to this file
//!
//! [pull]
//! tables = ["users", "orders"]
//! out = "src/models.rs"
//!
//! [verify]
//! owns = ["table audit_log"]
//!
//! # ORM_ENV=production: these keys replace the ones above, key by key.
//! [environments.production.database]
//! url = "postgres://app@db.prod/app"
//! pool = { max_connections = 50 }
//! ```
//!
//! After the file (and its `ORM_ENV` section), environment variables override single keys:
//! `ORM_` + the key path in capitals with `_` for `.` (`ORM_DATABASE_URL`,
//! `ORM_DATABASE_POOL_MAX_CONNECTIONS`, `ORM_CACHE_TLS_MODE`; lists comma-separated) —
//! [`OVERRIDES`] lists them.
//!
//! An unknown key, a value of the wrong type, an unknown `ORM_ENV` or broken TOML is an error
//! naming the file, the line and the key (or the variable): a typo never silently falls back
//! to a default. Relative paths are relative to the file's directory.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use super::expand::expand;
use super::{DatabaseConfig, PasswordSource};
use crate::credentials::Secret;
use crate::tls::{SslMode, Tls};

/// The name the file is looked for under.
pub const FILE_NAME: &str = "orm.toml";

/// The variable that selects a section of `[environments]`.
pub const ENV_VARIABLE: &str = "ORM_ENV";

/// The file to read: `explicit` (`--config`), else the first `orm.toml` in `start` or one of its
/// ancestors.
pub fn locate(explicit: Option<&Path>, start: &Path) -> Option<PathBuf> {
    match explicit {
        Some(path) => Some(path.to_owned()),
        None => start
            .ancestors()
            .map(|dir| dir.join(FILE_NAME))
            .find(|candidate| candidate.is_file()),
    }
}

/// A configuration file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file cannot be read.
    #[error(
        "cannot read the configuration file `{path}`: {source}; check the path given to \
         --config or ORM_CONFIG"
    )]
    Read {
        /// The file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown key, or a value is wrong.
    #[error("invalid configuration file `{path}`, line {line}{}: {message}", key_part(.key))]
    Invalid {
        /// The file.
        path: PathBuf,
        /// 1-based line of the problem.
        line: usize,
        /// The dotted key at fault (`pull.tables`), when the problem is in a key or its value.
        key: Option<String>,
        /// What is wrong and what to do.
        message: String,
    },
    /// An environment variable that overrides a key has a value that does not fit it.
    #[error("the environment variable `{variable}` (overrides `{key}` of `{path}`): {message}")]
    Override {
        /// The file.
        path: PathBuf,
        /// The variable.
        variable: String,
        /// The key it overrides.
        key: String,
        /// What is wrong and what to do.
        message: String,
    },
}

fn key_part(key: &Option<String>) -> String {
    key.as_ref()
        .map(|k| format!(", key `{k}`"))
        .unwrap_or_default()
}

/// Where a value came from: a span of the file, or an environment variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Bytes of the file, under this dotted key (`environments.production.database.url`).
    File {
        /// The dotted key as written.
        key: String,
        /// The value's bytes.
        span: Range<usize>,
    },
    /// An `ORM_…` variable.
    Env(String),
}

/// A value and where it came from, for errors found after reading (the CLI's checks).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located<T> {
    /// The value (with `${NAME}` expanded).
    pub value: T,
    /// Where it was set.
    pub origin: Origin,
}

/// The cache's settings (`[cache]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheConfig {
    /// The Redis server of the shared tier (`redis://` or `rediss://`).
    pub redis_url: Option<String>,
    /// TLS to Redis.
    pub tls: Option<Tls>,
    /// How long an entry lives.
    pub ttl: Option<Duration>,
    /// Most entries of the in-process tier.
    pub max_entries: Option<u64>,
}

/// Where reads may go besides the primary (`[topology]`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopologyConfig {
    /// Read replicas' URLs.
    pub replicas: Vec<String>,
}

/// `orm.toml`, read and checked, with the `ORM_ENV` section and the overrides applied.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigFile {
    /// The file it was read from.
    pub path: PathBuf,
    /// The `[environments]` section applied, when `ORM_ENV` named one.
    pub environment: Option<String>,
    /// `[database]` (its `url` is empty when the file sets none).
    pub database: DatabaseConfig,
    /// `[cache]`.
    pub cache: CacheConfig,
    /// `[topology]`.
    pub topology: TopologyConfig,
    /// `[migrations] dir`, resolved against the file's directory.
    pub migrations_dir: Option<PathBuf>,
    /// `[pull] tables`.
    pub pull_tables: Option<Vec<String>>,
    /// `[pull] out`, resolved against the file's directory.
    pub pull_out: Option<PathBuf>,
    /// `[verify] owns`, each with its place for the CLI's own checks.
    pub verify_owns: Option<Vec<Located<String>>>,
}

impl ConfigFile {
    /// Reads the file at `path` with the process environment (`ORM_ENV`, overrides, `${NAME}`).
    pub fn load(path: &Path) -> Result<ConfigFile, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        ConfigFile::parse(path, &text, |name| std::env::var(name).ok())
    }

    /// Checks `text`, the contents of the file at `path`, with environment variables from
    /// `env`.
    pub fn parse(
        path: &Path,
        text: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<ConfigFile, ConfigError> {
        let source = Source { path, text };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            source.invalid(span, e.message().trim_end().to_owned())
        })?;
        let mut values = Values::default();
        let top = RawSections {
            database: raw.database,
            cache: raw.cache,
            topology: raw.topology,
            migrations: raw.migrations,
            pull: raw.pull,
            verify: raw.verify,
        };
        values.take("", top);
        let environment = env(ENV_VARIABLE).filter(|e| !e.is_empty());
        if let Some(name) = &environment {
            let mut environments = raw.environments;
            let Some(section) = environments.remove(name) else {
                let known: Vec<_> = environments.keys().map(String::as_str).collect();
                return Err(ConfigError::Invalid {
                    path: path.to_owned(),
                    line: 1,
                    key: Some("environments".to_owned()),
                    message: format!(
                        "`{ENV_VARIABLE}={name}` names no `[environments.{name}]` section; \
                         the file has: {}",
                        if known.is_empty() {
                            "none".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ),
                });
            };
            values.take(&format!("environments.{name}."), section);
        }
        values.apply_overrides(&env, path)?;
        Reader {
            source,
            env: &env,
            values,
        }
        .build(environment)
    }

    /// The `[database] url`, when the file (or an override) sets one.
    pub fn database_url(&self) -> Option<&str> {
        (!self.database.url.is_empty()).then_some(self.database.url.as_str())
    }

    /// The error for `message` about the value at `origin` (for checks made after reading).
    pub fn error_at(&self, text: &str, origin: &Origin, message: String) -> ConfigError {
        match origin {
            Origin::File { key, span } => ConfigError::Invalid {
                path: self.path.clone(),
                line: line_of(text, span.start),
                key: Some(key.clone()),
                message,
            },
            Origin::Env(variable) => ConfigError::Override {
                path: self.path.clone(),
                variable: variable.clone(),
                key: override_key(variable).unwrap_or_default().to_owned(),
                message,
            },
        }
    }
}

/// Every key an environment variable can override: the key and its kind.
pub const OVERRIDES: &[(&str, Kind)] = &[
    ("database.url", Kind::Text),
    ("database.schema", Kind::Text),
    ("database.user", Kind::Text),
    ("database.password", Kind::Text),
    ("database.password_file", Kind::Text),
    ("database.tls.mode", Kind::Text),
    ("database.tls.ca", Kind::Text),
    ("database.tls.cert", Kind::Text),
    ("database.tls.key", Kind::Text),
    ("database.pool.max_connections", Kind::Integer),
    ("database.pool.min_connections", Kind::Integer),
    ("database.pool.acquire_timeout", Kind::Text),
    ("database.pool.idle_timeout", Kind::Text),
    ("database.pool.max_lifetime", Kind::Text),
    ("cache.redis_url", Kind::Text),
    ("cache.tls.mode", Kind::Text),
    ("cache.tls.ca", Kind::Text),
    ("cache.tls.cert", Kind::Text),
    ("cache.tls.key", Kind::Text),
    ("cache.ttl", Kind::Text),
    ("cache.max_entries", Kind::Integer),
    ("topology.replicas", Kind::List),
    ("migrations.dir", Kind::Text),
    ("pull.tables", Kind::List),
    ("pull.out", Kind::Text),
    ("verify.owns", Kind::List),
];

/// The type of an overridable key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A string.
    Text,
    /// A non-negative integer.
    Integer,
    /// A list of strings (comma-separated in a variable).
    List,
}

/// The variable that overrides `key` (`database.pool.max_connections` →
/// `ORM_DATABASE_POOL_MAX_CONNECTIONS`).
pub fn override_variable(key: &str) -> String {
    format!("ORM_{}", key.replace('.', "_").to_ascii_uppercase())
}

fn override_key(variable: &str) -> Option<&'static str> {
    OVERRIDES
        .iter()
        .map(|(key, _)| *key)
        .find(|key| override_variable(key) == variable)
}

/// A value of the file (as written, `${NAME}` not yet expanded) or of a variable.
#[derive(Debug, Clone)]
enum Raw {
    Text(String),
    Integer(i64),
    List(Vec<(String, Range<usize>)>),
}

/// Every key set, by its path without the environment prefix (`database.url`), the last
/// setting winning.
#[derive(Debug, Default)]
struct Values(BTreeMap<&'static str, (Raw, Origin)>);

impl Values {
    fn set(&mut self, key: &'static str, prefix: &str, raw: Raw, span: Range<usize>) {
        let origin = Origin::File {
            key: format!("{prefix}{key}"),
            span,
        };
        self.0.insert(key, (raw, origin));
    }

    /// Takes every key set in `sections` (the top level, or `environments.<name>.`).
    fn take(&mut self, prefix: &str, s: RawSections) {
        let d = s.database;
        if d.password.is_some() || d.password_file.is_some() {
            // A section that sets one way of giving the password replaces the other.
            self.0.remove("database.password");
            self.0.remove("database.password_file");
        }
        let mut text = |key, value: Option<Spanned<String>>| {
            if let Some(v) = value {
                let span = v.span();
                self.set(key, prefix, Raw::Text(v.into_inner()), span);
            }
        };
        text("database.url", d.url);
        text("database.schema", d.schema);
        text("database.user", d.user);
        text("database.password", d.password);
        text("database.password_file", d.password_file);
        let tls = |values: &mut Values, base: &'static [&'static str; 4], t: RawTls| {
            for (key, value) in base.iter().zip([t.mode, t.ca, t.cert, t.key]) {
                if let Some(v) = value {
                    let span = v.span();
                    values.set(key, prefix, Raw::Text(v.into_inner()), span);
                }
            }
        };
        let p = d.pool;
        let c = s.cache;
        let integer = |values: &mut Values, key, value: Option<Spanned<i64>>| {
            if let Some(v) = value {
                let span = v.span();
                values.set(key, prefix, Raw::Integer(v.into_inner()), span);
            }
        };
        integer(self, "database.pool.max_connections", p.max_connections);
        integer(self, "database.pool.min_connections", p.min_connections);
        integer(self, "cache.max_entries", c.max_entries);
        let text = |values: &mut Values, key, value: Option<Spanned<String>>| {
            if let Some(v) = value {
                let span = v.span();
                values.set(key, prefix, Raw::Text(v.into_inner()), span);
            }
        };
        text(self, "database.pool.acquire_timeout", p.acquire_timeout);
        text(self, "database.pool.idle_timeout", p.idle_timeout);
        text(self, "database.pool.max_lifetime", p.max_lifetime);
        text(self, "cache.redis_url", c.redis_url);
        text(self, "cache.ttl", c.ttl);
        text(self, "migrations.dir", s.migrations.dir);
        text(self, "pull.out", s.pull.out);
        tls(self, &DATABASE_TLS, d.tls);
        tls(self, &CACHE_TLS, c.tls);
        let list = |values: &mut Values, key, value: Option<Spanned<Vec<Spanned<String>>>>| {
            if let Some(v) = value {
                let span = v.span();
                let items = v
                    .into_inner()
                    .into_iter()
                    .map(|item| {
                        let span = item.span();
                        (item.into_inner(), span)
                    })
                    .collect();
                values.set(key, prefix, Raw::List(items), span);
            }
        };
        list(self, "topology.replicas", s.topology.replicas);
        list(self, "pull.tables", s.pull.tables);
        list(self, "verify.owns", s.verify.owns);
    }

    /// Replaces keys with the `ORM_…` variables that are set.
    fn apply_overrides(
        &mut self,
        env: &impl Fn(&str) -> Option<String>,
        path: &Path,
    ) -> Result<(), ConfigError> {
        for (key, kind) in OVERRIDES {
            let variable = override_variable(key);
            let Some(value) = env(&variable) else {
                continue;
            };
            let raw = match kind {
                Kind::Text => Raw::Text(value),
                Kind::Integer => {
                    Raw::Integer(value.trim().parse().map_err(|_| ConfigError::Override {
                        path: path.to_owned(),
                        variable: variable.clone(),
                        key: (*key).to_owned(),
                        message: format!("`{value}` is not a whole number"),
                    })?)
                }
                Kind::List => Raw::List(
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|item| !item.is_empty())
                        .map(|item| (item.to_owned(), 0..0))
                        .collect(),
                ),
            };
            self.0.insert(key, (raw, Origin::Env(variable)));
        }
        Ok(())
    }
}

const DATABASE_TLS: [&str; 4] = [
    "database.tls.mode",
    "database.tls.ca",
    "database.tls.cert",
    "database.tls.key",
];
const CACHE_TLS: [&str; 4] = [
    "cache.tls.mode",
    "cache.tls.ca",
    "cache.tls.cert",
    "cache.tls.key",
];

/// Builds the typed configuration from the values, checking each.
struct Reader<'a, F: Fn(&str) -> Option<String>> {
    source: Source<'a>,
    env: &'a F,
    values: Values,
}

impl<F: Fn(&str) -> Option<String>> Reader<'_, F> {
    fn error(&self, origin: &Origin, message: String) -> ConfigError {
        match origin {
            Origin::File { key, span } => self.source.invalid_at(key, span.clone(), message),
            Origin::Env(variable) => ConfigError::Override {
                path: self.source.path.to_owned(),
                variable: variable.clone(),
                key: override_key(variable).unwrap_or_default().to_owned(),
                message,
            },
        }
    }

    fn expand(&self, text: &str, origin: &Origin) -> Result<String, ConfigError> {
        expand(text, self.env).map_err(|e| self.error(origin, e.to_string()))
    }

    fn text(&self, key: &str) -> Result<Option<String>, ConfigError> {
        match self.values.0.get(key) {
            Some((Raw::Text(text), origin)) => self.expand(text, origin).map(Some),
            Some((_, origin)) => Err(self.error(origin, "expected a string".to_owned())),
            None => Ok(None),
        }
    }

    fn path(&self, key: &str) -> Result<Option<PathBuf>, ConfigError> {
        let base = self.source.path.parent().unwrap_or(Path::new("."));
        Ok(self.text(key)?.map(|p| base.join(p)))
    }

    fn integer<T: TryFrom<i64>>(&self, key: &str) -> Result<Option<T>, ConfigError> {
        match self.values.0.get(key) {
            Some((Raw::Integer(n), origin)) => T::try_from(*n).map(Some).map_err(|_| {
                self.error(origin, format!("{n} is out of range (a count, 0 or more)"))
            }),
            Some((_, origin)) => Err(self.error(origin, "expected a whole number".to_owned())),
            None => Ok(None),
        }
    }

    fn duration(&self, key: &str) -> Result<Option<Duration>, ConfigError> {
        let Some(text) = self.text(key)? else {
            return Ok(None);
        };
        parse_duration(&text).map(Some).ok_or_else(|| {
            let origin = &self.values.0[key].1;
            self.error(
                origin,
                format!(
                    "`{text}` is not a duration; write e.g. \"500ms\", \"30s\", \"10m\", \"1h\""
                ),
            )
        })
    }

    fn list(&self, key: &str) -> Result<Option<Vec<Located<String>>>, ConfigError> {
        match self.values.0.get(key) {
            Some((Raw::List(items), origin)) => items
                .iter()
                .map(|(text, span)| {
                    let origin = match origin {
                        Origin::File { key, .. } => Origin::File {
                            key: key.clone(),
                            span: span.clone(),
                        },
                        env => env.clone(),
                    };
                    Ok(Located {
                        value: self.expand(text, &origin)?,
                        origin,
                    })
                })
                .collect::<Result<_, _>>()
                .map(Some),
            Some((_, origin)) => Err(self.error(origin, "expected a list of strings".to_owned())),
            None => Ok(None),
        }
    }

    fn tls(&self, keys: &[&str; 4]) -> Result<Option<Tls>, ConfigError> {
        let [mode, ca, cert, key] = keys;
        let Some(mode_text) = self.text(mode)? else {
            if let Some(set) = keys.iter().find(|k| self.values.0.contains_key(**k)) {
                let origin = &self.values.0[*set].1;
                return Err(self.error(
                    origin,
                    format!("`{mode}` is not set; say which TLS mode the files are for"),
                ));
            }
            return Ok(None);
        };
        let parsed: SslMode = mode_text.parse().map_err(|e: crate::Error| {
            self.error(
                &self.values.0[*mode].1,
                e.to_string().replace("configuration error: ", ""),
            )
        })?;
        let mut tls = Tls::new(parsed);
        if let Some(ca) = self.path(ca)? {
            tls = tls.ca_file(ca);
        }
        match (self.path(cert)?, self.path(key)?) {
            (Some(c), Some(k)) => tls = tls.client_certificate(c, k),
            (None, None) => {}
            _ => {
                let set = if self.values.0.contains_key(*cert) {
                    cert
                } else {
                    key
                };
                return Err(self.error(
                    &self.values.0[*set].1,
                    "`cert` and `key` go together; set both or neither".to_owned(),
                ));
            }
        }
        Ok(Some(tls))
    }

    fn build(self, environment: Option<String>) -> Result<ConfigFile, ConfigError> {
        let password = match (
            self.text("database.password")?,
            self.path("database.password_file")?,
        ) {
            (Some(_), Some(_)) => {
                return Err(self.error(
                    &self.values.0["database.password_file"].1,
                    "`password` and `password_file` are both set; keep one".to_owned(),
                ));
            }
            (Some(p), None) => Some(PasswordSource::Value(Secret::new(p))),
            (None, Some(file)) => Some(PasswordSource::File(file)),
            (None, None) => None,
        };
        let database = DatabaseConfig {
            url: self.text("database.url")?.unwrap_or_default(),
            tls: self.tls(&DATABASE_TLS)?,
            user: self.text("database.user")?,
            password,
            schema: self.text("database.schema")?,
            max_connections: self.integer("database.pool.max_connections")?,
            min_connections: self.integer("database.pool.min_connections")?,
            acquire_timeout: self.duration("database.pool.acquire_timeout")?,
            idle_timeout: self.duration("database.pool.idle_timeout")?,
            max_lifetime: self.duration("database.pool.max_lifetime")?,
        };
        if let (Some(min), Some(max)) = (database.min_connections, database.max_connections)
            && min > max
        {
            return Err(self.error(
                &self.values.0["database.pool.min_connections"].1,
                format!("min_connections ({min}) is above max_connections ({max})"),
            ));
        }
        let cache = CacheConfig {
            redis_url: self.text("cache.redis_url")?,
            tls: self.tls(&CACHE_TLS)?,
            ttl: self.duration("cache.ttl")?,
            max_entries: self.integer("cache.max_entries")?,
        };
        let plain = |items: Option<Vec<Located<String>>>| {
            items.map(|items| items.into_iter().map(|l| l.value).collect::<Vec<_>>())
        };
        Ok(ConfigFile {
            path: self.source.path.to_owned(),
            environment,
            database,
            cache,
            topology: TopologyConfig {
                replicas: plain(self.list("topology.replicas")?).unwrap_or_default(),
            },
            migrations_dir: self.path("migrations.dir")?,
            pull_tables: plain(self.list("pull.tables")?),
            pull_out: self.path("pull.out")?,
            verify_owns: self.list("verify.owns")?,
        })
    }
}

/// `500ms`, `30s`, `10m`, `1h` (or a bare number of seconds).
fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    Some(match unit.trim() {
        "ms" => Duration::from_millis(n),
        "" | "s" => Duration::from_secs(n),
        "m" | "min" => Duration::from_secs(n * 60),
        "h" => Duration::from_secs(n * 3600),
        _ => return None,
    })
}

fn line_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text[..offset].matches('\n').count() + 1
}

/// The file being checked, to turn byte offsets into lines and keys.
struct Source<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    /// An error at `span` from the TOML parser; the key is read from the source around it.
    fn invalid(&self, span: Range<usize>, message: String) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_owned(),
            line: line_of(self.text, span.start),
            key: self.key_at(span.start),
            message,
        }
    }

    /// An error in the value of `key` at `span`.
    fn invalid_at(&self, key: &str, span: Range<usize>, message: String) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_owned(),
            line: line_of(self.text, span.start),
            key: Some(key.to_owned()),
            message,
        }
    }

    /// The dotted key (`pull.tables`) whose line holds `offset`: the table header above it and
    /// the key before the `=` on its line, or the header itself on a header line.
    fn key_at(&self, offset: usize) -> Option<String> {
        let offset = offset.min(self.text.len());
        let line_start = self.text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let line = self.text[line_start..].lines().next().unwrap_or("").trim();
        if let Some(header) = table_header(line) {
            return Some(header.to_owned());
        }
        let key = line.split_once('=').map(|(k, _)| k.trim())?;
        let table = self.text[..line_start]
            .lines()
            .rev()
            .find_map(|l| table_header(l.trim()));
        Some(match table {
            Some(table) => format!("{table}.{key}"),
            None => key.to_owned(),
        })
    }
}

fn table_header(line: &str) -> Option<&str> {
    let inner = line.strip_prefix('[')?;
    let end = inner.find(']')?;
    Some(inner[..end].trim_matches(['[', ' ']))
}

/// The file as written: every table and key optional, unknown ones refused.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    database: RawDatabase,
    #[serde(default)]
    cache: RawCache,
    #[serde(default)]
    topology: RawTopology,
    #[serde(default)]
    migrations: RawMigrations,
    #[serde(default)]
    pull: RawPull,
    #[serde(default)]
    verify: RawVerify,
    #[serde(default)]
    environments: BTreeMap<String, RawSections>,
    /// `[[lifecycle]]` policies: read by the `polyorm lifecycle` CLI (polyorm-cli), which checks them;
    /// the library has no use for them.
    #[serde(default, rename = "lifecycle")]
    _lifecycle: Option<serde::de::IgnoredAny>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSections {
    #[serde(default)]
    database: RawDatabase,
    #[serde(default)]
    cache: RawCache,
    #[serde(default)]
    topology: RawTopology,
    #[serde(default)]
    migrations: RawMigrations,
    #[serde(default)]
    pull: RawPull,
    #[serde(default)]
    verify: RawVerify,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDatabase {
    url: Option<Spanned<String>>,
    schema: Option<Spanned<String>>,
    user: Option<Spanned<String>>,
    password: Option<Spanned<String>>,
    password_file: Option<Spanned<String>>,
    #[serde(default)]
    tls: RawTls,
    #[serde(default)]
    pool: RawPool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    mode: Option<Spanned<String>>,
    ca: Option<Spanned<String>>,
    cert: Option<Spanned<String>>,
    key: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPool {
    max_connections: Option<Spanned<i64>>,
    min_connections: Option<Spanned<i64>>,
    acquire_timeout: Option<Spanned<String>>,
    idle_timeout: Option<Spanned<String>>,
    max_lifetime: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCache {
    redis_url: Option<Spanned<String>>,
    #[serde(default)]
    tls: RawTls,
    ttl: Option<Spanned<String>>,
    max_entries: Option<Spanned<i64>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTopology {
    replicas: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMigrations {
    dir: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPull {
    tables: Option<Spanned<Vec<Spanned<String>>>>,
    out: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVerify {
    owns: Option<Spanned<Vec<Spanned<String>>>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[database]
url = "postgres://app@db.dev/app"
password = "${DEV_PW}"
pool = { max_connections = 5, acquire_timeout = "5s" }

[cache]
redis_url = "redis://127.0.0.1:6379"
ttl = "60s"

[environments.production.database]
url = "postgres://app@db.prod/app"
password_file = "secrets/db_password"
tls = { mode = "verify-full", ca = "certs/ca.pem" }

[environments.production.database.pool]
max_connections = 50

[environments.production.cache]
redis_url = "rediss://cache.prod:6380"
tls = { mode = "verify-full", ca = "certs/ca.pem" }

[environments.production.topology]
replicas = ["postgres://app@replica-1/app"]
"#;

    fn parse(text: &str, vars: &[(&str, &str)]) -> Result<ConfigFile, ConfigError> {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        ConfigFile::parse(Path::new("/app/orm.toml"), text, move |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    #[test]
    fn orm_env_selects_a_section_that_replaces_keys_one_by_one() {
        let dev = parse(FILE, &[("DEV_PW", "dev-pw")]).unwrap();
        assert_eq!(dev.environment, None);
        assert_eq!(dev.database.url, "postgres://app@db.dev/app");
        assert_eq!(
            dev.database.password,
            Some(PasswordSource::Value(Secret::new("dev-pw")))
        );
        assert_eq!(dev.database.max_connections, Some(5));
        assert_eq!(dev.database.tls, None);

        let prod = parse(FILE, &[("ORM_ENV", "production"), ("DEV_PW", "x")]).unwrap();
        assert_eq!(prod.environment.as_deref(), Some("production"));
        assert_eq!(prod.database.url, "postgres://app@db.prod/app");
        // The section's password file replaces the base's password.
        assert_eq!(
            prod.database.password,
            Some(PasswordSource::File("/app/secrets/db_password".into()))
        );
        assert_eq!(prod.database.max_connections, Some(50));
        assert_eq!(prod.database.acquire_timeout, Some(Duration::from_secs(5)));
        assert_eq!(
            prod.database.tls,
            Some(Tls::new(SslMode::VerifyFull).ca_file("/app/certs/ca.pem"))
        );
        assert_eq!(
            prod.cache.redis_url.as_deref(),
            Some("rediss://cache.prod:6380")
        );
        assert_eq!(prod.cache.ttl, Some(Duration::from_secs(60)));
        assert_eq!(prod.topology.replicas, vec!["postgres://app@replica-1/app"]);
    }

    #[test]
    fn environment_variables_override_single_keys() {
        let config = parse(
            FILE,
            &[
                ("DEV_PW", "x"),
                ("ORM_DATABASE_URL", "postgres://app@elsewhere/app"),
                ("ORM_DATABASE_POOL_MAX_CONNECTIONS", "7"),
                (
                    "ORM_TOPOLOGY_REPLICAS",
                    "postgres://r1/app, postgres://r2/app",
                ),
            ],
        )
        .unwrap();
        assert_eq!(config.database.url, "postgres://app@elsewhere/app");
        assert_eq!(config.database.max_connections, Some(7));
        assert_eq!(config.topology.replicas.len(), 2);
        let err = parse(
            FILE,
            &[
                ("DEV_PW", "x"),
                ("ORM_DATABASE_POOL_MAX_CONNECTIONS", "many"),
            ],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains(
                "`ORM_DATABASE_POOL_MAX_CONNECTIONS` (overrides `database.pool.max_connections`"
            ) && err.contains("`many` is not a whole number"),
            "{err}"
        );
    }

    #[test]
    fn errors_name_the_line_and_the_key_of_the_section_they_are_in() {
        /// The file, the variables, then the line, key and message expected.
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], usize, &'a str, &'a str);
        let cases: &[Case] = &[
            (
                "[environments.staging.database]\nurl = 1\n",
                &[],
                2,
                "environments.staging.database.url",
                "invalid type",
            ),
            (
                "[database]\ntls = { mode = \"strict\" }\n",
                &[],
                2,
                "database.tls.mode",
                "unknown TLS mode `strict`",
            ),
            (
                "[database]\ntls = { ca = \"ca.pem\" }\n",
                &[],
                2,
                "database.tls.ca",
                "`database.tls.mode` is not set",
            ),
            (
                "[database.pool]\nmax_connections = 2\nmin_connections = 3\n",
                &[],
                3,
                "database.pool.min_connections",
                "above max_connections",
            ),
            (
                "[database.pool]\nidle_timeout = \"soon\"\n",
                &[],
                2,
                "database.pool.idle_timeout",
                "not a duration",
            ),
            (
                "[cache]\nredis_urll = \"x\"\n",
                &[],
                2,
                "cache.redis_urll",
                "unknown field `redis_urll`",
            ),
            (
                "[environments.prod.database]\nurl = \"x\"\n",
                &[("ORM_ENV", "production")],
                1,
                "environments",
                "names no `[environments.production]` section; the file has: prod",
            ),
        ];
        for (text, vars, line, key, message) in cases {
            match parse(text, vars).unwrap_err() {
                ConfigError::Invalid {
                    line: l,
                    key: k,
                    message: m,
                    ..
                } => {
                    assert_eq!((l, k.as_deref()), (*line, Some(*key)), "{text}: {m}");
                    assert!(m.contains(message), "{text}: {m}");
                }
                other => panic!("{text}: {other}"),
            }
        }
    }

    #[test]
    fn durations_read_every_unit() {
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_duration("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_duration("1h"), Some(Duration::from_secs(3600)));
        assert_eq!(parse_duration("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse_duration("soon"), None);
    }
}
