//! Migrations under version control: each migration names the migration it was generated on
//! (`-- orm:parent <id>` in its `up.sql`), so two migrations written on two branches from the
//! same parent — the usual result of merging two feature branches — are found as a divergent
//! history instead of silently losing each other's changes from the next snapshot, and
//! [`merge`] writes the migration that joins them (Alembic's heads and merge, Django's merge
//! migrations).
//!
//! A migration without a parent line (written before lineage was recorded, or by hand) takes
//! the one before it in version order as its parent.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use polyorm_core::Dialect;

use crate::diff::Operation;
use crate::error::{Error, Result};
use crate::files::{Generated, Migration, OperationsFile, create_migration_dir, load_dir, write};
use crate::schema::Schema;

/// The directive naming a migration's parent in its `up.sql`.
pub const PARENT_DIRECTIVE: &str = "-- orm:parent ";

/// The ids named by `-- orm:parent` lines of `up`, in order.
pub fn parents_in(up: &str) -> Vec<String> {
    up.lines()
        .filter_map(|line| line.trim().strip_prefix(PARENT_DIRECTIVE))
        .map(|rest| rest.trim().to_owned())
        .filter(|id| !id.is_empty())
        .collect()
}

/// The parent lines of a new migration written on `parents`.
pub(crate) fn parent_lines(parents: &[String]) -> String {
    parents
        .iter()
        .map(|p| format!("{PARENT_DIRECTIVE}{p}\n"))
        .collect()
}

/// The migrations of a directory as a graph: each one's parents, explicit or implied.
#[derive(Debug)]
pub struct Lineage<'a> {
    migrations: &'a [Migration],
    parents: BTreeMap<String, Vec<String>>,
}

impl<'a> Lineage<'a> {
    /// Reads the parents of `migrations` (ordered by version, as [`load_dir`] returns them);
    /// a parent that is not among them is [`Error::Malformed`].
    pub fn new(migrations: &'a [Migration]) -> Result<Lineage<'a>> {
        let ids: BTreeSet<String> = migrations.iter().map(Migration::id).collect();
        let mut parents = BTreeMap::new();
        for (i, m) in migrations.iter().enumerate() {
            let own = if m.parents.is_empty() {
                i.checked_sub(1)
                    .map(|p| vec![migrations[p].id()])
                    .unwrap_or_default()
            } else {
                m.parents.clone()
            };
            for p in &own {
                let earlier = migrations[..i].iter().any(|o| o.id() == *p);
                if !earlier {
                    return Err(Error::Malformed {
                        path: m.dir.clone(),
                        reason: if ids.contains(p) {
                            format!(
                                "its parent `{p}` comes after it; a migration's parent must be \
                                 older (restore the directory names from version control)"
                            )
                        } else {
                            format!(
                                "its parent `{p}` (the `-- orm:parent` line of up.sql) is not \
                                 in the directory; restore that migration from version control"
                            )
                        },
                    });
                }
            }
            parents.insert(m.id(), own);
        }
        Ok(Lineage {
            migrations,
            parents,
        })
    }

    /// The migrations no other migration builds on, oldest first: one for a linear history.
    pub fn heads(&self) -> Vec<String> {
        let used: BTreeSet<&String> = self.parents.values().flatten().collect();
        self.migrations
            .iter()
            .map(Migration::id)
            .filter(|id| !used.contains(id))
            .collect()
    }

    /// The parents of migration `id`.
    pub fn parents(&self, id: &str) -> &[String] {
        self.parents.get(id).map_or(&[], Vec::as_slice)
    }

    /// `id` and every migration it builds on.
    fn ancestry(&self, id: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![id.to_owned()];
        while let Some(next) = todo.pop() {
            if seen.insert(next.clone()) {
                todo.extend(self.parents(&next).iter().cloned());
            }
        }
        seen
    }

    /// The newest migration every head builds on (`None` when they share none).
    pub fn base(&self, heads: &[String]) -> Option<String> {
        let mut common: Option<BTreeSet<String>> = None;
        for head in heads {
            let ancestry = self.ancestry(head);
            common = Some(match common {
                None => ancestry,
                Some(c) => c.intersection(&ancestry).cloned().collect(),
            });
        }
        let common = common.unwrap_or_default();
        self.migrations
            .iter()
            .rev()
            .map(Migration::id)
            .find(|id| common.contains(id))
    }

    /// Fails with [`Error::DivergentHistory`] when the history has more than one head.
    pub fn check(&self) -> Result<()> {
        let heads = self.heads();
        if heads.len() > 1 {
            return Err(Error::DivergentHistory {
                base: self.base(&heads),
                heads,
            });
        }
        Ok(())
    }

    /// The schema after migration `id`: its snapshot, or that of its nearest generated
    /// ancestor along first parents (empty when there is none).
    pub fn snapshot_after(&self, id: &str) -> Schema {
        let mut at = Some(id.to_owned());
        while let Some(current) = at {
            let m = self.migration(&current);
            if let Some(snapshot) = &m.snapshot {
                return snapshot.clone();
            }
            at = self.parents(&current).first().cloned();
        }
        Schema::default()
    }

    /// The schema migration `id` was written on (after its first parent).
    pub fn snapshot_before(&self, id: &str) -> Schema {
        self.parents(id)
            .first()
            .map(|p| self.snapshot_after(p))
            .unwrap_or_default()
    }

    fn migration(&self, id: &str) -> &'a Migration {
        self.migrations
            .iter()
            .find(|m| m.id() == id)
            .expect("lineage ids are the migrations'")
    }

    /// The migrations of `head`'s branch after `base`, oldest first.
    fn branch(&self, head: &str, base: Option<&str>) -> Vec<&'a Migration> {
        let before_base: BTreeSet<String> = base.map(|b| self.ancestry(b)).unwrap_or_default();
        let ancestry = self.ancestry(head);
        self.migrations
            .iter()
            .filter(|m| ancestry.contains(&m.id()) && !before_base.contains(&m.id()))
            .collect()
    }
}

/// Checks that the migrations of a directory form one line of history.
pub fn check(migrations: &[Migration]) -> Result<()> {
    Lineage::new(migrations)?.check()
}

/// Options of [`merge`].
#[derive(Debug, Clone, Default)]
pub struct MergeOptions {
    /// The dialect recorded in the merge migration (default: the heads' generated
    /// migrations').
    pub dialect: Option<Dialect>,
    /// The version to use instead of the current UTC time (tests, reproducible builds).
    pub version: Option<String>,
}

/// Writes the migration that joins the heads of a divergent history in `dir`: its parents are
/// every head, it runs nothing (each branch's migrations already do their part, in version
/// order), and its snapshot holds the changes of every branch, so the next `generate` diffs
/// the models against all of them.
///
/// Refused with [`Error::NothingToMerge`] when the history has one head, and with
/// [`Error::MergeConflict`] when two branches change the same table or column (write the
/// reconciling migration by hand, with `-- orm:parent` lines naming each head).
pub fn merge(dir: &Path, name: &str, options: &MergeOptions) -> Result<Generated> {
    crate::files::check_name(name)?;
    let migrations = load_dir(dir)?;
    let lineage = Lineage::new(&migrations)?;
    let heads = lineage.heads();
    if heads.len() < 2 {
        return Err(Error::NothingToMerge(heads.into_iter().next()));
    }
    let base = lineage.base(&heads);
    let branches: Vec<(String, Vec<&Migration>)> = heads
        .iter()
        .map(|h| (h.clone(), lineage.branch(h, base.as_deref())))
        .collect();
    let dialect = match options.dialect {
        Some(d) => d.name().to_owned(),
        None => branches
            .iter()
            .flat_map(|(_, b)| b.iter())
            .find_map(|m| m.operations.as_ref().map(|o| o.dialect.clone()))
            .ok_or_else(|| {
                Error::Unsupported(
                    "the branches hold no generated migration to take the dialect from: pass \
                     --dialect"
                        .to_owned(),
                )
            })?,
    };
    let conflicts = conflicts(&branches, dialect == Dialect::Sqlite.name());
    if !conflicts.is_empty() {
        return Err(Error::MergeConflict { heads, conflicts });
    }
    let mut merged = base
        .as_deref()
        .map(|b| lineage.snapshot_after(b))
        .unwrap_or_default();
    for (_, branch) in &branches {
        for m in branch {
            for op in m.operations.iter().flat_map(|o| &o.operations) {
                merged.apply(op);
            }
        }
    }
    let (id, path) = create_migration_dir(dir, &migrations, name, options.version.clone())?;
    let up = format!(
        "-- {id} (up): merges {} (written on {}); nothing to run: each branch's migrations \
         apply their own changes\n{}",
        heads.join(", "),
        base.as_deref().unwrap_or("an empty history"),
        parent_lines(&heads)
    );
    let down = format!("-- {id} (down): nothing to undo\n");
    let mut ops_json = serde_json::to_string_pretty(&OperationsFile {
        dialect,
        operations: Vec::new(),
    })
    .expect("operations serialize");
    ops_json.push('\n');
    write(&path.join("up.sql"), &up)?;
    write(&path.join("down.sql"), &down)?;
    write(&path.join("operations.json"), &ops_json)?;
    write(&path.join("snapshot.json"), &merged.to_json())?;
    Ok(Generated {
        dir: path,
        operations: Vec::new(),
    })
}

/// What two branches both change: the same column, index, key or check; a table one branch
/// creates, drops or renames and the other changes at all; on SQLite any table both change
/// (a change there may rebuild the table from the branch's own snapshot, which lacks the other
/// branch's columns: applying both would drop them).
fn conflicts(branches: &[(String, Vec<&Migration>)], sqlite: bool) -> Vec<String> {
    struct Footprint<'a> {
        head: &'a str,
        /// Tables changed as a whole.
        whole: BTreeSet<String>,
        /// Every table touched.
        tables: BTreeSet<String>,
        /// `table.object` targets.
        targets: BTreeSet<String>,
    }
    let footprints: Vec<Footprint<'_>> = branches
        .iter()
        .map(|(head, branch)| {
            let mut f = Footprint {
                head,
                whole: BTreeSet::new(),
                tables: BTreeSet::new(),
                targets: BTreeSet::new(),
            };
            for op in branch
                .iter()
                .flat_map(|m| m.operations.iter().flat_map(|o| &o.operations))
            {
                let mut tables = vec![op.table().to_owned()];
                if let Operation::RenameTable { from, .. } = op {
                    tables.push(from.clone());
                }
                let whole = sqlite
                    || matches!(
                        op,
                        Operation::CreateTable { .. }
                            | Operation::DropTable { .. }
                            | Operation::RenameTable { .. }
                    );
                if whole {
                    f.whole.extend(tables.iter().cloned());
                }
                f.tables.extend(tables);
                f.targets.insert(op.target());
            }
            f
        })
        .collect();
    let mut out = Vec::new();
    for (i, a) in footprints.iter().enumerate() {
        for b in &footprints[i + 1..] {
            let both = |what: &str, x: &BTreeSet<String>, y: &BTreeSet<String>| {
                x.intersection(y)
                    .map(|t| format!("{what} `{t}` is changed by {} and {}", a.head, b.head))
                    .collect::<Vec<_>>()
            };
            let mut found = both("", &a.targets, &b.targets);
            found.extend(both("table", &a.whole, &b.tables));
            found.extend(both("table", &a.tables, &b.whole));
            found.sort();
            found.dedup();
            out.extend(found.into_iter().map(|c| c.trim_start().to_owned()));
        }
    }
    out
}

/// The revision of the checkout holding `dir` (`git rev-parse HEAD`), with `-dirty` when files
/// under `dir` differ from it; `None` outside a git checkout or without `git`.
pub fn vcs_revision(dir: &Path) -> Option<String> {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    let head = git(&["rev-parse", "HEAD"]).filter(|h| !h.is_empty())?;
    let dirty = git(&["status", "--porcelain", "--", "."]).is_some_and(|s| !s.is_empty());
    Some(if dirty { format!("{head}-dirty") } else { head })
}

#[cfg(test)]
mod tests {
    use super::parents_in;

    #[test]
    fn parent_lines_are_read_from_up_sql() {
        let up = "-- 20240102000000_b (up): generated\n-- orm:parent 20240101000000_a\n\
                  -- orm:parent   20240101000001_c  \nCREATE TABLE t (id int);\n-- orm:parent\n\
                  -- orm:parents are listed above\n";
        assert_eq!(parents_in(up), vec!["20240101000000_a", "20240101000001_c"]);
        assert!(parents_in("CREATE TABLE t (id int);").is_empty());
    }
}
