//! Migrations under version control, on SQLite, PostgreSQL and MariaDB: two migrations
//! generated on two branches from the same parent (then merged, as git merges two feature
//! branches) are a divergent history for `status`, `up`, `verify` and `generate`; `merge`
//! joins them, and the rows written before survive every step; conflicting branches are
//! refused; each applied migration records the git revision it was applied from.

mod common;

use std::path::Path;
use std::process::Command;

use polyorm::{Compiled, Executor, FieldType};
use polyorm_migrate::files::{GenerateOptions, load_dir};
use polyorm_migrate::lineage::{self, Lineage, MergeOptions};
use polyorm_migrate::runner::State;
use polyorm_migrate::{Error, Migrator, Schema, generate, merge};

mod base {
    use polyorm::prelude::*;

    #[derive(Model, Debug)]
    #[orm(table = "items")]
    pub struct Item {
        #[orm(primary_key, auto_increment)]
        id: i64,
        #[orm(max_length = 40)]
        name: String,
    }
}

/// Branch `tags`: a new table.
mod tags {
    use polyorm::prelude::*;

    #[derive(Model, Debug)]
    #[orm(table = "labels")]
    pub struct Label {
        #[orm(primary_key, max_length = 20)]
        code: String,
        #[orm(belongs_to = super::base::Item)]
        item_id: i64,
    }
}

/// Branch `note`: a new column on `items`.
mod note {
    use polyorm::prelude::*;

    #[derive(Model, Debug)]
    #[orm(table = "items")]
    pub struct Item {
        #[orm(primary_key, auto_increment)]
        id: i64,
        #[orm(max_length = 40)]
        name: String,
        #[orm(max_length = 200)]
        note: Option<String>,
    }
}

/// Another branch adding the same column with another type.
mod long_note {
    use polyorm::prelude::*;

    #[derive(Model, Debug)]
    #[orm(table = "items")]
    pub struct Item {
        #[orm(primary_key, auto_increment)]
        id: i64,
        #[orm(max_length = 40)]
        name: String,
        #[orm(max_length = 500)]
        note: Option<String>,
    }
}

fn schema_base() -> Schema {
    Schema::from_models([<base::Item as polyorm::Model>::schema()])
}

fn schema_tags() -> Schema {
    Schema::from_models([
        <base::Item as polyorm::Model>::schema(),
        <tags::Label as polyorm::Model>::schema(),
    ])
}

fn schema_note() -> Schema {
    Schema::from_models([<note::Item as polyorm::Model>::schema()])
}

/// What the code holds after both branches merged.
fn schema_merged() -> Schema {
    Schema::from_models([
        <note::Item as polyorm::Model>::schema(),
        <tags::Label as polyorm::Model>::schema(),
    ])
}

fn version(n: u32) -> GenerateOptions {
    GenerateOptions {
        version: Some(format!("202601010000{n:02}")),
        ..GenerateOptions::default()
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

/// The base migration, then a branch written in a copy of the directory and brought back (as
/// git brings a merged branch's files): `ctx.dir` ends with both branches' migrations.
fn diverge(ctx: &common::Ctx, other: Schema) -> (String, String) {
    let dialect = ctx.dialect();
    let sibling = ctx.dir.with_extension("branch");
    let _ = std::fs::remove_dir_all(&sibling);
    copy_dir(&ctx.dir, &sibling);
    let ours = generate(&ctx.dir, "add_labels", &schema_tags(), dialect, &version(1))
        .unwrap()
        .unwrap();
    let theirs = generate(&sibling, "add_note", &other, dialect, &version(2))
        .unwrap()
        .unwrap();
    copy_dir(&theirs.dir, &ctx.dir.join(theirs.dir.file_name().unwrap()));
    std::fs::remove_dir_all(&sibling).unwrap();
    let id = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
    (id(&ours.dir), id(&theirs.dir))
}

async fn names(ctx: &common::Ctx) -> Vec<String> {
    ctx.db
        .fetch_compiled(
            Compiled {
                sql: "SELECT name FROM items ORDER BY id".to_owned(),
                values: vec![],
            },
            |r| String::decode(r, 0),
        )
        .await
        .unwrap()
}

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=orm", "-c", "user.email=orm@localhost"])
        .args(args)
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

per_backend! {
    async fn two_branches_from_one_parent_are_found_and_merged_without_losing_rows(ctx) {
        let dialect = ctx.dialect();
        generate(&ctx.dir, "init", &schema_base(), dialect, &version(0)).unwrap().unwrap();
        // The migrations directory is a git checkout: `up` records the revision.
        git(&ctx.dir, &["init", "-q"]);
        std::fs::write(ctx.dir.join(".gitignore"), "db.sqlite*\n").unwrap();
        git(&ctx.dir, &["add", "."]);
        git(&ctx.dir, &["commit", "-q", "-m", "init"]);
        let init_revision = git(&ctx.dir, &["rev-parse", "HEAD"]);
        let migrator = Migrator::new(ctx.db.clone(), &ctx.dir, schema_merged()).unwrap();
        migrator.up(None, false).await.unwrap();
        ctx.db
            .execute_raw("INSERT INTO items (name) VALUES ('first'), ('second')")
            .await
            .unwrap();

        let (ours, theirs) = diverge(ctx, schema_note());
        let migrations = load_dir(&ctx.dir).unwrap();
        assert_eq!(migrations[1].parents, vec!["20260101000000_init".to_owned()]);
        assert_eq!(migrations[2].parents, vec!["20260101000000_init".to_owned()]);
        let divergent = |e: Error| match e {
            Error::DivergentHistory { base, heads } => {
                assert_eq!(base.as_deref(), Some("20260101000000_init"));
                assert_eq!(heads, vec![ours.clone(), theirs.clone()]);
            }
            other => panic!("expected a divergent history, got {other}"),
        };
        divergent(migrator.status().await.unwrap_err());
        divergent(migrator.up(None, false).await.unwrap_err());
        divergent(migrator.verify().await.unwrap_err());
        // Generating on top would diff against one branch's snapshot and write the other
        // branch's changes again.
        divergent(generate(&ctx.dir, "more", &schema_merged(), dialect, &version(9)).unwrap_err());
        let message = migrator.up(None, false).await.unwrap_err().to_string();
        assert!(message.contains("`merge <name>`"), "{message}");
        // Nothing ran.
        assert_eq!(migrator.history().await.unwrap().len(), 1);

        let merged = merge(
            &ctx.dir,
            "merge_labels_note",
            &MergeOptions { version: Some("20260101000003".into()), ..MergeOptions::default() },
        )
        .unwrap();
        assert!(merged.operations.is_empty());
        let migrations = load_dir(&ctx.dir).unwrap();
        let lineage = Lineage::new(&migrations).unwrap();
        assert_eq!(lineage.heads(), vec!["20260101000003_merge_labels_note".to_owned()]);
        assert_eq!(lineage.parents("20260101000003_merge_labels_note"), [ours.clone(), theirs.clone()]);
        // The merge's snapshot holds both branches: the merged models need no migration.
        assert!(generate(&ctx.dir, "nothing", &schema_merged(), dialect, &version(9))
            .unwrap()
            .is_none());

        git(&ctx.dir, &["add", "."]);
        git(&ctx.dir, &["commit", "-q", "-m", "merge"]);
        let merge_revision = git(&ctx.dir, &["rev-parse", "HEAD"]);
        let applied = migrator.up(None, false).await.unwrap();
        assert_eq!(applied, vec![ours.clone(), theirs.clone(), "20260101000003_merge_labels_note".to_owned()]);
        migrator.verify().await.unwrap();
        assert!(migrator.status().await.unwrap().iter().all(|s| matches!(s.state, State::Applied(_))));
        let history = migrator.history().await.unwrap();
        assert_eq!(history[0].vcs_revision.as_deref(), Some(init_revision.as_str()));
        assert!(history[1..].iter().all(|h| h.vcs_revision.as_deref() == Some(merge_revision.as_str())));
        assert_eq!(names(ctx).await, ["first", "second"]);
        ctx.db
            .execute_raw("UPDATE items SET note = 'kept' WHERE name = 'first'")
            .await
            .unwrap();
        ctx.db
            .execute_raw("INSERT INTO labels (code, item_id) SELECT 'red', id FROM items WHERE name = 'first'")
            .await
            .unwrap();

        // The next change builds on the merge; uncommitted, it is recorded as dirty.
        generate(&ctx.dir, "index_note", &schema_merged_with_index(), dialect, &version(4))
            .unwrap()
            .unwrap();
        let last = load_dir(&ctx.dir).unwrap().pop().unwrap();
        assert_eq!(last.parents, vec!["20260101000003_merge_labels_note".to_owned()]);
        migrator.up(None, false).await.unwrap();
        let history = migrator.history().await.unwrap();
        assert_eq!(
            history.last().unwrap().vcs_revision,
            Some(format!("{merge_revision}-dirty"))
        );
        // Rolling back walks the same line backwards; the rows stay.
        let rolled = migrator.down(2, false).await.unwrap();
        assert_eq!(rolled, vec!["20260101000004_index_note".to_owned(), "20260101000003_merge_labels_note".to_owned()]);
        assert_eq!(names(ctx).await, ["first", "second"]);
    }

    async fn branches_changing_the_same_column_are_a_conflict_to_resolve_by_hand(ctx) {
        let dialect = ctx.dialect();
        generate(&ctx.dir, "init", &schema_base(), dialect, &version(0)).unwrap().unwrap();
        let sibling = ctx.dir.with_extension("other");
        let _ = std::fs::remove_dir_all(&sibling);
        copy_dir(&ctx.dir, &sibling);
        generate(&ctx.dir, "note", &schema_note(), dialect, &version(1)).unwrap().unwrap();
        let long = Schema::from_models([<long_note::Item as polyorm::Model>::schema()]);
        let theirs = generate(&sibling, "long_note", &long, dialect, &version(2)).unwrap().unwrap();
        copy_dir(&theirs.dir, &ctx.dir.join(theirs.dir.file_name().unwrap()));
        std::fs::remove_dir_all(&sibling).unwrap();
        match merge(&ctx.dir, "merge", &MergeOptions::default()) {
            Err(Error::MergeConflict { heads, conflicts }) => {
                assert_eq!(heads.len(), 2);
                assert!(conflicts.iter().any(|c| c.contains("items")), "{conflicts:?}");
            }
            other => panic!("expected a conflict, got {other:?}"),
        }
        // Nothing was written.
        assert_eq!(load_dir(&ctx.dir).unwrap().len(), 3);
        // A history of one line has nothing to merge.
        std::fs::remove_dir_all(ctx.dir.join(theirs.dir.file_name().unwrap())).unwrap();
        assert!(matches!(
            merge(&ctx.dir, "merge", &MergeOptions::default()),
            Err(Error::NothingToMerge(Some(head))) if head == "20260101000001_note"
        ));
    }

    async fn a_history_table_from_before_revisions_gains_the_column(ctx) {
        let dialect = ctx.dialect();
        generate(&ctx.dir, "init", &schema_base(), dialect, &version(0)).unwrap().unwrap();
        let migrator = Migrator::new(ctx.db.clone(), &ctx.dir, schema_note()).unwrap();
        migrator.up(None, false).await.unwrap();
        // As an older version of the ORM left it: no vcs_revision column.
        ctx.db.execute_raw("DROP TABLE orm_migrations").await.unwrap();
        ctx.db
            .execute_raw(
                "CREATE TABLE orm_migrations (version VARCHAR(14) NOT NULL PRIMARY KEY, name \
                 VARCHAR(255) NOT NULL, checksum TEXT NOT NULL, applied_at VARCHAR(19) NOT NULL, \
                 execution_ms BIGINT NOT NULL, success BOOLEAN NOT NULL)",
            )
            .await
            .unwrap();
        let init = load_dir(&ctx.dir).unwrap().remove(0);
        ctx.db
            .execute_raw(&format!(
                "INSERT INTO orm_migrations VALUES ('20260101000000', 'init', '{}', \
                 '2026-01-01 00:00:00', 3, TRUE)",
                init.checksum
            ))
            .await
            .unwrap();
        // Migrations written before parents were recorded (no `-- orm:parent` lines) form a
        // line in version order.
        generate(&ctx.dir, "note", &schema_note(), dialect, &version(1)).unwrap().unwrap();
        for m in load_dir(&ctx.dir).unwrap() {
            let up = std::fs::read_to_string(m.dir.join("up.sql")).unwrap();
            let stripped: String = up
                .lines()
                .filter(|l| !l.starts_with(lineage::PARENT_DIRECTIVE))
                .map(|l| format!("{l}\n"))
                .collect();
            std::fs::write(m.dir.join("up.sql"), stripped).unwrap();
        }
        // init's checksum changed with the stripped line: record the new one.
        let init = load_dir(&ctx.dir).unwrap().remove(0);
        ctx.db
            .execute_raw(&format!("UPDATE orm_migrations SET checksum = '{}'", init.checksum))
            .await
            .unwrap();
        assert_eq!(migrator.up(None, false).await.unwrap(), vec!["20260101000001_note".to_owned()]);
        let history = migrator.history().await.unwrap();
        assert_eq!(history[0].vcs_revision, None);
        assert_eq!(history[0].execution_ms, 3);
        assert_eq!(history.len(), 2);
        migrator.verify().await.unwrap();
    }
}

mod indexed {
    use polyorm::prelude::*;

    #[derive(Model, Debug)]
    #[orm(table = "items")]
    pub struct Item {
        #[orm(primary_key, auto_increment)]
        id: i64,
        #[orm(max_length = 40)]
        name: String,
        #[orm(index, max_length = 200)]
        note: Option<String>,
    }
}

fn schema_merged_with_index() -> Schema {
    Schema::from_models([
        <indexed::Item as polyorm::Model>::schema(),
        <tags::Label as polyorm::Model>::schema(),
    ])
}
