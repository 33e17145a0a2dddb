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
//!
//! [[lifecycle]]                                          # `polyorm lifecycle run`
//! table = "sessions"
//! column = "expires_at"
//! older_than = "30d"
//! action = "delete"                                      # or "archive" + archive_to = "DIR|URL"
//! ```
//!
//! The file is the library's (`polyorm_core::config::file`: also `[database]` TLS, credentials
//! and pool, `[cache]`, `[topology]`, `[environments.<ORM_ENV>]` sections and `ORM_…`
//! overrides); the CLI reads it with the library's reader. Every string value may use
//! `${NAME}` (an environment variable). An unknown key, a value of the wrong type or broken
//! TOML is an error naming the file, the line and the key: a typo never silently falls back
//! to a default.

use std::path::{Path, PathBuf};

use polyorm_core::config::file::ConfigFile;
pub use polyorm_core::config::file::{ConfigError, locate};

/// A configuration file, read and checked (by the library's own reader,
/// [`polyorm_core::config::file`], with the `ORM_ENV` section and `ORM_…` overrides applied); paths
/// are resolved against its directory and `${NAME}` references are expanded.
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
    /// `[[lifecycle]]` policies (see [`crate::lifecycle`]).
    pub lifecycle: Vec<crate::lifecycle::LifecycleRule>,
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

    /// Checks `text`, the contents of the file at `path`, with the process environment.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        let file = ConfigFile::parse(path, text, |name| std::env::var(name).ok())?;
        if let Some(owns) = &file.verify_owns {
            for owned in owns {
                polyorm_migrate::introspect::Owned::parse(&owned.value)
                    .map_err(|reason| file.error_at(text, &owned.origin, reason))?;
            }
        }
        Ok(Config {
            path: path.to_owned(),
            database_url: file.database_url().map(str::to_owned),
            schema: file.database.schema.clone(),
            migrations_dir: file.migrations_dir.clone(),
            pull_tables: file.pull_tables.clone(),
            pull_out: file.pull_out.clone(),
            verify_owns: file
                .verify_owns
                .map(|owns| owns.into_iter().map(|o| o.value).collect()),
            lifecycle: crate::lifecycle::parse_rules(path, text)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use polyorm_core::config::file::FILE_NAME;

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
                lifecycle: Vec::new(),
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
