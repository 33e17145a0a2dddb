//! Options of `#[orm(...)]` on the struct.

use syn::{DeriveInput, Ident, LitStr, Path};

use super::{
    NamedCheck, Once, RelationDecl, for_each_option, has_list, parse_field_list, parse_lit_str,
    parse_named_checks, parse_relations, reject, unknown,
};
use crate::ctxt::Ctxt;
use crate::symbol::{
    CHECK, CRATE, FIELD_ONLY, HAS_MANY, HAS_ONE, INDEX, PRIMARY_KEY, RENAMED_FROM, Symbol, TABLE,
    UNIQUE,
};

/// A struct-level list of fields such as `unique(name, age)`.
pub struct FieldList {
    /// The option's key (`primary_key`, `unique` or `index`), for spans.
    pub key: Ident,
    /// The listed field names, in order (never empty).
    pub fields: Vec<Ident>,
    /// `name = "..."` in the list: the database's name for the index or constraint (a
    /// database the ORM did not create names its own, e.g. `orders_sku_key`).
    pub name: Option<LitStr>,
    /// Index options (`desc`, `lower`, `method`, `include`, `where`); empty for
    /// `primary_key(...)`.
    pub options: super::IndexOptions,
}

/// The struct-level options.
pub struct Container {
    /// `table = "name"`.
    pub table: Option<LitStr>,
    /// `crate = "path"`, already parsed as a path.
    pub krate: Option<Path>,
    /// `primary_key(a, b)`.
    pub primary_key: Option<FieldList>,
    /// Whether `primary_key` appeared on the struct in any form, even a wrong one (so that a
    /// malformed key is not also reported as a missing one).
    pub primary_key_mentioned: bool,
    /// Every `unique(a, b)`, in order.
    pub unique: Vec<FieldList>,
    /// Every `index(a, b)`, in order.
    pub index: Vec<FieldList>,
    /// `renamed_from = "old_table"`.
    pub renamed_from: Option<LitStr>,
    /// Every `has_many(accessor = Child::FK)`, in order.
    pub has_many: Vec<RelationDecl>,
    /// Every `has_one(accessor = Child::FK)`, in order.
    pub has_one: Vec<RelationDecl>,
    /// Every `check(name = <filter>)`, in order.
    pub checks: Vec<NamedCheck>,
}

impl Container {
    /// Parses the struct's `#[orm(...)]` attributes, recording every problem in `cx`.
    pub fn from_ast(cx: &Ctxt, input: &DeriveInput) -> Self {
        let mut table = Once::new(cx, TABLE);
        let mut krate = Once::new(cx, CRATE);
        let mut primary_key = Once::new(cx, PRIMARY_KEY);
        let mut primary_key_mentioned = false;
        let mut unique = Vec::new();
        let mut index = Vec::new();
        let mut renamed_from = Once::new(cx, RENAMED_FROM);
        let mut has_many = Vec::new();
        let mut has_one = Vec::new();
        let mut checks = Vec::new();

        for_each_option(cx, &input.attrs, |meta| {
            if meta.path == TABLE {
                if let Some(name) = parse_lit_str(cx, meta, TABLE)? {
                    table.set(&meta.path, name);
                }
            } else if meta.path == RENAMED_FROM {
                if let Some(name) = parse_lit_str(cx, meta, RENAMED_FROM)? {
                    renamed_from.set(&meta.path, name);
                }
            } else if meta.path == HAS_MANY || meta.path == HAS_ONE {
                let (name, list) = if meta.path == HAS_MANY {
                    (HAS_MANY, &mut has_many)
                } else {
                    (HAS_ONE, &mut has_one)
                };
                if !has_list(meta) {
                    return reject(
                        cx,
                        meta,
                        format!("`{name}` needs a list: `{name}(posts = Post::AUTHOR_ID)`"),
                    );
                }
                list.extend(parse_relations(cx, meta, name)?);
            } else if meta.path == CHECK {
                if !has_list(meta) {
                    return reject(
                        cx,
                        meta,
                        "on the struct, a check is named: \
                         `#[orm(check(adult = Self::AGE.ge(18)))]` (named `ck_<table>_adult`); \
                         `check = ...` without a name goes on a field",
                    );
                }
                checks.extend(parse_named_checks(cx, meta)?);
            } else if meta.path == CRATE {
                if let Some(path) = parse_lit_str(cx, meta, CRATE)? {
                    match path.parse::<Path>() {
                        Ok(parsed) => krate.set(&meta.path, parsed),
                        Err(_) => cx.error_spanned_by(
                            &path,
                            "`crate` must be a path, e.g. `crate = \"polyorm_core\"`",
                        ),
                    }
                }
            } else if meta.path == PRIMARY_KEY {
                primary_key_mentioned = true;
                if !has_list(meta) {
                    return needs_list(cx, meta, PRIMARY_KEY);
                }
                if let Some(list) = parse_field_list(cx, meta, PRIMARY_KEY)? {
                    primary_key.set(&meta.path, list);
                }
            } else if meta.path == UNIQUE || meta.path == INDEX {
                let name = if meta.path == UNIQUE { UNIQUE } else { INDEX };
                if !has_list(meta) {
                    return needs_list(cx, meta, name);
                }
                if let Some(list) = parse_field_list(cx, meta, name)? {
                    if name == UNIQUE {
                        unique.push(list)
                    } else {
                        index.push(list)
                    }
                }
            } else if let Some(name) = FIELD_ONLY.iter().find(|s| meta.path == **s) {
                return reject(
                    cx,
                    meta,
                    format!("`{name}` is a field option; put it on a field"),
                );
            } else {
                return unknown(cx, meta);
            }
            Ok(())
        });

        Container {
            table: table.get(),
            krate: krate.get(),
            primary_key: primary_key.get(),
            primary_key_mentioned,
            unique,
            index,
            renamed_from: renamed_from.get(),
            has_many,
            has_one,
            checks,
        }
    }
}

/// Reports a field-style flag (`unique`, `index`, `primary_key` without a list) on the struct.
fn needs_list(cx: &Ctxt, meta: &syn::meta::ParseNestedMeta<'_>, name: Symbol) -> syn::Result<()> {
    reject(
        cx,
        meta,
        format!(
            "on the struct, `{name}` needs a list of fields: `#[orm({name}(a, b))]`; \
             to mark a single field, put `#[orm({name})]` on the field"
        ),
    )
}
