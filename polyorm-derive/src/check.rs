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
    one_shard_key_not_generated(cx, cont);
    column_names_are_distinct(cx, cont);
    column_constants_are_distinct(cx, cont);
    index_names_are_distinct(cx, cont);
    referential_actions_need_belongs_to(cx, cont);
    scale_needs_precision(cx, cont);
    default_fn_stands_alone(cx, cont);
    timestamps_are_single(cx, cont);
    version_is_single(cx, cont);
    soft_delete_is_single(cx, cont);
    check_names_are_distinct(cx, cont);
    index_methods_fit_their_keys(cx, cont);
}

/// An index method other than a b-tree cannot enforce uniqueness, and `hash` and `gin` keys
/// have no order (no `desc`) and hold no `include` columns; `hash` indexes one column.
fn index_methods_fit_their_keys(cx: &Ctxt, cont: &Container<'_>) {
    use crate::attr::IndexMethodAttr::{Btree, Gin, Hash};
    let lists = cont
        .attrs
        .unique
        .iter()
        .map(|l| (true, l))
        .chain(cont.attrs.index.iter().map(|l| (false, l)));
    for (unique, list) in lists {
        let Some((lit, method)) = &list.options.method else {
            continue;
        };
        let m = lit.value();
        if unique && *method != Btree {
            cx.error_spanned_by(
                lit,
                format!(
                    "a `{m}` index cannot enforce uniqueness (only a b-tree can); declare it \
                     with `index(...)`, or drop `method` to make a unique b-tree"
                ),
            );
        }
        if *method == Hash && list.fields.len() > 1 {
            cx.error_spanned_by(
                lit,
                "a `hash` index covers one column; list one field, or use a b-tree (drop \
                 `method`) for several",
            );
        }
        if *method != Btree && list.options.keys.iter().any(|k| k.descending) {
            cx.error_spanned_by(
                lit,
                format!("a `{m}` index has no `desc(...)` keys (only a b-tree orders its keys); drop `method` or `desc`"),
            );
        }
        if matches!(method, Hash | Gin) && !list.options.include.is_empty() {
            cx.error_spanned_by(
                lit,
                format!(
                    "a `{m}` index holds no `include(...)` columns; use `btree` or `gist`, or \
                     list them as keys"
                ),
            );
        }
    }
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

/// `default_fn` fills a field the insert writes, instead of a generated default: not with
/// `default = now()` / `uuid()` (two generators) nor `auto_increment` (never written).
fn default_fn_stands_alone(cx: &Ctxt, cont: &Container<'_>) {
    for field in cont.stored_fields() {
        let Some(function) = &field.attrs.default_fn else {
            continue;
        };
        if field
            .attrs
            .default
            .as_ref()
            .is_some_and(|d| d.value.value.is_generated())
        {
            cx.error_spanned_by(
                &function.key,
                "`default_fn` and `default = now()`/`uuid()` both generate the value; keep one",
            );
        }
        if field.attrs.auto_increment.is_some() {
            cx.error_spanned_by(
                &function.key,
                "`default_fn` cannot fill an `auto_increment` field: the database generates it",
            );
        }
    }
}

/// `created_at` / `updated_at`: at most one field each, not both on one field, not on a key,
/// and not with `default_fn` (the ORM's clock fills them).
fn timestamps_are_single(cx: &Ctxt, cont: &Container<'_>) {
    let mut seen: [Option<String>; 2] = [None, None];
    for field in cont.stored_fields() {
        let a = &field.attrs;
        for (i, (key, name)) in [(&a.created_at, "created_at"), (&a.updated_at, "updated_at")]
            .into_iter()
            .enumerate()
        {
            let Some(key) = key else { continue };
            if let Some(first) = &seen[i] {
                cx.error_spanned_by(
                    key,
                    format!("`{name}` is already on `{first}`; a model has one `{name}` field"),
                );
            }
            seen[i] = Some(field.name());
        }
        let Some(key) = a.created_at.as_ref().or(a.updated_at.as_ref()) else {
            continue;
        };
        if a.created_at.is_some() && a.updated_at.is_some() {
            cx.error_spanned_by(
                key,
                "a field is either `created_at` or `updated_at`, not both",
            );
        }
        if a.primary_key.is_some() || a.auto_increment.is_some() {
            cx.error_spanned_by(key, "`created_at`/`updated_at` cannot be on a key field");
        }
        if a.default_fn.is_some() {
            cx.error_spanned_by(
                key,
                "`created_at`/`updated_at` take the current time; remove `default_fn`",
            );
        }
    }
}

/// `version`: one field per model, not a key (the key finds the row whose version is compared).
fn version_is_single(cx: &Ctxt, cont: &Container<'_>) {
    let mut first: Option<String> = None;
    for field in cont.stored_fields() {
        let Some(key) = &field.attrs.version else {
            continue;
        };
        if let Some(first) = &first {
            cx.error_spanned_by(
                key,
                format!("`version` is already on `{first}`; a model has one `version` field"),
            );
        }
        first = Some(field.name());
        if field.attrs.primary_key.is_some() || field.attrs.auto_increment.is_some() {
            cx.error_spanned_by(key, "`version` cannot be on a key field");
        }
    }
}

/// `soft_delete`: one field per model, not a key nor another generated timestamp (a delete
/// sets it, an insert leaves it NULL).
fn soft_delete_is_single(cx: &Ctxt, cont: &Container<'_>) {
    let mut first: Option<String> = None;
    for field in cont.stored_fields() {
        let Some(key) = &field.attrs.soft_delete else {
            continue;
        };
        if let Some(first) = &first {
            cx.error_spanned_by(
                key,
                format!(
                    "`soft_delete` is already on `{first}`; a model has one `soft_delete` field"
                ),
            );
        }
        first = Some(field.name());
        if field.attrs.primary_key.is_some() || field.attrs.auto_increment.is_some() {
            cx.error_spanned_by(key, "`soft_delete` cannot be on a key field");
        }
        if field.attrs.created_at.is_some()
            || field.attrs.updated_at.is_some()
            || field.attrs.version.is_some()
            || field.attrs.default.is_some()
            || field.attrs.default_fn.is_some()
        {
            cx.error_spanned_by(
                key,
                "`soft_delete` stands alone: the column is NULL until a delete sets it, so it \
                 takes no default, `created_at`, `updated_at` or `version`",
            );
        }
    }
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

/// `on_delete` / `on_update` / `fk_name` describe a foreign key, so they need `belongs_to` on
/// the field.
fn referential_actions_need_belongs_to(cx: &Ctxt, cont: &Container<'_>) {
    for field in cont.fields() {
        if field.attrs.belongs_to.is_some() {
            continue;
        }
        let actions = [&field.attrs.on_delete, &field.attrs.on_update]
            .into_iter()
            .flatten()
            .map(|action| &action.key);
        for key in actions.chain(field.attrs.fk_name.as_ref().map(|name| &name.key)) {
            cx.error_spanned_by(
                key,
                format!(
                    "`{key}` needs `belongs_to = Parent` on the same field: it configures that foreign key"
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
        include_names_stored_fields(cx, cont, list);
    }
}

/// `include(...)` names existing, stored fields that are not keys of the same index.
fn include_names_stored_fields(cx: &Ctxt, cont: &Container<'_>, list: &FieldList) {
    let key = &list.key;
    for ident in &list.options.include {
        match cont.field_named(ident) {
            None => cx.error_spanned_by(
                ident,
                format!(
                    "`include(...)` of `{key}(...)` names `{ident}`, but `{}` has no such field",
                    cont.ident
                ),
            ),
            Some(field) if !field.is_stored() => cx.error_spanned_by(
                ident,
                format!(
                    "`include(...)` names `{ident}`, which is `#[orm(skip)]` and has no column"
                ),
            ),
            Some(_) if list.fields.contains(ident) => cx.error_spanned_by(
                ident,
                format!("`{ident}` is already a key of this index; list it once"),
            ),
            Some(_) => {}
        }
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

/// At most one field is the shard key, and not an `auto_increment` one (each shard would
/// generate its own values, so a row's key would not be known before it is written).
fn one_shard_key_not_generated(cx: &Ctxt, cont: &Container<'_>) {
    let mut seen = false;
    for field in cont.fields() {
        let Some(flag) = &field.attrs.shard_key else {
            continue;
        };
        if seen {
            cx.error_spanned_by(
                flag,
                "a model has one shard key; remove `shard_key` from all fields but one",
            );
        }
        seen = true;
        if field.attrs.auto_increment.is_some() {
            cx.error_spanned_by(
                flag,
                format!(
                    "the shard key `{}` cannot be `auto_increment`: each shard would generate                      its own values, so a new row's shard would not be known before it is                      written; shard by a key the application sets (a tenant or user id)",
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
