//! Parsing of `#[orm(...)]` attributes.
//!
//! Parsing never stops at the first mistake: every problem is recorded in the [`Ctxt`] with
//! the span of the offending token, the rest of the option is skipped, and parsing goes on
//! with the next option. Cross-field rules are not checked here but in `check.rs`.

mod container;
mod field;
mod types;

pub use container::{Container, FieldList};
pub use field::{DefaultLit, Field, Opt, Referential};
pub use types::{TypeAttrs, variant_rename};

use proc_macro2::TokenTree;
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, Lit, LitStr, Path, Token};

use crate::ctxt::Ctxt;
use crate::symbol::{HAS_MANY, ORM, PRIMARY_KEY, Symbol, THROUGH};

/// Runs `parse` on every option of every `#[orm(...)]` attribute in `attrs`, recording (and
/// then skipping) attributes that are not a parenthesized list of options.
fn for_each_option(
    cx: &Ctxt,
    attrs: &[syn::Attribute],
    mut parse: impl FnMut(&ParseNestedMeta<'_>) -> syn::Result<()>,
) {
    for attr in attrs {
        if attr.path() != ORM {
            continue;
        }
        if let Err(err) = attr.parse_nested_meta(|meta| parse(&meta)) {
            cx.syn_error(err);
        }
    }
}

/// An option that may be given once; a second occurrence is reported as a duplicate.
struct Once<'c, T> {
    cx: &'c Ctxt,
    name: Symbol,
    value: Option<T>,
}

impl<'c, T> Once<'c, T> {
    fn new(cx: &'c Ctxt, name: Symbol) -> Self {
        Once {
            cx,
            name,
            value: None,
        }
    }

    /// Stores `value`, or reports a duplicate at `at` if a value is already stored.
    fn set(&mut self, at: impl ToTokens, value: T) {
        if self.value.is_some() {
            self.cx
                .error_spanned_by(at, format!("duplicate orm attribute `{}`", self.name));
        } else {
            self.value = Some(value);
        }
    }

    fn get(self) -> Option<T> {
        self.value
    }
}

/// The option's key as an identifier (options are matched against single-identifier paths).
fn key_ident(meta: &ParseNestedMeta<'_>) -> Ident {
    meta.path
        .get_ident()
        .cloned()
        .expect("option matched a Symbol, so it is a single ident")
}

/// `a::b` as written, for messages.
fn path_to_string(path: &Path) -> String {
    let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
    let prefix = if path.leading_colon.is_some() {
        "::"
    } else {
        ""
    };
    format!("{prefix}{}", segments.join("::"))
}

/// Whether the option is followed by `(...)`.
fn has_list(meta: &ParseNestedMeta<'_>) -> bool {
    meta.input.peek(syn::token::Paren)
}

/// Whether the option is followed by `= ...`.
fn has_value(meta: &ParseNestedMeta<'_>) -> bool {
    meta.input.peek(Token![=])
}

/// Consumes whatever follows the option's key (`= expr` or `(...)`), so parsing can go on.
fn skip_rest(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if has_value(meta) {
        meta.value()?.parse::<Expr>()?;
    } else if has_list(meta) {
        meta.input.parse::<TokenTree>()?;
    }
    Ok(())
}

/// Reports an option that is not valid here (unknown, or belonging elsewhere) and skips it.
fn reject(cx: &Ctxt, meta: &ParseNestedMeta<'_>, msg: impl std::fmt::Display) -> syn::Result<()> {
    cx.error_spanned_by(&meta.path, msg);
    skip_rest(meta)
}

/// Reports an unknown option and skips it.
fn unknown(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    reject(
        cx,
        meta,
        format!("unknown orm attribute `{}`", path_to_string(&meta.path)),
    )
}

/// A bare flag such as `skip`; a value or a list after it is reported and skipped.
///
/// Returns the key even when a value was wrongly given, so later passes treat the flag as set
/// and do not report a consequence of the same mistake.
fn parse_flag(cx: &Ctxt, meta: &ParseNestedMeta<'_>, name: Symbol) -> syn::Result<Ident> {
    if has_value(meta) {
        cx.error_spanned_by(
            &meta.path,
            format!("`{name}` takes no value; write `{name}`"),
        );
    } else if has_list(meta) {
        cx.error_spanned_by(
            &meta.path,
            format!("`{name}` takes no arguments; write `{name}`"),
        );
    }
    skip_rest(meta)?;
    Ok(key_ident(meta))
}

/// The expression after `=`, or `None` (reported) when the option has no `= value`.
fn parse_value(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    name: Symbol,
    example: &str,
) -> syn::Result<Option<Expr>> {
    if !has_value(meta) {
        cx.error_spanned_by(
            &meta.path,
            format!("`{name}` needs a value: `{name} = {example}`"),
        );
        skip_rest(meta)?;
        return Ok(None);
    }
    Ok(Some(strip_groups(meta.value()?.parse::<Expr>()?)))
}

/// Removes the invisible groups that `macro_rules!` wraps around interpolated fragments.
fn strip_groups(expr: Expr) -> Expr {
    match expr {
        Expr::Group(group) => strip_groups(*group.expr),
        other => other,
    }
}

/// `name = "text"`; a non-string or empty value is reported and yields `None`.
fn parse_lit_str(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    name: Symbol,
) -> syn::Result<Option<LitStr>> {
    let Some(expr) = parse_value(cx, meta, name, "\"...\"")? else {
        return Ok(None);
    };
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        }) if s.value().is_empty() => {
            cx.error_spanned_by(&s, format!("`{name}` cannot be empty"));
            Ok(None)
        }
        Expr::Lit(syn::ExprLit {
            lit: Lit::Str(s), ..
        }) => Ok(Some(s)),
        other => {
            cx.error_spanned_by(
                &other,
                format!("expected a string literal: `{name} = \"...\"`"),
            );
            Ok(None)
        }
    }
}

/// `name(a, b, ...)`: a non-empty list of field names.
///
/// An empty list, or items that are not plain identifiers, are reported and yield `None`.
/// `name(accessor = Model::FOREIGN_KEY, ...)` for `has_many` / `has_one`: each relation's
/// accessor name and the child's foreign-key column handle; for `has_many`, also
/// `accessor = through(Join)` / `through(Join, Target)` (many-to-many).
fn parse_relations(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    name: Symbol,
) -> syn::Result<Vec<RelationDecl>> {
    let content;
    syn::parenthesized!(content in meta.input);
    let items = Punctuated::<Expr, Token![,]>::parse_terminated(&content)?;
    let mut out = Vec::new();
    if items.is_empty() {
        cx.error_spanned_by(
            key_ident(meta),
            format!("`{name}(...)` needs a relation: `{name}(posts = Post::AUTHOR_ID)`"),
        );
    }
    for item in items {
        let expected = || {
            let through = if name == HAS_MANY {
                ", or `tags = through(PostTag)` for many-to-many through a join model"
            } else {
                ""
            };
            format!(
                "expected `accessor = Child::FOREIGN_KEY` in `{name}(...)`, e.g. `{name}(posts = Post::AUTHOR_ID)`{through}"
            )
        };
        let Expr::Assign(assign) = strip_groups(item) else {
            return Err(syn::Error::new(content.span(), expected()));
        };
        let accessor = match strip_groups(*assign.left) {
            Expr::Path(p) if p.path.get_ident().is_some() => p.path.get_ident().cloned(),
            _ => None,
        };
        let target = match strip_groups(*assign.right) {
            Expr::Path(p) if p.qself.is_none() && p.path.segments.len() >= 2 => {
                Some(RelationTarget::Column(p.path))
            }
            Expr::Call(call) if is_through(&call.func) => match parse_through(cx, name, &call) {
                Some(through) => Some(through),
                None => continue,
            },
            _ => None,
        };
        match (accessor, target) {
            (Some(accessor), Some(target)) => out.push(RelationDecl { accessor, target }),
            _ => cx.error_spanned_by(assign.eq_token, expected()),
        }
    }
    Ok(out)
}

/// Whether a call is `through(...)`.
fn is_through(func: &Expr) -> bool {
    matches!(func, Expr::Path(p) if p.path == THROUGH)
}

/// `through(Join)` or `through(Join, Target)` (only in `has_many`); reports and returns `None`
/// for anything else.
fn parse_through(cx: &Ctxt, name: Symbol, call: &syn::ExprCall) -> Option<RelationTarget> {
    if name != HAS_MANY {
        cx.error_spanned_by(
            &call.func,
            format!(
                "`{name}` cannot go through a join model; a many-to-many relation is \
                 `has_many(tags = through(PostTag))`"
            ),
        );
        return None;
    }
    let paths: Vec<Option<syn::Path>> = call
        .args
        .iter()
        .map(|arg| match strip_groups(arg.clone()) {
            Expr::Path(p) if p.qself.is_none() => Some(p.path),
            _ => None,
        })
        .collect();
    match paths.as_slice() {
        [Some(join)] => Some(RelationTarget::Through {
            join: join.clone(),
            target: None,
        }),
        [Some(join), Some(target)] => Some(RelationTarget::Through {
            join: join.clone(),
            target: Some(target.clone()),
        }),
        _ => {
            cx.error_spanned_by(
                call,
                "`through(...)` names the join model, and the target model when the join model \
                 has more than two `belongs_to` fields: `through(PostTag)` or \
                 `through(PostTag, Tag)`",
            );
            None
        }
    }
}

/// `check(name = <filter>, ...)` on the struct: each check's name and condition.
fn parse_named_checks(cx: &Ctxt, meta: &ParseNestedMeta<'_>) -> syn::Result<Vec<NamedCheck>> {
    let content;
    syn::parenthesized!(content in meta.input);
    let items = Punctuated::<Expr, Token![,]>::parse_terminated(&content)?;
    const EXPECTED: &str =
        "expected `name = <filter>` in `check(...)`, e.g. `check(adult = Self::AGE.ge(18))`";
    if items.is_empty() {
        cx.error_spanned_by(key_ident(meta), EXPECTED);
    }
    let mut out = Vec::new();
    for item in items {
        match strip_groups(item) {
            Expr::Assign(assign) => match strip_groups(*assign.left) {
                Expr::Path(p) if p.path.get_ident().is_some() => out.push(NamedCheck {
                    name: p.path.get_ident().cloned().expect("checked above"),
                    condition: strip_groups(*assign.right),
                }),
                other => cx.error_spanned_by(other, EXPECTED),
            },
            other => cx.error_spanned_by(other, EXPECTED),
        }
    }
    Ok(out)
}

/// One `name = <filter>` of `check(...)` on the struct.
pub struct NamedCheck {
    /// The check's name (the constraint is `ck_<table>_<name>`).
    pub name: Ident,
    /// The condition: an expression of type `Filter<Self>`.
    pub condition: Expr,
}

/// One `accessor = Child::FOREIGN_KEY` (or `accessor = through(Join)`) of `has_many(...)` or
/// `has_one(...)`.
pub struct RelationDecl {
    /// The generated function's name, e.g. `posts`.
    pub accessor: Ident,
    /// Where the related rows are.
    pub target: RelationTarget,
}

/// What a relation declaration points at.
pub enum RelationTarget {
    /// The child's foreign-key column handle, e.g. `Post::AUTHOR_ID`.
    Column(syn::Path),
    /// `through(Join)` / `through(Join, Target)`: many-to-many through a join model with a
    /// `belongs_to` field to each side.
    Through {
        /// The join model, e.g. `PostTag`.
        join: syn::Path,
        /// The target model when given; else the join model's other side.
        target: Option<syn::Path>,
    },
}

/// The child model's path: a column handle without its last segment.
pub fn column_model(column: &syn::Path) -> syn::Path {
    let mut child = column.clone();
    child.segments.pop();
    child.segments.pop_punct();
    child
}

/// The options of `index(...)` / `unique(...)` beyond the listed fields.
#[derive(Default)]
pub struct IndexOptions {
    /// How each listed field is indexed, position by position (`desc(a)`, `lower(a)`).
    pub keys: Vec<KeyAttr>,
    /// `method = "gin"`.
    pub method: Option<(LitStr, IndexMethodAttr)>,
    /// `include(a, b)`: the listed fields.
    pub include: Vec<Ident>,
    /// `where = <filter>`: an expression of type `Filter<Self>`.
    pub predicate: Option<Expr>,
}

/// How one key of an index is indexed: `desc(...)` and/or `lower(...)` around a field name.
#[derive(Default, Clone, Copy, PartialEq, Eq)]
pub struct KeyAttr {
    /// `desc(field)`.
    pub descending: bool,
    /// `lower(field)`.
    pub lower: bool,
}

/// An index method the derive accepts.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum IndexMethodAttr {
    /// `btree`.
    Btree,
    /// `hash`.
    Hash,
    /// `gin`.
    Gin,
    /// `gist`.
    Gist,
}

impl IndexMethodAttr {
    /// The `IndexMethod` variant's name.
    pub fn variant(self) -> &'static str {
        match self {
            IndexMethodAttr::Btree => "Btree",
            IndexMethodAttr::Hash => "Hash",
            IndexMethodAttr::Gin => "Gin",
            IndexMethodAttr::Gist => "Gist",
        }
    }
}

/// One item of a field list: an expression, or `where = <filter>` (`where` is a keyword, so
/// it is not an expression).
enum ListItem {
    Expr(Expr),
    Where(Token![where], Expr),
}

fn parse_list_items(input: syn::parse::ParseStream<'_>) -> syn::Result<Vec<ListItem>> {
    let mut items = Vec::new();
    while !input.is_empty() {
        if input.peek(Token![where]) {
            let token: Token![where] = input.parse()?;
            input.parse::<Token![=]>()?;
            items.push(ListItem::Where(token, input.parse()?));
        } else {
            items.push(ListItem::Expr(input.parse()?));
        }
        if input.is_empty() {
            break;
        }
        input.parse::<Token![,]>()?;
    }
    Ok(items)
}

/// A key of an index list: a field name, possibly inside `desc(...)` and/or `lower(...)`.
fn parse_key(expr: Expr, key: &mut KeyAttr) -> Result<Ident, Box<Expr>> {
    match strip_groups(expr) {
        Expr::Path(p)
            if p.qself.is_none() && p.attrs.is_empty() && p.path.get_ident().is_some() =>
        {
            Ok(p.path.get_ident().cloned().expect("checked above"))
        }
        Expr::Call(call) if call.args.len() == 1 => {
            let flag = match &*call.func {
                Expr::Path(f) if f.path.is_ident("desc") && !key.descending => &mut key.descending,
                Expr::Path(f) if f.path.is_ident("lower") && !key.lower => &mut key.lower,
                _ => return Err(Box::new(Expr::Call(call))),
            };
            *flag = true;
            let arg = call.args.into_iter().next().expect("one argument");
            parse_key(arg, key)
        }
        other => Err(Box::new(other)),
    }
}

fn parse_field_list(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    name: Symbol,
) -> syn::Result<Option<FieldList>> {
    let content;
    syn::parenthesized!(content in meta.input);
    let key = key_ident(meta);
    let items = parse_list_items(&content)?;
    if items.is_empty() {
        cx.error_spanned_by(
            &key,
            format!("`{name}(...)` needs at least one field: `{name}(a, b)`"),
        );
        return Ok(None);
    }
    let is_key = name == PRIMARY_KEY;
    let mut fields = Vec::with_capacity(items.len());
    let mut index_name: Option<LitStr> = None;
    let mut options = IndexOptions::default();
    let mut valid = true;
    let mut error = |at: &dyn ToTokens, message: String| {
        valid = false;
        cx.error_spanned_by(at, message);
    };
    for item in items {
        let expr = match item {
            ListItem::Where(token, _) if is_key => {
                error(
                    &token,
                    "`primary_key(...)` takes field names only; a partial index is \
                     `index(a, where = Self::A.is_not_null())`"
                        .to_owned(),
                );
                continue;
            }
            ListItem::Where(token, condition) => {
                if let Expr::Lit(syn::ExprLit {
                    lit: Lit::Str(_), ..
                }) = strip_groups(condition.clone())
                {
                    error(
                        &condition,
                        format!(
                            "`where` in `{name}(...)` is a filter of this model, not SQL text: \
                             `where = Self::EMAIL.is_not_null()`"
                        ),
                    );
                } else if options.predicate.is_some() {
                    error(&token, format!("duplicate `where` in `{name}(...)`"));
                } else {
                    options.predicate = Some(condition);
                }
                continue;
            }
            ListItem::Expr(expr) => strip_groups(expr),
        };
        match expr {
            Expr::Assign(assign) if is_key => {
                error(
                    &assign,
                    "`primary_key(...)` takes field names only: a primary key's name is not \
                     part of the schema (`verify` compares its columns)"
                        .to_owned(),
                );
            }
            // `unique(a, b, name = "orders_a_b_key")`: the database's own name.
            Expr::Assign(assign) if matches!(&*assign.left, Expr::Path(p) if p.path.is_ident("name")) => {
                match strip_groups(*assign.right) {
                    Expr::Lit(syn::ExprLit {
                        lit: Lit::Str(s), ..
                    }) if !s.value().is_empty() && index_name.is_none() => index_name = Some(s),
                    other => error(
                        &other,
                        format!(
                            "`name` in `{name}(...)` is one non-empty string: \
                             `{name}(a, b, name = \"...\")`"
                        ),
                    ),
                }
            }
            // `index(tags, method = "gin")`.
            Expr::Assign(assign) if matches!(&*assign.left, Expr::Path(p) if p.path.is_ident("method")) =>
            {
                const METHODS: &str = "`method` is one of \"btree\", \"hash\", \"gin\" or \"gist\"";
                match strip_groups(*assign.right) {
                    Expr::Lit(syn::ExprLit {
                        lit: Lit::Str(s), ..
                    }) if options.method.is_none() => {
                        let method = match s.value().as_str() {
                            "btree" => Some(IndexMethodAttr::Btree),
                            "hash" => Some(IndexMethodAttr::Hash),
                            "gin" => Some(IndexMethodAttr::Gin),
                            "gist" => Some(IndexMethodAttr::Gist),
                            _ => None,
                        };
                        match method {
                            Some(method) => options.method = Some((s, method)),
                            None => error(
                                &s,
                                format!("unknown index method `{}`: {METHODS}", s.value()),
                            ),
                        }
                    }
                    other => error(&other, format!("{METHODS}, given once")),
                }
            }
            // `index(a, include(b, c))`.
            Expr::Call(call)
                if !is_key
                    && matches!(&*call.func, Expr::Path(p) if p.path.is_ident("include")) =>
            {
                for arg in call.args {
                    match strip_groups(arg) {
                        Expr::Path(p) if p.qself.is_none() && p.path.get_ident().is_some() => {
                            options
                                .include
                                .push(p.path.get_ident().cloned().expect("checked above"));
                        }
                        other => error(
                            &other,
                            "`include(...)` lists field names: `include(a, b)`".to_owned(),
                        ),
                    }
                }
            }
            other => {
                let mut key_attr = KeyAttr::default();
                match parse_key(other, &mut key_attr) {
                    Ok(ident) if is_key && key_attr != KeyAttr::default() => error(
                        &ident,
                        "`primary_key(...)` takes field names only".to_owned(),
                    ),
                    Ok(ident) => {
                        fields.push(ident);
                        options.keys.push(key_attr);
                    }
                    Err(other) if is_key => {
                        error(&other, format!("expected a field name in `{name}(...)`"));
                    }
                    Err(other) => error(
                        &other,
                        format!(
                            "expected a field name in `{name}(...)`, `desc(field)`, \
                             `lower(field)`, `include(fields...)`, `method = \"...\"`, \
                             `where = <filter of Self>` or `name = \"...\"`"
                        ),
                    ),
                }
            }
        }
    }
    if fields.is_empty() && valid {
        cx.error_spanned_by(
            &key,
            format!("`{name}(...)` needs at least one field: `{name}(a, b)`"),
        );
        return Ok(None);
    }
    Ok(valid.then_some(FieldList {
        key,
        fields,
        name: index_name,
        options,
    }))
}
