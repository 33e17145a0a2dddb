//! Generation without a database: safety checks, determinism, renames, the registry and
//! insta snapshots of the generated SQL per dialect.

mod common;

use polyorm::Dialect;
use polyorm_migrate::files::GenerateOptions;
use polyorm_migrate::{Error, Operation, Schema, diff, generate};

use common::{temp_dir, versions};

fn fixed(i: usize, allow_destructive: bool) -> GenerateOptions {
    GenerateOptions {
        allow: vec![],
        allow_destructive,
        version: Some(format!("202601010000{i:02}")),
    }
}

#[test]
fn destructive_operations_are_refused_with_what_would_be_lost() {
    let dir = temp_dir("destructive");
    let v = versions();
    generate(&dir, "init", &v[0].1, Dialect::Postgres, &fixed(0, false)).unwrap();
    let narrow_label = GenerateOptions {
        allow: vec!["tags.label".into()],
        ..fixed(1, false)
    };
    generate(&dir, "reshape", &v[1].1, Dialect::Postgres, &narrow_label).unwrap();
    let err = generate(&dir, "drop", &v[2].1, Dialect::Postgres, &fixed(2, false)).unwrap_err();
    let Error::Destructive(list) = &err else {
        panic!("{err}")
    };
    let text = err.to_string();
    assert!(
        text.contains("drop table tags: every row of `tags` would be deleted"),
        "{text}"
    );
    assert!(text.contains("drop column posts.score"), "{text}");
    assert!(text.contains("drop unique posts.uq_posts_slug"), "{text}");
    assert_eq!(list.len(), 3, "{text}");
    // Allowed per target, it goes through.
    let allow = GenerateOptions {
        allow: vec![
            "tags".into(),
            "posts.score".into(),
            "posts.uq_posts_slug".into(),
        ],
        ..fixed(2, false)
    };
    assert!(
        generate(&dir, "drop", &v[2].1, Dialect::Postgres, &allow)
            .unwrap()
            .is_some()
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn narrowing_a_type_and_not_null_are_destructive() {
    let v = versions();
    let ops = diff(&v[1].1, &v[0].1).unwrap();
    let refused = polyorm_migrate::diff::refused(&ops, &[], false);
    assert!(
        refused
            .iter()
            .any(|r| r.contains("alter column authors.age: bigint to int is narrower")),
        "{refused:#?}"
    );
    assert!(
        refused
            .iter()
            .any(|r| r.contains("posts.title: varchar(200) to varchar(50)")),
        "{refused:#?}"
    );
}

#[test]
fn generation_is_byte_identical_for_the_same_input() {
    let (a, b) = (temp_dir("det_a"), temp_dir("det_b"));
    for dir in [&a, &b] {
        for (i, (name, schema)) in versions().into_iter().enumerate() {
            generate(dir, name, &schema, Dialect::MySql, &fixed(i, true)).unwrap();
        }
    }
    let mut files = 0;
    for (i, (name, _)) in versions().into_iter().enumerate() {
        let id = format!("202601010000{i:02}_{name}");
        for f in polyorm_migrate::files::FILES {
            let (x, y) = (
                std::fs::read(a.join(&id).join(f)).unwrap(),
                std::fs::read(b.join(&id).join(f)).unwrap(),
            );
            assert_eq!(x, y, "{id}/{f}");
            files += 1;
        }
    }
    assert_eq!(files, 12);
    // Nothing changed: nothing to generate.
    assert!(
        generate(
            &a,
            "again",
            &versions()[2].1,
            Dialect::MySql,
            &fixed(9, true)
        )
        .unwrap()
        .is_none()
    );
    std::fs::remove_dir_all(a).unwrap();
    std::fs::remove_dir_all(b).unwrap();
}

#[test]
fn renames_come_only_from_renamed_from() {
    let v = versions();
    let ops = diff(&v[0].1, &v[1].1).unwrap();
    assert!(ops.contains(&Operation::RenameColumn {
        table: "authors".into(),
        from: "name".into(),
        to: "full_name".into()
    }));
    // Without the hint, the same change is a drop and an add.
    let mut unhinted = v[1].1.clone();
    for t in unhinted.tables.values_mut() {
        t.renamed_from = None;
        for c in &mut t.columns {
            c.renamed_from = None;
        }
    }
    let ops = diff(&v[0].1, &unhinted).unwrap();
    assert!(!ops.iter().any(|o| matches!(
        o,
        Operation::RenameColumn { .. } | Operation::RenameTable { .. }
    )));
    assert!(
        ops.iter()
            .any(|o| matches!(o, Operation::DropColumn { column, .. } if column.name == "name"))
    );
}

#[test]
fn derived_models_register_themselves() {
    let registered = Schema::registered();
    for table in ["authors", "posts", "tags", "writers", "comments"] {
        assert!(
            registered.tables.contains_key(table),
            "{table} is registered"
        );
    }
}

#[test]
fn generated_sql_per_dialect() {
    for dialect in Dialect::ALL {
        let dir = temp_dir("snap");
        for (i, (name, schema)) in versions().into_iter().enumerate() {
            let g = generate(&dir, name, &schema, dialect, &fixed(i, true))
                .unwrap()
                .unwrap();
            let up = std::fs::read_to_string(g.dir.join("up.sql")).unwrap();
            let down = std::fs::read_to_string(g.dir.join("down.sql")).unwrap();
            insta::assert_snapshot!(format!("{i}_{name}@{dialect}"), format!("{up}\n{down}"));
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}

/// A shelf; deleting it moves its books to shelf 1.
#[derive(polyorm::Model, Debug)]
#[orm(table = "shelves")]
struct Shelf {
    #[orm(primary_key)]
    id: i64,
}

/// `ON DELETE SET DEFAULT`, which InnoDB accepts and does not carry out.
#[derive(polyorm::Model, Debug)]
#[orm(table = "books")]
struct Book {
    #[orm(primary_key)]
    id: i64,
    #[orm(belongs_to = Shelf, on_delete = "set_default", default = 1)]
    shelf_id: i64,
}

#[test]
fn set_default_actions_are_refused_on_mysql_and_generated_elsewhere() {
    use polyorm::Model as _;
    let schema = Schema::from_models([Shelf::SCHEMA, Book::SCHEMA]);
    for dialect in Dialect::ALL {
        let dir = temp_dir("set_default");
        let generated = generate(&dir, "shelves", &schema, dialect, &fixed(0, false));
        if dialect == Dialect::MySql {
            let err = generated.unwrap_err();
            let Error::Db(inner) = &err else {
                panic!("expected the ORM's schema error, got {err:?}");
            };
            assert!(
                matches!(**inner, polyorm::Error::Schema(ref m) if m.contains("ON DELETE SET DEFAULT")),
                "{inner:?}"
            );
        } else {
            let g = generated.unwrap().unwrap();
            let up = std::fs::read_to_string(g.dir.join("up.sql")).unwrap();
            assert!(up.contains("ON DELETE SET DEFAULT"), "{dialect}: {up}");
        }
        std::fs::remove_dir_all(dir).unwrap();
    }
}
