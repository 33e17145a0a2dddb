//! Options of `#[orm(...)]` on a field.

use syn::meta::ParseNestedMeta;
use syn::{Expr, ExprLit, ExprPath, ExprUnary, Ident, Lit, LitStr, Path, UnOp};

use super::{
    Once, for_each_option, has_list, has_value, key_ident, parse_flag, parse_lit_str, parse_value,
    reject, unknown,
};
use crate::ctxt::Ctxt;
use crate::symbol::{
    AUTO_INCREMENT, BELONGS_TO, CHECK, COLLATION, COLUMN, CREATED_AT, DEFAULT, DEFAULT_FN, FK_NAME,
    INDEX, MAX_LENGTH, ON_DELETE, ON_UPDATE, PRECISION, PRIMARY_KEY, RENAMED_FROM, SCALE,
    SHARD_KEY, SKIP, SOFT_DELETE, STRUCT_ONLY, Symbol, UNIQUE, UPDATED_AT, VERSION,
};

/// An option with a value, remembering its key for spans.
pub struct Opt<T> {
    /// The option's key, e.g. `column`.
    pub key: Ident,
    /// The parsed value.
    pub value: T,
}

impl<T> Opt<T> {
    fn new(meta: &ParseNestedMeta<'_>, value: T) -> Self {
        Opt {
            key: key_ident(meta),
            value,
        }
    }
}

/// The value of `default = <literal>`.
#[derive(Debug, Clone, PartialEq)]
pub enum DefaultLit {
    /// `true` / `false`.
    Bool(bool),
    /// An integer, possibly negative.
    Int(i64),
    /// A finite float, possibly negative.
    Float(f64),
    /// A string literal.
    Text(String),
    /// `now()`: the current time, generated on insert.
    Now,
    /// `uuid()`: a new UUID, generated on insert.
    Uuid,
}

impl DefaultLit {
    /// Whether the value is generated on insert (`now()`, `uuid()`).
    pub fn is_generated(&self) -> bool {
        matches!(self, DefaultLit::Now | DefaultLit::Uuid)
    }
}

/// A parsed `default`: its value and the literal as written (checked against the field's type
/// by the generated code, with the error at the literal).
pub struct FieldDefault {
    /// The value rendered into the schema.
    pub value: DefaultLit,
    /// The literal as written, including a leading `-`.
    pub expr: Expr,
}

/// A referential action of `on_delete` / `on_update`, by its runtime variant name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Referential {
    /// `"no_action"`.
    NoAction,
    /// `"restrict"`.
    Restrict,
    /// `"cascade"`.
    Cascade,
    /// `"set_null"`.
    SetNull,
    /// `"set_default"`.
    SetDefault,
}

impl Referential {
    const SPELLINGS: [(&'static str, Referential); 5] = [
        ("no_action", Referential::NoAction),
        ("restrict", Referential::Restrict),
        ("cascade", Referential::Cascade),
        ("set_null", Referential::SetNull),
        ("set_default", Referential::SetDefault),
    ];

    /// The `ReferentialAction` variant this action generates.
    pub fn variant(self) -> &'static str {
        match self {
            Referential::NoAction => "NoAction",
            Referential::Restrict => "Restrict",
            Referential::Cascade => "Cascade",
            Referential::SetNull => "SetNull",
            Referential::SetDefault => "SetDefault",
        }
    }
}

/// The options of one field.
pub struct Field {
    /// `primary_key`.
    pub primary_key: Option<Ident>,
    /// `auto_increment`.
    pub auto_increment: Option<Ident>,
    /// `column = "name"`.
    pub column: Option<Opt<LitStr>>,
    /// `unique` (or `unique = "name"`).
    pub unique: Option<Ident>,
    /// `unique = "name"`: the database's name for the constraint.
    pub unique_name: Option<LitStr>,
    /// `index` (or `index = "name"`).
    pub index: Option<Ident>,
    /// `index = "name"`: the database's name for the index.
    pub index_name: Option<LitStr>,
    /// `default = <literal>`, `default = now()`, `default = uuid()`.
    pub default: Option<Opt<FieldDefault>>,
    /// `default_fn = path`: called by an insert when the field is unset.
    pub default_fn: Option<Opt<Path>>,
    /// `max_length = N`.
    pub max_length: Option<Opt<u32>>,
    /// `collation = "name"` (a text column compared and sorted by that collation).
    pub collation: Option<Opt<LitStr>>,
    /// `precision = P` (decimal digits in total).
    pub precision: Option<Opt<u32>>,
    /// `scale = S` (decimal digits after the point).
    pub scale: Option<Opt<u32>>,
    /// `skip`.
    pub skip: Option<Ident>,
    /// `created_at`.
    pub created_at: Option<Ident>,
    /// `updated_at`.
    pub updated_at: Option<Ident>,
    /// `version`.
    pub version: Option<Ident>,
    /// `soft_delete`.
    pub soft_delete: Option<Ident>,
    /// `shard_key`.
    pub shard_key: Option<Ident>,
    /// `renamed_from = "old_column"`.
    pub renamed_from: Option<Opt<LitStr>>,
    /// `belongs_to = Parent`.
    pub belongs_to: Option<Opt<Path>>,
    /// `on_delete = "..."`.
    pub on_delete: Option<Opt<Referential>>,
    /// `on_update = "..."`.
    pub on_update: Option<Opt<Referential>>,
    /// `fk_name = "..."`: the database's name for the foreign key of `belongs_to`.
    pub fk_name: Option<Opt<LitStr>>,
    /// `check = <filter>`: a CHECK constraint named `ck_<table>_<column>`.
    pub check: Option<Opt<Expr>>,
}

impl Field {
    /// Parses a field's `#[orm(...)]` attributes, recording every problem in `cx`.
    pub fn from_ast(cx: &Ctxt, field: &syn::Field) -> Self {
        let mut primary_key = Once::new(cx, PRIMARY_KEY);
        let mut auto_increment = Once::new(cx, AUTO_INCREMENT);
        let mut column = Once::new(cx, COLUMN);
        let mut unique = Once::new(cx, UNIQUE);
        let mut index = Once::new(cx, INDEX);
        let mut default = Once::new(cx, DEFAULT);
        let mut default_fn = Once::new(cx, DEFAULT_FN);
        let mut max_length = Once::new(cx, MAX_LENGTH);
        let mut collation = Once::new(cx, COLLATION);
        let mut skip = Once::new(cx, SKIP);
        let mut created_at = Once::new(cx, CREATED_AT);
        let mut updated_at = Once::new(cx, UPDATED_AT);
        let mut version = Once::new(cx, VERSION);
        let mut soft_delete = Once::new(cx, SOFT_DELETE);
        let mut shard_key = Once::new(cx, SHARD_KEY);
        let mut precision = Once::new(cx, PRECISION);
        let mut scale = Once::new(cx, SCALE);
        let mut renamed_from = Once::new(cx, RENAMED_FROM);
        let mut belongs_to = Once::new(cx, BELONGS_TO);
        let mut on_delete = Once::new(cx, ON_DELETE);
        let mut on_update = Once::new(cx, ON_UPDATE);
        let mut check = Once::new(cx, CHECK);
        let mut fk_name = Once::new(cx, FK_NAME);
        let mut unique_name = None;
        let mut index_name = None;

        for_each_option(cx, &field.attrs, |meta| {
            // `unique = "name"` / `index = "name"`: the flag, with the database's own name.
            if (meta.path == UNIQUE || meta.path == INDEX) && has_value(meta) {
                let (key, slot, names) = if meta.path == UNIQUE {
                    (UNIQUE, &mut unique, &mut unique_name)
                } else {
                    (INDEX, &mut index, &mut index_name)
                };
                if let Some(name) = parse_lit_str(cx, meta, key)? {
                    *names = Some(name);
                }
                slot.set(&meta.path, key_ident(meta));
                return Ok(());
            }
            let flags = [
                (PRIMARY_KEY, &mut primary_key),
                (UNIQUE, &mut unique),
                (INDEX, &mut index),
                (AUTO_INCREMENT, &mut auto_increment),
                (SKIP, &mut skip),
                (CREATED_AT, &mut created_at),
                (UPDATED_AT, &mut updated_at),
                (VERSION, &mut version),
                (SOFT_DELETE, &mut soft_delete),
                (SHARD_KEY, &mut shard_key),
            ];
            for (name, slot) in flags {
                if meta.path != name {
                    continue;
                }
                if has_list(meta) && [PRIMARY_KEY, UNIQUE, INDEX].contains(&name) {
                    return reject(
                        cx,
                        meta,
                        format!(
                            "`{name}(...)` with a list of fields is a struct option; \
                             on a field write `#[orm({name})]`"
                        ),
                    );
                }
                let key = parse_flag(cx, meta, name)?;
                slot.set(&meta.path, key);
                return Ok(());
            }

            if meta.path == COLUMN {
                if let Some(name) = parse_lit_str(cx, meta, COLUMN)? {
                    column.set(&meta.path, Opt::new(meta, name));
                }
            } else if meta.path == DEFAULT {
                if let Some(expr) = parse_value(cx, meta, DEFAULT, "0")?
                    && let Some(value) = default_literal(cx, &expr)
                {
                    default.set(&meta.path, Opt::new(meta, FieldDefault { value, expr }));
                }
            } else if meta.path == DEFAULT_FN {
                if let Some(expr) = parse_value(cx, meta, DEFAULT_FN, "new_token")? {
                    match expr {
                        Expr::Path(ExprPath {
                            path, qself: None, ..
                        }) => default_fn.set(&meta.path, Opt::new(meta, path)),
                        other => cx.error_spanned_by(
                            &other,
                            "`default_fn` names a function without arguments that returns the \
                             field's type, e.g. `default_fn = new_token` (no call parentheses)",
                        ),
                    }
                }
            } else if meta.path == MAX_LENGTH {
                if let Some(expr) = parse_value(cx, meta, MAX_LENGTH, "255")?
                    && let Some(value) = max_length_value(cx, &expr)
                {
                    max_length.set(&meta.path, Opt::new(meta, value));
                }
            } else if meta.path == PRECISION {
                if let Some(expr) = parse_value(cx, meta, PRECISION, "10")?
                    && let Some(value) = digits_value(cx, PRECISION, &expr, 1)
                {
                    precision.set(&meta.path, Opt::new(meta, value));
                }
            } else if meta.path == SCALE {
                if let Some(expr) = parse_value(cx, meta, SCALE, "2")?
                    && let Some(value) = digits_value(cx, SCALE, &expr, 0)
                {
                    scale.set(&meta.path, Opt::new(meta, value));
                }
            } else if meta.path == COLLATION {
                if let Some(name) = parse_lit_str(cx, meta, COLLATION)?
                    && collation_name_ok(cx, &name)
                {
                    collation.set(&meta.path, Opt::new(meta, name));
                }
            } else if meta.path == RENAMED_FROM {
                if let Some(name) = parse_lit_str(cx, meta, RENAMED_FROM)? {
                    renamed_from.set(&meta.path, Opt::new(meta, name));
                }
            } else if meta.path == BELONGS_TO {
                if let Some(expr) = parse_value(cx, meta, BELONGS_TO, "Parent")? {
                    match expr {
                        Expr::Path(ExprPath {
                            path, qself: None, ..
                        }) => belongs_to.set(&meta.path, Opt::new(meta, path)),
                        other => cx.error_spanned_by(
                            &other,
                            "`belongs_to` names the parent model, e.g. `belongs_to = User`",
                        ),
                    }
                }
            } else if meta.path == FK_NAME {
                if let Some(name) = parse_lit_str(cx, meta, FK_NAME)? {
                    fk_name.set(&meta.path, Opt::new(meta, name));
                }
            } else if meta.path == CHECK {
                if has_list(meta) {
                    return reject(
                        cx,
                        meta,
                        "on a field, `check` takes the condition itself: \
                         `#[orm(check = Self::AGE.ge(0))]`; named checks `check(name = ...)` \
                         go on the struct",
                    );
                }
                if let Some(expr) = parse_value(cx, meta, CHECK, "Self::AGE.ge(0)")? {
                    check.set(&meta.path, Opt::new(meta, expr));
                }
            } else if meta.path == ON_DELETE || meta.path == ON_UPDATE {
                let (name, slot) = if meta.path == ON_DELETE {
                    (ON_DELETE, &mut on_delete)
                } else {
                    (ON_UPDATE, &mut on_update)
                };
                if let Some(text) = parse_lit_str(cx, meta, name)?
                    && let Some(action) = action_value(cx, name, &text)
                {
                    slot.set(&meta.path, Opt::new(meta, action));
                }
            } else if let Some(name) = STRUCT_ONLY.iter().find(|s| meta.path == **s) {
                return reject(
                    cx,
                    meta,
                    format!("`{name}` is a struct option; put it on the struct"),
                );
            } else {
                return unknown(cx, meta);
            }
            Ok(())
        });

        Field {
            primary_key: primary_key.get(),
            auto_increment: auto_increment.get(),
            column: column.get(),
            unique: unique.get(),
            unique_name,
            index: index.get(),
            index_name,
            default: default.get(),
            default_fn: default_fn.get(),
            max_length: max_length.get(),
            collation: collation.get(),
            skip: skip.get(),
            created_at: created_at.get(),
            updated_at: updated_at.get(),
            version: version.get(),
            soft_delete: soft_delete.get(),
            shard_key: shard_key.get(),
            precision: precision.get(),
            scale: scale.get(),
            renamed_from: renamed_from.get(),
            belongs_to: belongs_to.get(),
            on_delete: on_delete.get(),
            on_update: on_update.get(),
            fk_name: fk_name.get(),
            check: check.get(),
        }
    }

    /// The keys of every option given, except `skip` (for the rule that `skip` stands alone).
    pub fn keys_besides_skip(&self) -> Vec<&Ident> {
        let flags = [
            &self.primary_key,
            &self.auto_increment,
            &self.unique,
            &self.index,
            &self.created_at,
            &self.updated_at,
            &self.version,
            &self.soft_delete,
            &self.shard_key,
        ];
        let mut keys: Vec<&Ident> = flags.into_iter().flatten().collect();
        keys.extend(self.column.as_ref().map(|o| &o.key));
        keys.extend(self.default.as_ref().map(|o| &o.key));
        keys.extend(self.default_fn.as_ref().map(|o| &o.key));
        keys.extend(self.max_length.as_ref().map(|o| &o.key));
        keys.extend(self.collation.as_ref().map(|o| &o.key));
        keys.extend(self.precision.as_ref().map(|o| &o.key));
        keys.extend(self.scale.as_ref().map(|o| &o.key));
        keys.extend(self.renamed_from.as_ref().map(|o| &o.key));
        keys.extend(self.belongs_to.as_ref().map(|o| &o.key));
        keys.extend(self.on_delete.as_ref().map(|o| &o.key));
        keys.extend(self.on_update.as_ref().map(|o| &o.key));
        keys.extend(self.fk_name.as_ref().map(|o| &o.key));
        keys.extend(self.check.as_ref().map(|o| &o.key));
        keys
    }
}

/// The value of `default = <literal>`: a bool, an integer, a float or a string, integers and
/// floats possibly negated.
fn default_literal(cx: &Ctxt, expr: &Expr) -> Option<DefaultLit> {
    const EXPECTED: &str = "`default` must be a literal (a bool, an integer, a float or a \
                            string, e.g. `default = 0`), `now()` or `uuid()`; for a value your \
                            code computes, write `default_fn = path`";
    let (negative, lit) = match expr {
        Expr::Call(call) if call.args.is_empty() => {
            let func = match &*call.func {
                Expr::Path(ExprPath {
                    path, qself: None, ..
                }) => path.get_ident().map(Ident::to_string),
                _ => None,
            };
            return match func.as_deref() {
                Some("now") => Some(DefaultLit::Now),
                Some("uuid") => Some(DefaultLit::Uuid),
                _ => {
                    cx.error_spanned_by(expr, EXPECTED);
                    None
                }
            };
        }
        Expr::Lit(ExprLit { lit, .. }) => (false, lit),
        Expr::Unary(ExprUnary {
            op: UnOp::Neg(_),
            expr: inner,
            ..
        }) => match &**inner {
            Expr::Lit(ExprLit {
                lit: lit @ (Lit::Int(_) | Lit::Float(_)),
                ..
            }) => (true, lit),
            _ => {
                cx.error_spanned_by(expr, EXPECTED);
                return None;
            }
        },
        _ => {
            cx.error_spanned_by(expr, EXPECTED);
            return None;
        }
    };
    match lit {
        Lit::Bool(b) => Some(DefaultLit::Bool(b.value)),
        Lit::Str(s) => Some(DefaultLit::Text(s.value())),
        Lit::Int(int) => {
            let value = int
                .base10_digits()
                .parse::<i128>()
                .ok()
                .map(|v| if negative { -v } else { v })
                .and_then(|v| i64::try_from(v).ok());
            if value.is_none() {
                cx.error_spanned_by(expr, "`default` integer does not fit in an i64");
            }
            value.map(DefaultLit::Int)
        }
        Lit::Float(float) => match float.base10_parse::<f64>() {
            Ok(v) if v.is_finite() => Some(DefaultLit::Float(if negative { -v } else { v })),
            _ => {
                cx.error_spanned_by(expr, "`default` float is out of range for an f64");
                None
            }
        },
        _ => {
            cx.error_spanned_by(expr, EXPECTED);
            None
        }
    }
}

/// The value of `on_delete` / `on_update`: one of the spellings of [`Referential`].
fn action_value(cx: &Ctxt, name: Symbol, text: &LitStr) -> Option<Referential> {
    let value = text.value();
    let found = Referential::SPELLINGS
        .iter()
        .find(|(spelling, _)| *spelling == value);
    if found.is_none() {
        let expected: Vec<&str> = Referential::SPELLINGS.iter().map(|(s, _)| *s).collect();
        cx.error_spanned_by(
            text,
            format!(
                "unknown `{name}` action `{value}`; expected one of: {}",
                expected.join(", ")
            ),
        );
    }
    found.map(|(_, action)| *action)
}

/// Whether `collation = "..."` names a collation: it is written into the DDL as an identifier,
/// so only letters, digits, `_`, `-`, `.` and `@` are accepted.
fn collation_name_ok(cx: &Ctxt, name: &LitStr) -> bool {
    let value = name.value();
    let ok = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '@'));
    if !ok {
        cx.error_spanned_by(
            name,
            "`collation` must name a collation (letters, digits, `_`, `-`, `.`, `@`), e.g. \
             `collation = \"utf8mb4_unicode_ci\"`",
        );
    }
    ok
}

/// The value of `max_length = N`: an integer from 1 to `u32::MAX`.
fn max_length_value(cx: &Ctxt, expr: &Expr) -> Option<u32> {
    let Expr::Lit(ExprLit {
        lit: Lit::Int(int), ..
    }) = expr
    else {
        cx.error_spanned_by(
            expr,
            "`max_length` must be a positive integer, e.g. `max_length = 255`",
        );
        return None;
    };
    match int.base10_parse::<u32>() {
        Ok(0) => {
            cx.error_spanned_by(expr, "`max_length` must be at least 1");
            None
        }
        Ok(n) => Some(n),
        Err(_) => {
            cx.error_spanned_by(expr, "`max_length` must fit in a u32");
            None
        }
    }
}

/// The largest `precision`: `rust_decimal::Decimal` holds 28 significant digits exactly.
pub const MAX_PRECISION: u32 = 28;

/// The value of `precision = P` / `scale = S`: an integer from `min` to [`MAX_PRECISION`].
fn digits_value(cx: &Ctxt, name: Symbol, expr: &Expr, min: u32) -> Option<u32> {
    let parsed = match expr {
        Expr::Lit(ExprLit {
            lit: Lit::Int(int), ..
        }) => int.base10_parse::<u32>().ok(),
        _ => None,
    };
    match parsed {
        Some(n) if (min..=MAX_PRECISION).contains(&n) => Some(n),
        _ => {
            cx.error_spanned_by(
                expr,
                format!(
                    "`{name}` must be an integer from {min} to {MAX_PRECISION} \
                     (`rust_decimal::Decimal` holds at most {MAX_PRECISION} digits), e.g. \
                     `precision = 10, scale = 2`"
                ),
            );
            None
        }
    }
}
