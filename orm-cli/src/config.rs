//! `orm.toml`, the project's configuration file: found by walking up from the working
//! directory (or named by `--config` / `ORM_CONFIG`), read once, checked whole.
//!
//! ```toml
//! [database]
//! url = "postgres://app:${DB_PASSWORD}@localhost/app"   # ${NAME}: an environment variable
//! schema = "billing"                                     # PostgreSQL schema / MySQL database
//!
//! [migrations]
//! dir = "db/migrations"                                  # relative to this file
//!
//! [pull]
//! tables = ["users", "orders"]
//! out = "src/models.rs"                                  # relative to this file
//!
//! [verify]
//! owns = ["table audit_log", "index users.idx_users_gin"]
//! ```
//!
//! Every string value may use `${NAME}` ([`crate::expand`]). An unknown key, a value of the
//! wrong type or broken TOML is an error naming the file, the line and the key: a typo never
//! silently falls back to a default.

use std::ops::Range;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::expand::expand_env;

/// The name the file is looked for under.
pub const FILE_NAME: &str = "orm.toml";

/// A configuration file, read and checked; paths are resolved against its directory and
/// `${NAME}` references are expanded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// The file it was read from.
    pub path: PathBuf,
    /// `[database] url`.
    pub database_url: Option<String>,
    /// `[database] schema`: the PostgreSQL schema or MySQL database every command works in.
    pub schema: Option<String>,
    /// `[migrations] dir`.
    pub migrations_dir: Option<PathBuf>,
    /// `[pull] tables`.
    pub pull_tables: Option<Vec<String>>,
    /// `[pull] out`.
    pub pull_out: Option<PathBuf>,
    /// `[verify] owns`.
    pub verify_owns: Option<Vec<String>>,
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
}

fn key_part(key: &Option<String>) -> String {
    key.as_ref()
        .map(|k| format!(", key `{k}`"))
        .unwrap_or_default()
}

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

impl Config {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::parse(path, &text)
    }

    /// Checks `text`, the contents of the file at `path`.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let source = Source { path, text };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            source.invalid(span, e.message().trim_end().to_owned())
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let string = |key: &str, value: Option<Spanned<String>>| {
            value.map(|v| source.expand(key, &v)).transpose()
        };
        let strings = |key: &str, values: Option<Vec<Spanned<String>>>| {
            values
                .map(|vs| vs.iter().map(|v| source.expand(key, v)).collect())
                .transpose()
        };
        let owns: Option<Vec<String>> = strings("verify.owns", raw.verify.owns.clone())?;
        if let (Some(owns), Some(spanned)) = (&owns, &raw.verify.owns) {
            for (text, at) in owns.iter().zip(spanned) {
                orm_migrate::introspect::Owned::parse(text)
                    .map_err(|reason| source.invalid_at("verify.owns", at.span(), reason))?;
            }
        }
        Ok(Config {
            path: path.to_owned(),
            database_url: string("database.url", raw.database.url)?,
            schema: string("database.schema", raw.database.schema)?,
            migrations_dir: string("migrations.dir", raw.migrations.dir)?.map(|d| base.join(d)),
            pull_tables: strings("pull.tables", raw.pull.tables)?,
            pull_out: string("pull.out", raw.pull.out)?.map(|o| base.join(o)),
            verify_owns: owns,
        })
    }
}

/// The file being checked, to turn byte offsets into lines and keys.
struct Source<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Source<'_> {
    fn line_of(&self, offset: usize) -> usize {
        let offset = offset.min(self.text.len());
        self.text[..offset].matches('\n').count() + 1
    }

    /// An error at `span` from the TOML parser; the key is read from the source around it.
    fn invalid(&self, span: Range<usize>, message: String) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_owned(),
            line: self.line_of(span.start),
            key: self.key_at(span.start),
            message,
        }
    }

    /// An error in the value of `key` at `span`.
    fn invalid_at(&self, key: &str, span: Range<usize>, message: String) -> ConfigError {
        ConfigError::Invalid {
            path: self.path.to_owned(),
            line: self.line_of(span.start),
            key: Some(key.to_owned()),
            message,
        }
    }

    fn expand(&self, key: &str, value: &Spanned<String>) -> Result<String, ConfigError> {
        expand_env(value.get_ref()).map_err(|e| self.invalid_at(key, value.span(), e.to_string()))
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
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMigrations {
    dir: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPull {
    tables: Option<Vec<Spanned<String>>>,
    out: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVerify {
    owns: Option<Vec<Spanned<String>>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("/project/orm.toml"), text)
    }

    fn invalid(text: &str) -> (usize, Option<String>, String) {
        match parse(text).unwrap_err() {
            ConfigError::Invalid {
                line, key, message, ..
            } => (line, key, message),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn every_key_is_read_and_paths_are_relative_to_the_file() {
        let config = parse(
            r#"
[database]
url = "sqlite://app.db"
schema = "billing"

[migrations]
dir = "db/migrations"

[pull]
tables = ["users", "orders"]
out = "src/models.rs"

[verify]
owns = ["table audit_log", "index users.idx_gin"]
"#,
        )
        .unwrap();
        assert_eq!(
            config,
            Config {
                path: "/project/orm.toml".into(),
                database_url: Some("sqlite://app.db".into()),
                schema: Some("billing".into()),
                migrations_dir: Some("/project/db/migrations".into()),
                pull_tables: Some(vec!["users".into(), "orders".into()]),
                pull_out: Some("/project/src/models.rs".into()),
                verify_owns: Some(vec!["table audit_log".into(), "index users.idx_gin".into()]),
            }
        );
    }

    #[test]
    fn an_empty_file_sets_nothing() {
        let config = parse("# nothing yet\n").unwrap();
        assert_eq!(config.database_url, None);
        assert_eq!(config.migrations_dir, None);
        assert_eq!(config.pull_tables, None);
    }

    #[test]
    fn an_unknown_key_names_the_file_line_and_key() {
        let (line, key, message) = invalid("[database]\nurl = \"x\"\n\n[pull]\ntabels = []\n");
        assert_eq!(line, 5);
        assert_eq!(key.as_deref(), Some("pull.tabels"));
        assert!(message.contains("unknown field `tabels`"), "{message}");
        let shown = parse("[pull]\ntabels = []\n").unwrap_err().to_string();
        assert!(
            shown.starts_with(
                "invalid configuration file `/project/orm.toml`, line 2, key `pull.tabels`: "
            ),
            "{shown}"
        );
    }

    #[test]
    fn an_unknown_table_names_its_header() {
        let (line, key, message) = invalid("[database]\nurl = \"x\"\n[migration]\ndir = \"m\"\n");
        assert_eq!(line, 3, "{message}");
        assert_eq!(key.as_deref(), Some("migration"));
        assert!(message.contains("unknown field `migration`"), "{message}");
    }

    #[test]
    fn a_value_of_the_wrong_type_names_its_key() {
        let (line, key, message) = invalid("[pull]\n\ntables = \"users\"\n");
        assert_eq!(
            (line, key.as_deref()),
            (3, Some("pull.tables")),
            "{message}"
        );
    }

    #[test]
    fn broken_toml_names_the_line() {
        let (line, _, message) = invalid("[database]\nurl = \"unterminated\n");
        assert_eq!(line, 2, "{message}");
    }

    #[test]
    fn an_unset_variable_names_the_key_and_the_variable() {
        let (line, key, message) =
            invalid("[database]\nurl = \"postgres://app:${ORM_CLI_TEST_UNSET_VAR}@db/app\"\n");
        assert_eq!((line, key.as_deref()), (2, Some("database.url")));
        assert!(
            message.contains("`ORM_CLI_TEST_UNSET_VAR`, which is not set"),
            "{message}"
        );
    }

    #[test]
    fn a_malformed_owned_object_is_refused_with_its_line() {
        let (line, key, message) =
            invalid("[verify]\nowns = [\n  \"table a\",\n  \"idx b.c\",\n]\n");
        assert_eq!((line, key.as_deref()), (4, Some("verify.owns")));
        assert!(
            message.contains("`idx` is not a kind of owned object"),
            "{message}"
        );
    }

    #[test]
    fn the_nearest_file_up_the_tree_is_found_and_an_explicit_one_wins() {
        let root = std::env::temp_dir().join(format!("orm_cli_locate_{}", std::process::id()));
        let nested = root.join("a/b");
        std::fs::create_dir_all(&nested).unwrap();
        std::fs::write(root.join(FILE_NAME), "").unwrap();
        assert_eq!(locate(None, &nested), Some(root.join(FILE_NAME)));
        std::fs::write(root.join("a").join(FILE_NAME), "").unwrap();
        assert_eq!(locate(None, &nested), Some(root.join("a").join(FILE_NAME)));
        let other = Path::new("/elsewhere/custom.toml");
        assert_eq!(locate(Some(other), &nested), Some(other.to_owned()));
        std::fs::remove_dir_all(&root).unwrap();
    }
}
