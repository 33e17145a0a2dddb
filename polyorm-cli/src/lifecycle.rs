//! `polyorm lifecycle run [--dry-run]`: the data lifecycle policies of `orm.toml`'s
//! `[[lifecycle]]` tables, run by `polyorm-backup`'s [`Lifecycle`] on tables read from the live
//! database (the CLI has no models).
//!
//! ```toml
//! [[lifecycle]]
//! table = "sessions"            # a table with a primary key
//! column = "expires_at"         # a timestamp or date column
//! older_than = "30d"            # ms, s, m, h, d, w
//! action = "delete"             # or "archive"
//! batch_size = 1000             # rows per batch (default 1000)
//! pause = "100ms"               # between batches (default none)
//!
//! [[lifecycle]]
//! name = "old-events"           # default: the table; archives are found again by it
//! table = "events"
//! column = "created_at"
//! older_than = "365d"
//! action = "archive"
//! archive_to = "s3://archive/app"   # a directory or a blob store URL, as `backup --to`
//! ```

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;
use indicatif::{ProgressBar, ProgressStyle};
use polyorm_backup::lifecycle::Step;
use polyorm_backup::{AnyTarget, Lifecycle, LifecycleProgress, Policy};
use polyorm_core::Db;
use polyorm_core::config::file::ConfigError;
use serde::Deserialize;
use toml::Spanned;

/// What a `[[lifecycle]]` policy does with the rows it selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleAction {
    /// Delete them.
    Delete,
    /// Archive them into this target (a directory or a blob store URL), then delete them.
    Archive(String),
}

/// One `[[lifecycle]]` table of orm.toml, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LifecycleRule {
    /// `name` (default: the table).
    pub name: Option<String>,
    /// `table`.
    pub table: String,
    /// `column`: the timestamp or date column the age is measured on.
    pub column: String,
    /// `older_than`.
    pub older_than: Duration,
    /// `action` (with `archive_to`).
    pub action: RuleAction,
    /// `batch_size` (default 1,000).
    pub batch_size: usize,
    /// `pause` between batches (default none).
    pub pause: Duration,
}

#[derive(Debug, Default, Deserialize)]
struct RawFile {
    #[serde(default)]
    lifecycle: Vec<Spanned<RawRule>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    name: Option<String>,
    table: String,
    column: String,
    older_than: Spanned<String>,
    action: Spanned<String>,
    archive_to: Option<Spanned<String>>,
    batch_size: Option<Spanned<i64>>,
    pause: Option<Spanned<String>>,
}

/// `30d`, `12h`, `90m`, `10s`, `500ms`, `2w`.
fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let secs = |k: u64| n.checked_mul(k).map(Duration::from_secs);
    match unit.trim() {
        "ms" => Some(Duration::from_millis(n)),
        "s" => secs(1),
        "m" | "min" => secs(60),
        "h" => secs(3_600),
        "d" => secs(86_400),
        "w" => secs(7 * 86_400),
        _ => None,
    }
}

/// The `[[lifecycle]]` tables of the configuration file `path` holding `text`. The rest of
/// the file is the library's to check.
pub fn parse_rules(path: &Path, text: &str) -> Result<Vec<LifecycleRule>, ConfigError> {
    let line = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
    let invalid = |offset: usize, key: String, message: String| ConfigError::Invalid {
        path: path.to_owned(),
        line: line(offset),
        key: Some(key),
        message,
    };
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let at = e.span().map_or(0, |s| s.start);
        invalid(
            at,
            "lifecycle".to_owned(),
            e.message().trim_end().to_owned(),
        )
    })?;
    let mut rules = Vec::new();
    for (i, rule) in raw.lifecycle.into_iter().enumerate() {
        let rule = rule.into_inner();
        let key = |k: &str| format!("lifecycle[{i}].{k}");
        let duration = |value: &Spanned<String>, k: &str| {
            parse_duration(value.get_ref()).ok_or_else(|| {
                invalid(
                    value.span().start,
                    key(k),
                    format!(
                        "`{}` is not a duration: write a number and a unit (ms, s, m, h, d, w), \
                         e.g. `30d`",
                        value.get_ref()
                    ),
                )
            })
        };
        let older_than = duration(&rule.older_than, "older_than")?;
        let pause = match &rule.pause {
            Some(p) => duration(p, "pause")?,
            None => Duration::ZERO,
        };
        let action = match (rule.action.get_ref().as_str(), &rule.archive_to) {
            ("delete", None) => RuleAction::Delete,
            ("delete", Some(to)) => {
                return Err(invalid(
                    to.span().start,
                    key("archive_to"),
                    "`archive_to` goes with `action = \"archive\"`; a delete policy keeps no copy"
                        .to_owned(),
                ));
            }
            ("archive", Some(to)) => RuleAction::Archive(to.get_ref().clone()),
            ("archive", None) => {
                return Err(invalid(
                    rule.action.span().start,
                    key("action"),
                    "an archive policy needs `archive_to` (a directory or a blob store URL)"
                        .to_owned(),
                ));
            }
            (other, _) => {
                return Err(invalid(
                    rule.action.span().start,
                    key("action"),
                    format!("`{other}` is not an action: write \"delete\" or \"archive\""),
                ));
            }
        };
        let batch_size = match &rule.batch_size {
            None => polyorm_backup::lifecycle::DEFAULT_BATCH,
            Some(n) => usize::try_from(*n.get_ref())
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    invalid(
                        n.span().start,
                        key("batch_size"),
                        format!("{} is not a batch size (1 or more rows)", n.get_ref()),
                    )
                })?,
        };
        rules.push(LifecycleRule {
            name: rule.name,
            table: rule.table,
            column: rule.column,
            older_than,
            action,
            batch_size,
            pause,
        });
    }
    Ok(rules)
}

/// The `lifecycle` commands.
#[derive(Debug, Subcommand)]
pub enum LifecycleCommand {
    /// Run the `[[lifecycle]]` policies of orm.toml: delete, or archive then delete, the rows
    /// past their age, in batches.
    Run {
        /// Only count the rows each policy selects; change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Database URL (`postgres://…`, `mysql://…`, `sqlite://file.db`).
        #[arg(long, env = "DATABASE_URL")]
        database_url: Option<String>,
        /// Only the policy of this name (repeatable; default: every policy).
        #[arg(long = "policy", value_name = "NAME")]
        policies: Vec<String>,
        /// The environment variable holding the archive key (64 hex digits): encrypts the
        /// archives written.
        #[arg(long, value_name = "VAR")]
        key_env: Option<String>,
    },
}

type Failure = Box<dyn std::error::Error>;

/// Runs a `lifecycle` command with orm.toml's database URL and policies.
pub async fn run(
    command: LifecycleCommand,
    config_url: Option<String>,
    rules: Vec<LifecycleRule>,
) -> ExitCode {
    match execute(command, config_url, rules).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let red = anstyle::AnsiColor::Red.on_default().bold();
            anstream::eprintln!("{red}error:{red:#} {e}");
            ExitCode::FAILURE
        }
    }
}

fn describe(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        _ if d.subsec_millis() != 0 || s == 0 => format!("{}ms", d.as_millis()),
        _ if s.is_multiple_of(7 * 86_400) => format!("{}w", s / (7 * 86_400)),
        _ if s.is_multiple_of(86_400) => format!("{}d", s / 86_400),
        _ if s.is_multiple_of(3_600) => format!("{}h", s / 3_600),
        _ if s.is_multiple_of(60) => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

async fn execute(
    command: LifecycleCommand,
    config_url: Option<String>,
    rules: Vec<LifecycleRule>,
) -> Result<(), Failure> {
    let LifecycleCommand::Run {
        dry_run,
        database_url,
        policies,
        key_env,
    } = command;
    if rules.is_empty() {
        return Err(
            "orm.toml declares no `[[lifecycle]]` policies (or no orm.toml was found): \
                    add one, e.g.\n  [[lifecycle]]\n  table = \"sessions\"\n  column = \
                    \"expires_at\"\n  older_than = \"30d\"\n  action = \"delete\""
                .into(),
        );
    }
    let name = |r: &LifecycleRule| r.name.clone().unwrap_or_else(|| r.table.clone());
    if let Some(unknown) = policies
        .iter()
        .find(|p| !rules.iter().any(|r| name(r) == **p))
    {
        return Err(format!(
            "orm.toml has no lifecycle policy named `{unknown}` (it has: {})",
            rules.iter().map(name).collect::<Vec<_>>().join(", ")
        )
        .into());
    }
    let url = database_url.or(config_url).ok_or(
        "no database: give --database-url, set DATABASE_URL, or `[database] url` in orm.toml",
    )?;
    let db = Db::connect(&url).await?;
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} lifecycle: {msg} [{elapsed_precise}]")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let shown = bar.clone();
    let mut lifecycle = Lifecycle::new().on_progress(move |p: &LifecycleProgress| {
        let what = match &p.step {
            Step::Counted => format!("{} rows selected", p.rows),
            Step::Archiving => format!("{} of {} rows archived", p.rows, p.total),
            Step::Archived { id } => format!("{} rows archived as {id}, deleting", p.rows),
            Step::Deleted => format!("{} of {} rows deleted", p.rows, p.total),
            Step::Recovered { id } => {
                format!("{} rows of the interrupted run's {id} deleted", p.rows)
            }
            _ => String::new(),
        };
        shown.set_message(format!("{} ({}): {what}", p.policy, p.table));
    });
    if let Some(var) = &key_env {
        lifecycle = lifecycle.encrypt(polyorm_backup::keys::env_key(var)?);
    }
    let mut targets = Vec::new();
    for rule in rules
        .iter()
        .filter(|r| policies.is_empty() || policies.contains(&name(r)))
    {
        bar.set_message(format!("reading table {}", rule.table));
        let builder = Policy::for_table(&db, &rule.table)
            .await?
            .name(name(rule))
            .older_than_column(&rule.column, rule.older_than)
            .batch_size(rule.batch_size)
            .pause(rule.pause);
        let policy = match &rule.action {
            RuleAction::Delete => {
                targets.push(None);
                builder.delete()
            }
            RuleAction::Archive(to) => {
                let target = AnyTarget::parse(to)?;
                targets.push(Some(to.clone()));
                builder.archive_to(target)
            }
        };
        lifecycle = lifecycle.policy(policy);
    }
    let report = if dry_run {
        lifecycle.dry_run(&db).await
    } else {
        lifecycle.run(&db).await
    };
    bar.finish_and_clear();
    db.close().await;
    let report = report?;
    let chosen = rules
        .iter()
        .filter(|r| policies.is_empty() || policies.contains(&name(r)));
    for ((p, rule), target) in report.policies.iter().zip(chosen).zip(&targets) {
        let rows = format!(
            "{} ({}.{} older than {})",
            p.policy,
            p.table,
            rule.column,
            describe(rule.older_than)
        );
        if dry_run {
            let verb = match target {
                Some(to) => format!("would be archived to {to} and deleted"),
                None => "would be deleted".to_owned(),
            };
            println!(
                "{rows}: {} rows {verb} (dry run: nothing changed)",
                p.matched
            );
            continue;
        }
        if p.recovered > 0 {
            println!(
                "{}: finished an interrupted run: {} archived rows deleted",
                p.policy, p.recovered
            );
        }
        // Batches of this run's own rows (those finishing an interrupted run are told above).
        let own_batches = p.batches - p.recovered.div_ceil(rule.batch_size as u64);
        match (&p.archive, target) {
            (Some(id), Some(to)) => println!(
                "{rows}: {} rows archived to {to} as {id} (verified), {} deleted in {} batches",
                p.archived,
                p.deleted - p.recovered,
                own_batches
            ),
            _ => println!(
                "{rows}: {} rows deleted in {} batches",
                p.deleted - p.recovered,
                own_batches
            ),
        }
        if p.changed > 0 {
            println!(
                "{}: {} archived rows changed since and were kept",
                p.policy, p.changed
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<LifecycleRule>, ConfigError> {
        parse_rules(Path::new("/p/orm.toml"), text)
    }

    fn invalid(text: &str) -> (usize, String, String) {
        match parse(text).unwrap_err() {
            ConfigError::Invalid {
                line, key, message, ..
            } => (line, key.unwrap_or_default(), message),
            other => panic!("expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn lifecycle_tables_are_read_with_their_defaults() {
        let rules = parse(
            r#"
[database]
url = "sqlite://x.db"

[[lifecycle]]
table = "sessions"
column = "expires_at"
older_than = "30d"
action = "delete"

[[lifecycle]]
name = "old-events"
table = "events"
column = "at"
older_than = "2w"
action = "archive"
archive_to = "/var/archive"
batch_size = 500
pause = "250ms"
"#,
        )
        .unwrap();
        assert_eq!(
            rules,
            vec![
                LifecycleRule {
                    name: None,
                    table: "sessions".into(),
                    column: "expires_at".into(),
                    older_than: Duration::from_secs(30 * 86_400),
                    action: RuleAction::Delete,
                    batch_size: 1_000,
                    pause: Duration::ZERO,
                },
                LifecycleRule {
                    name: Some("old-events".into()),
                    table: "events".into(),
                    column: "at".into(),
                    older_than: Duration::from_secs(14 * 86_400),
                    action: RuleAction::Archive("/var/archive".into()),
                    batch_size: 500,
                    pause: Duration::from_millis(250),
                },
            ]
        );
    }

    #[test]
    fn a_wrong_lifecycle_value_names_its_line_and_key() {
        let head = "[[lifecycle]]\ntable = \"t\"\ncolumn = \"c\"\n";
        let (line, key, message) = invalid(&format!(
            "{head}older_than = \"30 days\"\naction = \"delete\"\n"
        ));
        assert_eq!((line, key.as_str()), (4, "lifecycle[0].older_than"));
        assert!(message.contains("is not a duration"), "{message}");
        let (line, key, message) = invalid(&format!(
            "{head}older_than = \"1d\"\naction = \"archive\"\n"
        ));
        assert_eq!((line, key.as_str()), (5, "lifecycle[0].action"));
        assert!(message.contains("needs `archive_to`"), "{message}");
        let (line, key, message) =
            invalid(&format!("{head}older_than = \"1d\"\naction = \"purge\"\n"));
        assert_eq!((line, key.as_str()), (5, "lifecycle[0].action"));
        assert!(message.contains("`purge` is not an action"), "{message}");
        let (_, _, message) = invalid(&format!(
            "{head}older_than = \"1d\"\naction = \"delete\"\nbatch = 5\n"
        ));
        assert!(message.contains("unknown field `batch`"), "{message}");
        let (line, key, message) = invalid(&format!(
            "{head}older_than = \"1d\"\naction = \"delete\"\nbatch_size = 0\n"
        ));
        assert_eq!((line, key.as_str()), (6, "lifecycle[0].batch_size"));
        assert!(message.contains("not a batch size"), "{message}");
    }
}
