//! Rules that span several options or fields, one function per rule.
//!
//! They run after every attribute is parsed and only record errors; the generated code relies
//! on them (a valid key, known field names, distinct column and index names).

use std::collections::HashSet;

use proc_macro2::Span;

use crate::ast::{Container, Field};
use crate::attr::FieldList;
use crate::ctxt::Ctxt;

/// Runs every rule on `cont`.
pub fn check(cx: &Ctxt, cont: &Container<'_>) {
    no_generics(cx, cont);
    if cont.fields.is_none() {
        // Not a struct with named fields (already reported): field rules would only echo it.
        return;
    }
    skip_stands_alone(cx, cont);
    field_lists_name_stored_fields(cx, cont);
    primary_key_is_declared(cx, cont);
    primary_key_declared_once(cx, cont);
    at_most_one_primary_key_field(cx, cont);
    auto_increment_only_on_single_key(cx, cont);
    column_names_are_distinct(cx, cont);
    column_constants_are_distinct(cx, cont);
    index_names_are_distinct(cx, cont);
    referential_actions_need_belongs_to(cx, cont);
    scale_needs_precision(cx, cont);
    check_names_are_distinct(cx, cont);
}

/// A named check's constraint cannot take the name of another check, nor of the checks the
/// ORM derives from a column (`ck_<table>_<column>[_length|_range|_oid]`).
fn check_names_are_distinct(cx: &Ctxt, cont: &Container<'_>) {
    let table = cont.table_name();
    let mut derived = HashSet::new();
    for field in cont.stored_fields() {
        for suffix in ["", "_length", "_range", "_oid"] {
            derived.insert(format!("ck_{table}_{}{suffix}", field.column_name()));
        }
    }
    let checks = cont.checks();
    for check in checks.iter().filter(|c| c.column.is_none()) {
        if derived.contains(&check.name) {
            cx.error_at(
                check.span,
                format!(
                    "the check `{}` has the name of a CHECK the ORM derives from a column; \
                     choose another name, or put `check = ...` on that field",
                    check.name
                ),
            );
        }
    }
    report_duplicates(
        cx,
        checks.iter().map(|c| (c.name.clone(), c.span)),
        |name| format!("duplicate check `{name}`: give each check its own name"),
    );
}

/// `scale` sizes the fraction of a `precision`-digit decimal, so it needs `precision` and
/// cannot exceed it.
fn scale_needs_precision(cx: &Ctxt, cont: &Container<'_>) {
    for field in cont.fields() {
        let Some(scale) = &field.attrs.scale else {
            continue;
        };
        match &field.attrs.precision {
            None => cx.error_spanned_by(
                &scale.key,
                "`scale` needs `precision` on the same field, e.g. `precision = 10, scale = 2`",
            ),
            Some(precision) if scale.value > precision.value => cx.error_spanned_by(
                &scale.key,
                format!(
                    "`scale = {}` exceeds `precision = {}`: the scale counts digits within the precision",
                    scale.value, precision.value
                ),
            ),
            Some(_) => {}
        }
    }
}

/// `on_delete` / `on_update` describe a foreign key, so they need `belongs_to` on the field.
fn referential_actions_need_belongs_to(cx: &Ctxt, cont: &Container<'_>) {
    for field in cont.fields() {
        if field.attrs.belongs_to.is_some() {
            continue;
        }
        for action in [&field.attrs.on_delete, &field.attrs.on_update]
            .into_iter()
            .flatten()
        {
            cx.error_spanned_by(
                &action.key,
                format!(
                    "`{}` needs `belongs_to = Parent` on the same field: it configures that foreign key",
                    action.key
                ),
            );
        }
    }
}

/// Generic parameters (types, lifetimes, consts) and where clauses are not supported.
fn no_generics(cx: &Ctxt, cont: &Container<'_>) {
    let generics = &cont.original.generics;
    const MSG: &str = "#[derive(Model)] does not support generic structs";
    if !generics.params.is_empty() {
        cx.error_spanned_by(generics, MSG);
    } else if let Some(where_clause) = &generics.where_clause {
        cx.error_spanned_by(where_clause, MSG);
    }
}

/// A `skip` field takes no other option: it has no column to configure.
fn skip_stands_alone(cx: &Ctxt, cont: &Container<'_>) {
    for field in cont.fields() {
        if field.attrs.skip.is_none() {
            continue;
        }
        for key in field.attrs.keys_besides_skip() {
            cx.error_spanned_by(
                key,
                format!(
                    "`{key}` cannot be combined with `skip`: a skipped field has no column; \
                     remove one of them"
                ),
            );
        }
    }
}

/// Struct-level lists name existing, stored fields, each at most once.
fn field_lists_name_stored_fields(cx: &Ctxt, cont: &Container<'_>) {
    let attrs = &cont.attrs;
    let lists = attrs
        .primary_key
        .iter()
        .chain(&attrs.unique)
        .chain(&attrs.index);
    for list in lists {
        field_list_names_stored_fields(cx, cont, list);
    }
}

fn field_list_names_stored_fields(cx: &Ctxt, cont: &Container<'_>, list: &FieldList) {
    let key = &list.key;
    for (i, ident) in list.fields.iter().enumerate() {
        match cont.field_named(ident) {
            None => cx.error_spanned_by(
                ident,
                format!(
                    "`{key}(...)` names `{ident}`, but `{}` has no such field",
                    cont.ident
                ),
            ),
            Some(field) if !field.is_stored() => cx.error_spanned_by(
                ident,
                format!("`{key}(...)` names `{ident}`, which is `#[orm(skip)]` and has no column"),
            ),
            Some(_) if list.fields[..i].iter().any(|prev| prev == ident) => {
                cx.error_spanned_by(ident, format!("`{ident}` is listed twice in `{key}(...)`"));
            }
            Some(_) => {}
        }
    }
}

/// Every model has a primary key, on a field or as a struct-level list.
fn primary_key_is_declared(cx: &Ctxt, cont: &Container<'_>) {
    let on_field = cont.fields().iter().any(|f| f.attrs.primary_key.is_some());
    if !on_field && !cont.attrs.primary_key_mentioned {
        cx.error_spanned_by(
            cont.ident,
            format!(
                "model `{}` has no primary key; mark a field `#[orm(primary_key)]` or add \
                 `#[orm(primary_key(a, b))]` to the struct",
                cont.ident
            ),
        );
    }
}

/// The key is declared either on the struct or on fields, not both.
fn primary_key_declared_once(cx: &Ctxt, cont: &Container<'_>) {
    if !cont.attrs.primary_key_mentioned {
        return;
    }
    for field in cont.fields() {
        if let Some(key) = &field.attrs.primary_key {
            cx.error_spanned_by(
                key,
                "the primary key is already declared on the struct with `primary_key(...)`; \
                 remove one of the two",
            );
        }
    }
}

/// A single-column key is one field; a composite key is declared on the struct.
fn at_most_one_primary_key_field(cx: &Ctxt, cont: &Container<'_>) {
    let keys = cont
        .fields()
        .iter()
        .filter_map(|f| f.attrs.primary_key.as_ref());
    for key in keys.skip(1) {
        cx.error_spanned_by(
            key,
            "model has two primary keys; use `#[orm(primary_key(a, b))]` on the struct for a \
             composite key",
        );
    }
}

/// `auto_increment` is only allowed on the model's single primary-key field.
fn auto_increment_only_on_single_key(cx: &Ctxt, cont: &Container<'_>) {
    let key_fields = cont.key_fields();
    for field in cont.fields() {
        let Some(flag) = &field.attrs.auto_increment else {
            continue;
        };
        let is_single_key = key_fields.len() == 1 && field.is_one_of(&key_fields);
        if !is_single_key {
            let why = if field.is_one_of(&key_fields) {
                "is part of a composite primary key"
            } else {
                "is not the primary key"
            };
            cx.error_spanned_by(
                flag,
                format!(
                    "`auto_increment` is only allowed on the model's single primary-key field, \
                     and `{}` {why}",
                    field.ident
                ),
            );
        }
    }
}

/// Two stored fields cannot map to the same column (after `column = "..."` renames).
fn column_names_are_distinct(cx: &Ctxt, cont: &Container<'_>) {
    report_duplicates(
        cx,
        cont.stored_fields()
            .map(|f| (f.column_name(), f.column_span())),
        |name| format!("duplicate column name `{name}`"),
    );
}

/// Two fields cannot produce the same column constant (`user_id` and `userId` -> `USER_ID`).
fn column_constants_are_distinct(cx: &Ctxt, cont: &Container<'_>) {
    let consts = cont
        .stored_fields()
        .map(|f: &Field<'_>| (f.const_ident().to_string(), f.ident.span()));
    report_duplicates(cx, consts, |name| {
        format!("two fields produce the column constant `{name}`; rename one of them")
    });
}

/// Two indexes cannot have the same name (the same columns indexed twice the same way).
fn index_names_are_distinct(cx: &Ctxt, cont: &Container<'_>) {
    let indexes = cont.indexes();
    report_duplicates(
        cx,
        indexes.iter().map(|ix| (ix.name.clone(), ix.span)),
        |name| format!("duplicate index `{name}`: these columns are already indexed the same way"),
    );
}

/// Reports every name after its first occurrence, at that occurrence's span.
fn report_duplicates(
    cx: &Ctxt,
    names: impl Iterator<Item = (String, Span)>,
    message: impl Fn(&str) -> String,
) {
    let mut seen = HashSet::new();
    for (name, span) in names {
        if !seen.insert(name.clone()) {
            cx.error_at(span, message(&name));
        }
    }
}
