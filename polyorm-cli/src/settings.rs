//! One value per setting, by precedence: a flag, then its environment variable, then
//! `orm.toml`, then the default. Clap knows where each parsed value came from
//! ([`clap::parser::ValueSource`]); a value from the file replaces only a default.

use clap::ArgMatches;
use clap::parser::ValueSource;
use polyorm_migrate::cli::{Cli, Command};

use crate::config::Config;

/// A setting that cannot be applied.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A schema was asked for on a database that has no such thing, or the URL is not one.
    #[error("cannot use the schema `{schema}` (from {origin}): {reason}")]
    Schema {
        /// The schema asked for.
        schema: String,
        /// Where it was set: `--schema` or the file's `database.schema`.
        origin: String,
        /// Why it cannot be used and what to do.
        reason: String,
    },
}

/// Whether the argument `id` was given on the command line or by its environment variable,
/// looking in the innermost subcommand's matches (where clap puts global arguments too).
pub fn given(matches: &ArgMatches, id: &str) -> bool {
    let mut leaf = matches;
    while let Some((_, sub)) = leaf.subcommand() {
        leaf = sub;
    }
    // `value_source` panics on an id the subcommand does not define (`dir` under `db pull`).
    let present = leaf.try_get_raw(id).ok().flatten().is_some();
    present
        && matches!(
            leaf.value_source(id),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        )
}

/// `cli` with every setting it was not given filled from `config`, and the schema (`--schema`,
/// else the file's) applied to the database URL.
pub fn apply(
    mut cli: Cli,
    schema_flag: Option<String>,
    given: impl Fn(&str) -> bool,
    config: Option<&Config>,
) -> Result<Cli, SettingsError> {
    let file = config.cloned().unwrap_or_default();
    if !given("database_url") && file.database_url.is_some() {
        cli.database_url = file.database_url;
    }
    if !given("dir")
        && let Some(dir) = file.migrations_dir
    {
        cli.dir = dir;
    }
    match &mut cli.command {
        Command::Pull { out, tables } => {
            if !given("out") && file.pull_out.is_some() {
                *out = file.pull_out;
            }
            if !given("tables")
                && let Some(chosen) = file.pull_tables
            {
                *tables = chosen;
            }
        }
        Command::Verify { owns } => {
            if !given("owns")
                && let Some(owned) = file.verify_owns
            {
                *owns = owned;
            }
        }
        _ => {}
    }
    let schema = match (schema_flag, file.schema) {
        (Some(s), _) => Some((s, "--schema".to_owned())),
        (None, Some(s)) => Some((s, format!("`database.schema` in {}", file.path.display()))),
        (None, None) => None,
    };
    if let (Some((schema, origin)), Some(url)) = (schema, cli.database_url.as_deref()) {
        let url = with_schema(url, &schema).map_err(|reason| SettingsError::Schema {
            schema,
            origin,
            reason,
        })?;
        cli.database_url = Some(url);
    }
    Ok(cli)
}

/// `url` made to work in `schema`: PostgreSQL's `search_path` (a connection option, so every
/// pooled connection has it), the database of a MySQL/MariaDB or MongoDB URL.
pub fn with_schema(url: &str, schema: &str) -> Result<String, String> {
    let mut parsed = url::Url::parse(url)
        .map_err(|e| format!("the database URL is not a URL ({e}); check its syntax"))?;
    match parsed.scheme() {
        "postgres" | "postgresql" => {
            // Quoted, so that a mixed-case schema is not folded to lower case.
            let quoted = format!("\"{}\"", schema.replace('"', "\"\""));
            parsed
                .query_pairs_mut()
                .append_pair("options[search_path]", &quoted);
        }
        "mysql" | "mariadb" | "mongodb" | "mongodb+srv" => parsed.set_path(schema),
        "sqlite" => {
            return Err(
                "SQLite has no schemas (a file is one database): point the URL at the file and \
                 drop the schema"
                    .to_owned(),
            );
        }
        other => {
            return Err(format!(
                "`{other}://` is not a database URL the CLI knows (postgres, mysql, mariadb, \
                 sqlite, mongodb)"
            ));
        }
    }
    Ok(parsed.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cli(command: Command) -> Cli {
        Cli {
            database_url: None,
            dir: "migrations".into(),
            command,
        }
    }

    fn file() -> Config {
        Config {
            path: "/p/orm.toml".into(),
            database_url: Some("sqlite:///p/file.db".into()),
            schema: None,
            migrations_dir: Some("/p/db/migrations".into()),
            pull_tables: Some(vec!["users".into()]),
            pull_out: Some("/p/src/models.rs".into()),
            verify_owns: Some(vec!["table audit_log".into()]),
            lifecycle: Vec::new(),
        }
    }

    #[test]
    fn the_file_fills_what_was_not_given() {
        let pull = apply(
            cli(Command::Pull {
                out: None,
                tables: vec![],
            }),
            None,
            |_| false,
            Some(&file()),
        )
        .unwrap();
        assert_eq!(pull.database_url.as_deref(), Some("sqlite:///p/file.db"));
        assert_eq!(pull.dir, std::path::Path::new("/p/db/migrations"));
        let Command::Pull { out, tables } = pull.command else {
            unreachable!()
        };
        assert_eq!(out, Some("/p/src/models.rs".into()));
        assert_eq!(tables, vec!["users".to_owned()]);
        let verify = apply(
            cli(Command::Verify { owns: vec![] }),
            None,
            |_| false,
            Some(&file()),
        )
        .unwrap();
        let Command::Verify { owns } = verify.command else {
            unreachable!()
        };
        assert_eq!(owns, vec!["table audit_log".to_owned()]);
    }

    #[test]
    fn a_flag_or_environment_value_beats_the_file() {
        let mut given = cli(Command::Pull {
            out: Some("here.rs".into()),
            tables: vec!["orders".into()],
        });
        given.database_url = Some("sqlite://flag.db".into());
        given.dir = "flag_dir".into();
        let applied = apply(given, None, |_| true, Some(&file())).unwrap();
        assert_eq!(applied.database_url.as_deref(), Some("sqlite://flag.db"));
        assert_eq!(applied.dir, std::path::Path::new("flag_dir"));
        let Command::Pull { out, tables } = applied.command else {
            unreachable!()
        };
        assert_eq!(out, Some("here.rs".into()));
        assert_eq!(tables, vec!["orders".to_owned()]);
    }

    #[test]
    fn without_a_file_the_defaults_stay() {
        let applied = apply(cli(Command::Status), None, |_| false, None).unwrap();
        assert_eq!(applied.database_url, None);
        assert_eq!(applied.dir, std::path::Path::new("migrations"));
    }

    #[test]
    fn a_schema_becomes_the_search_path_or_the_database() {
        assert_eq!(
            with_schema("postgres://u@h:5432/app?sslmode=disable", "Billing").unwrap(),
            "postgres://u@h:5432/app?sslmode=disable&options%5Bsearch_path%5D=%22Billing%22"
        );
        assert_eq!(
            with_schema("mysql://root@h:3306/app", "billing").unwrap(),
            "mysql://root@h:3306/billing"
        );
        assert!(
            with_schema("sqlite://app.db", "billing")
                .unwrap_err()
                .contains("SQLite has no schemas")
        );
    }

    #[test]
    fn the_flag_schema_beats_the_file_schema_and_an_impossible_one_names_its_origin() {
        let mut config = file();
        config.database_url = Some("mysql://root@h/app".into());
        config.schema = Some("from_file".into());
        let applied = apply(
            cli(Command::Status),
            Some("from_flag".into()),
            |_| false,
            Some(&config),
        )
        .unwrap();
        assert_eq!(
            applied.database_url.as_deref(),
            Some("mysql://root@h/from_flag")
        );
        let applied = apply(cli(Command::Status), None, |_| false, Some(&config)).unwrap();
        assert_eq!(
            applied.database_url.as_deref(),
            Some("mysql://root@h/from_file")
        );
        config.database_url = Some("sqlite://x.db".into());
        let refused = apply(cli(Command::Status), None, |_| false, Some(&config))
            .unwrap_err()
            .to_string();
        assert!(
            refused.contains("(from `database.schema` in /p/orm.toml): SQLite has no schemas"),
            "{refused}"
        );
    }
}
