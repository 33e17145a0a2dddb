//! Diff of 200 models against an empty schema and against a schema that differs slightly.

use std::collections::BTreeMap;
use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use polyorm::ColumnType;
use polyorm_migrate::schema::{Column, ForeignKey, Index, Schema, Table};

fn column(name: &str, ty: ColumnType) -> Column {
    Column::new(name, ty, false)
}

/// 200 tables of 12 columns, 2 indexes and a foreign key each.
fn models(variant: u32) -> Schema {
    let mut tables = BTreeMap::new();
    for i in 0..200 {
        let name = format!("table_{i:03}");
        let mut columns = vec![Column {
            auto_increment: true,
            ..column("id", ColumnType::BigInt)
        }];
        for c in 0..10 {
            let ty = [
                ColumnType::Int,
                ColumnType::Text,
                ColumnType::Bool,
                ColumnType::Double,
            ][c % 4];
            columns.push(column(&format!("col_{c}"), ty));
        }
        // The variant changes every tenth table a little.
        if variant == 1 && i % 10 == 0 {
            columns[3].nullable = true;
            columns.push(column("added", ColumnType::Int));
        }
        columns.push(column("parent_id", ColumnType::BigInt));
        tables.insert(
            name.clone(),
            Table {
                name: name.clone(),
                columns,
                primary_key: vec!["id".into()],
                indexes: vec![
                    Index {
                        name: format!("idx_{name}_col_0"),
                        columns: vec!["col_0".into()],
                        unique: false,
                        ..Index::default()
                    },
                    Index {
                        name: format!("uq_{name}_col_1"),
                        columns: vec!["col_1".into()],
                        unique: true,
                        ..Index::default()
                    },
                ],
                foreign_keys: vec![ForeignKey {
                    name: format!("fk_{name}_parent_id"),
                    columns: vec!["parent_id".into()],
                    ref_table: format!("table_{:03}", (i + 199) % 200),
                    ref_columns: vec!["id".into()],
                    on_delete: Default::default(),
                    on_update: Default::default(),
                }],
                checks: vec![],
                triggers: vec![],
                renamed_from: None,
            },
        );
    }
    Schema { tables }
}

fn bench(c: &mut Criterion) {
    let empty = Schema::default();
    let base = models(0);
    let changed = models(1);
    c.bench_function("diff 200 models from empty", |b| {
        b.iter(|| polyorm_migrate::diff(black_box(&empty), black_box(&base)).unwrap())
    });
    c.bench_function("diff 200 models, 20 changed", |b| {
        b.iter(|| polyorm_migrate::diff(black_box(&base), black_box(&changed)).unwrap())
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
