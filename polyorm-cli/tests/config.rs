//! `orm.toml` on SQLite, PostgreSQL and MySQL/MariaDB: found from a subdirectory or named by
//! `--config`, `${NAME}` expanded, paths relative to the file, the schema applied, pull's and
//! verify's settings used, and a flag beating the environment beating the file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use polyorm_core::{Db, Executor, PoolOptions};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::MySql => "mysql",
        }
    }

    /// Whether `ORM_TEST_BACKENDS` selects it; under CI every backend must be selected.
    fn enabled(self) -> bool {
        let list = std::env::var("ORM_TEST_BACKENDS")
            .unwrap_or_else(|_| "sqlite,postgres,mysql".to_owned());
        let on = list.split(',').any(|b| b.trim() == self.name());
        if !on && std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!(
                "CI must run every backend, but ORM_TEST_BACKENDS=`{list}` leaves out {}",
                self.name()
            );
        }
        on
    }
}

/// A project directory and a database private to one test run.
struct Project {
    root: PathBuf,
    /// The URL the file names (`${ORM_CLI_TEST_URL}`): the server's, without the schema.
    base_url: String,
    /// The schema the file names (PostgreSQL schema, MySQL database), none on SQLite.
    schema: Option<String>,
    /// A pool inside the private schema, to change the database behind the CLI's back.
    db: Db,
    admin: Option<Db>,
}

impl Project {
    async fn setup(backend: Backend) -> Project {
        let unique = format!("orm_cli_cfg_{}_{}", backend.name(), std::process::id());
        let root = std::env::temp_dir().join(&unique);
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(root.join("src/nested")).unwrap();
        let connect = |url: String| async move {
            PoolOptions::new()
                .max_connections(1)
                .connect(&url)
                .await
                .unwrap_or_else(|e| panic!("{url}: {e}"))
        };
        let (base_url, schema, db, admin) = match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}/app.db?mode=rwc", root.display());
                (url.clone(), None, connect(url).await, None)
            }
            server => {
                let (var, default) = match server {
                    Backend::Postgres => (
                        "ORM_TEST_POSTGRES_URL",
                        "postgres://postgres@127.0.0.1:5432/test",
                    ),
                    _ => ("ORM_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/test"),
                };
                let base = std::env::var(var).unwrap_or_else(|_| default.to_owned());
                let (drop, create, inside) = if server == Backend::Postgres {
                    let sep = if base.contains('?') { '&' } else { '?' };
                    (
                        format!("DROP SCHEMA IF EXISTS \"{unique}\" CASCADE"),
                        format!("CREATE SCHEMA \"{unique}\""),
                        format!("{base}{sep}options=-c%20search_path%3D{unique}"),
                    )
                } else {
                    let (address, _) = base.rsplit_once('/').unwrap();
                    (
                        format!("DROP DATABASE IF EXISTS `{unique}`"),
                        format!("CREATE DATABASE `{unique}`"),
                        format!("{address}/{unique}"),
                    )
                };
                let admin = connect(base.clone()).await;
                admin.execute_raw(&drop).await.unwrap();
                admin.execute_raw(&create).await.unwrap();
                (base, Some(unique), connect(inside).await, Some(admin))
            }
        };
        Project {
            root,
            base_url,
            schema,
            db,
            admin,
        }
    }

    /// Runs `polyorm` in `dir` with `env` and without the caller's `DATABASE_URL`/`ORM_CONFIG`.
    fn orm(&self, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = Command::new(env!("CARGO_BIN_EXE_polyorm"));
        command
            .args(args)
            .current_dir(dir)
            .env_remove("DATABASE_URL")
            .env_remove("ORM_CONFIG")
            .env("ORM_CLI_TEST_URL", &self.base_url);
        for (k, v) in env {
            command.env(k, v);
        }
        command.output().expect("the polyorm binary runs")
    }

    async fn teardown(self) {
        self.db.close().await;
        if let Some(admin) = self.admin {
            let schema = self.schema.as_deref().unwrap();
            let drop = match admin.dialect() {
                Some(polyorm_core::Dialect::MySql) => format!("DROP DATABASE `{schema}`"),
                _ => format!("DROP SCHEMA \"{schema}\" CASCADE"),
            };
            admin.execute_raw(&drop).await.unwrap();
            admin.close().await;
        }
        std::fs::remove_dir_all(&self.root).unwrap();
    }
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn config_file(schema: Option<&str>) -> String {
    let schema = schema
        .map(|s| format!("schema = \"{s}\"\n"))
        .unwrap_or_default();
    format!(
        "# The project's settings for the polyorm command.\n\
         [database]\n\
         url = \"${{ORM_CLI_TEST_URL}}\"\n\
         {schema}\n\
         [migrations]\n\
         dir = \"db/migrations\"\n\n\
         [pull]\n\
         tables = [\"users\", \"orders\"]\n\
         out = \"src/models.rs\"\n\n\
         [verify]\n\
         owns = [\"table legacy_notes\"]\n"
    )
}

async fn the_project_file_drives_every_command(backend: Backend) {
    if !backend.enabled() {
        eprintln!("SKIPPED on {}: not in ORM_TEST_BACKENDS", backend.name());
        return;
    }
    let p = Project::setup(backend).await;
    for ddl in [
        // Plain columns: what verify compares after a baseline is the subject elsewhere.
        "CREATE TABLE users (id integer PRIMARY KEY, name text NOT NULL)",
        "CREATE TABLE orders (id integer PRIMARY KEY, user_id integer NOT NULL)",
        "CREATE TABLE audit_log (id integer PRIMARY KEY, entry text NOT NULL)",
    ] {
        p.db.execute_raw(ddl).await.unwrap();
    }
    std::fs::write(p.root.join("orm.toml"), config_file(p.schema.as_deref())).unwrap();
    let nested = p.root.join("src/nested");

    // Found from a subdirectory; the URL from ${ORM_CLI_TEST_URL}, the schema applied; pull's
    // tables and output file (relative to orm.toml) from the file.
    let pulled = p.orm(&nested, &["db", "pull"], &[]);
    assert!(pulled.status.success(), "{}", text(&pulled));
    let out = p.root.join("src/models.rs");
    assert!(
        text(&pulled).contains(&format!("created {}", out.display())),
        "{}",
        text(&pulled)
    );
    let models = std::fs::read_to_string(&out).unwrap();
    assert!(models.contains("pub struct Users {"), "{models}");
    assert!(models.contains("pub struct Orders {"), "{models}");
    assert!(!models.contains("AuditLog"), "{models}");

    // A flag beats the file: `--table` replaces `pull.tables`, stdout replaces nothing.
    let only = p.orm(
        &nested,
        &["db", "pull", "--table", "audit_log", "--out", "audit.rs"],
        &[],
    );
    assert!(only.status.success(), "{}", text(&only));
    let audit = std::fs::read_to_string(nested.join("audit.rs")).unwrap();
    assert!(
        audit.contains("pub struct AuditLog {") && !audit.contains("pub struct Users"),
        "{audit}"
    );

    // The migrations directory of the file, relative to it.
    let baseline = p.orm(&nested, &["migrate", "baseline"], &[]);
    assert!(baseline.status.success(), "{}", text(&baseline));
    let dir = p.root.join("db/migrations");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "{dir:?}");
    let status = p.orm(&p.root, &["migrate", "status"], &[]);
    assert!(
        status.status.success() && text(&status).contains("_baseline  applied"),
        "{}",
        text(&status)
    );

    // `verify.owns` accepts a table added by SQL outside the migrations; `--owns` replaces it.
    p.db.execute_raw("CREATE TABLE legacy_notes (id integer PRIMARY KEY)")
        .await
        .unwrap();
    let verify = p.orm(&nested, &["migrate", "verify"], &[]);
    assert_eq!(verify.status.code(), Some(0), "{}", text(&verify));
    let verify = p.orm(
        &nested,
        &["migrate", "verify", "--owns", "table audit_log"],
        &[],
    );
    assert_eq!(verify.status.code(), Some(1), "{}", text(&verify));
    assert!(
        text(&verify).contains("table `legacy_notes` is not in the models"),
        "{}",
        text(&verify)
    );

    // DATABASE_URL beats the file, and --database-url beats DATABASE_URL.
    let down = "postgres://nobody@127.0.0.1:1/none";
    let env_wins = p.orm(&nested, &["migrate", "status"], &[("DATABASE_URL", down)]);
    assert_eq!(env_wins.status.code(), Some(1), "{}", text(&env_wins));
    let flag_wins = p.orm(
        &nested,
        &["migrate", "status", "--database-url", &p.base_url],
        &[("DATABASE_URL", down)],
    );
    assert!(
        flag_wins.status.success() && text(&flag_wins).contains("_baseline  applied"),
        "{}",
        text(&flag_wins)
    );

    // --config names the file from anywhere (ORM_CONFIG too).
    let elsewhere = std::env::temp_dir();
    let config = p.root.join("orm.toml");
    let config = config.to_str().unwrap();
    for (args, env) in [
        (vec!["--config", config, "migrate", "status"], vec![]),
        (vec!["migrate", "status"], vec![("ORM_CONFIG", config)]),
    ] {
        let named = p.orm(&elsewhere, &args, &env);
        assert!(
            named.status.success() && text(&named).contains("_baseline  applied"),
            "{}",
            text(&named)
        );
    }

    // A typo in the file is an error naming the file, the line and the key.
    let bad = p.root.join("bad.toml");
    std::fs::write(&bad, "[pull]\ntables = []\ntabels = [\"users\"]\n").unwrap();
    let refused = p.orm(
        &nested,
        &["--config", bad.to_str().unwrap(), "migrate", "status"],
        &[],
    );
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    assert!(
        text(&refused).contains(&format!(
            "invalid configuration file `{}`, line 3, key `pull.tabels`: unknown field `tabels`",
            bad.display()
        )),
        "{}",
        text(&refused)
    );
    // An unset variable is named.
    let missing = Command::new(env!("CARGO_BIN_EXE_polyorm"))
        .args(["migrate", "status"])
        .current_dir(&nested)
        .env_remove("DATABASE_URL")
        .env_remove("ORM_CONFIG")
        .env_remove("ORM_CLI_TEST_URL")
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1), "{}", text(&missing));
    assert!(
        text(&missing).contains("line 3, key `database.url`")
            && text(&missing).contains("`ORM_CLI_TEST_URL`, which is not set"),
        "{}",
        text(&missing)
    );
    p.teardown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_project_file_drives_every_command_on_sqlite() {
    the_project_file_drives_every_command(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_project_file_drives_every_command_on_postgres() {
    the_project_file_drives_every_command(Backend::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_project_file_drives_every_command_on_mysql() {
    the_project_file_drives_every_command(Backend::MySql).await;
}
