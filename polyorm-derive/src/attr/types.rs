//! Options of `#[derive(SqlEnum)]` and `#[derive(SqlType)]`: `crate` and `rename_all` on the
//! type, `rename` on an enum variant.

use syn::{LitStr, Path};

use super::{Once, for_each_option, parse_lit_str, reject, unknown};
use crate::ctxt::Ctxt;
use crate::symbol::{CRATE, RENAME, RENAME_ALL};

/// A case convention of `rename_all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RenameRule {
    /// `"lowercase"`.
    Lower,
    /// `"UPPERCASE"`.
    Upper,
    /// `"snake_case"`.
    Snake,
    /// `"SCREAMING_SNAKE_CASE"`.
    ScreamingSnake,
    /// `"kebab-case"`.
    Kebab,
    /// `"camelCase"`.
    Camel,
    /// `"PascalCase"`.
    Pascal,
}

impl RenameRule {
    const SPELLINGS: [(&'static str, RenameRule); 7] = [
        ("lowercase", RenameRule::Lower),
        ("UPPERCASE", RenameRule::Upper),
        ("snake_case", RenameRule::Snake),
        ("SCREAMING_SNAKE_CASE", RenameRule::ScreamingSnake),
        ("kebab-case", RenameRule::Kebab),
        ("camelCase", RenameRule::Camel),
        ("PascalCase", RenameRule::Pascal),
    ];

    /// Applies the rule to a variant name written in PascalCase.
    pub fn apply(self, variant: &str) -> String {
        let snake = crate::case::snake_case(variant);
        match self {
            RenameRule::Lower => variant.to_lowercase(),
            RenameRule::Upper => variant.to_uppercase(),
            RenameRule::Snake => snake,
            RenameRule::ScreamingSnake => snake.to_uppercase(),
            RenameRule::Kebab => snake.replace('_', "-"),
            RenameRule::Pascal => variant.to_owned(),
            RenameRule::Camel => {
                let mut chars = variant.chars();
                chars.next().map_or_else(String::new, |first| {
                    first.to_lowercase().chain(chars).collect()
                })
            }
        }
    }
}

/// The options on the enum or newtype itself.
pub struct TypeAttrs {
    /// `crate = "path"`.
    pub krate: Option<Path>,
    /// `rename_all = "..."` (enums only).
    pub rename_all: Option<RenameRule>,
}

impl TypeAttrs {
    /// Parses the type's `#[orm(...)]`; `allow_rename_all` is false for newtypes.
    pub fn from_attrs(cx: &Ctxt, attrs: &[syn::Attribute], allow_rename_all: bool) -> Self {
        let mut krate = Once::new(cx, CRATE);
        let mut rename_all = Once::new(cx, RENAME_ALL);
        for_each_option(cx, attrs, |meta| {
            if meta.path == CRATE {
                if let Some(path) = parse_lit_str(cx, meta, CRATE)? {
                    match path.parse::<Path>() {
                        Ok(parsed) => krate.set(&meta.path, parsed),
                        Err(_) => cx.error_spanned_by(
                            &path,
                            "`crate` must be a path, e.g. `crate = \"polyorm_core\"`",
                        ),
                    }
                }
            } else if meta.path == RENAME_ALL && allow_rename_all {
                if let Some(text) = parse_lit_str(cx, meta, RENAME_ALL)? {
                    match rule(&text) {
                        Some(rule) => rename_all.set(&meta.path, rule),
                        None => {
                            let expected: Vec<&str> =
                                RenameRule::SPELLINGS.iter().map(|(s, _)| *s).collect();
                            cx.error_spanned_by(
                                &text,
                                format!(
                                    "unknown `rename_all` rule `{}`; expected one of: {}",
                                    text.value(),
                                    expected.join(", ")
                                ),
                            );
                        }
                    }
                }
            } else if meta.path == RENAME_ALL {
                return reject(
                    cx,
                    meta,
                    "`rename_all` applies to `#[derive(SqlEnum)]` enums, not to newtypes",
                );
            } else {
                return unknown(cx, meta);
            }
            Ok(())
        });
        TypeAttrs {
            krate: krate.get(),
            rename_all: rename_all.get(),
        }
    }
}

fn rule(text: &LitStr) -> Option<RenameRule> {
    let value = text.value();
    RenameRule::SPELLINGS
        .iter()
        .find(|(s, _)| *s == value)
        .map(|(_, r)| *r)
}

/// `rename = "..."` on an enum variant.
pub fn variant_rename(cx: &Ctxt, attrs: &[syn::Attribute]) -> Option<LitStr> {
    let mut rename = Once::new(cx, RENAME);
    for_each_option(cx, attrs, |meta| {
        if meta.path == RENAME {
            if let Some(text) = parse_lit_str(cx, meta, RENAME)? {
                rename.set(&meta.path, text);
            }
            Ok(())
        } else {
            unknown(cx, meta)
        }
    });
    rename.get()
}
