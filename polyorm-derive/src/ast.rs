//! The derive's own small AST: the input struct with its parsed options, keeping references to
//! the syn nodes so that every later pass can point at the original tokens.

use proc_macro2::Span;
use quote::format_ident;
use syn::ext::IdentExt;
use syn::{Data, DeriveInput, Fields, Ident, LitStr, Type};

use crate::attr;
use crate::case::{screaming_snake_case, snake_case};
use crate::ctxt::Ctxt;

/// The struct being derived.
pub struct Container<'a> {
    /// The whole input.
    pub original: &'a DeriveInput,
    /// The struct's name.
    pub ident: &'a Ident,
    /// Struct-level options.
    pub attrs: attr::Container,
    /// The named fields in declaration order; `None` when the input is not a struct with named
    /// fields (already reported).
    pub fields: Option<Vec<Field<'a>>>,
}

/// One named field of the struct.
pub struct Field<'a> {
    /// The field's name.
    pub ident: &'a Ident,
    /// The field's type.
    pub ty: &'a Type,
    /// Field-level options.
    pub attrs: attr::Field,
}

/// An index or unique constraint as it will appear in the schema.
pub struct Index<'a> {
    /// `uq_<table>_<cols>` or `idx_<table>_<cols>`.
    pub name: String,
    /// Column names, in order.
    pub columns: Vec<String>,
    /// Whether it is a unique constraint.
    pub unique: bool,
    /// How each column is indexed (`desc`, `lower`), position by position; empty for a
    /// field-level index.
    pub keys: Vec<attr::KeyAttr>,
    /// The access method, if given.
    pub method: Option<attr::IndexMethodAttr>,
    /// Column names of `include(...)`.
    pub include: Vec<String>,
    /// The `where` filter of a partial index (an expression of type `Filter<Self>`).
    pub predicate: Option<&'a syn::Expr>,
    /// Where it was declared (the `unique`/`index` key), for errors.
    pub span: Span,
}

/// A CHECK constraint as it will appear in the schema.
pub struct Check<'e> {
    /// `ck_<table>_<column>` (field-level) or `ck_<table>_<name>` (struct-level).
    pub name: String,
    /// The column of a field-level check.
    pub column: Option<String>,
    /// The condition as written (an expression of type `Filter<Self>`).
    pub condition: &'e syn::Expr,
    /// The check's name or `check` key, for errors.
    pub span: Span,
}

impl<'a> Container<'a> {
    /// Builds the AST, parsing every attribute; records shape and attribute errors in `cx`.
    pub fn from_ast(cx: &Ctxt, input: &'a DeriveInput) -> Self {
        let attrs = attr::Container::from_ast(cx, input);
        const SHAPE: &str = "#[derive(Model)] needs a struct with named fields";
        let fields = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => {
                    Some(named.named.iter().map(|f| Field::from_ast(cx, f)).collect())
                }
                Fields::Unnamed(unnamed) => {
                    cx.error_spanned_by(unnamed, SHAPE);
                    None
                }
                Fields::Unit => {
                    cx.error_spanned_by(&input.ident, SHAPE);
                    None
                }
            },
            Data::Enum(data) => {
                cx.error_spanned_by(data.enum_token, SHAPE);
                None
            }
            Data::Union(data) => {
                cx.error_spanned_by(data.union_token, SHAPE);
                None
            }
        };
        Container {
            original: input,
            ident: &input.ident,
            attrs,
            fields,
        }
    }

    /// The fields (empty when the input is not a struct with named fields).
    pub fn fields(&self) -> &[Field<'a>] {
        self.fields.as_deref().unwrap_or_default()
    }

    /// The fields stored as columns (all but `skip`), in column order.
    pub fn stored_fields(&self) -> impl Iterator<Item = &Field<'a>> {
        self.fields().iter().filter(|f| f.is_stored())
    }

    /// The struct's name without `r#`.
    pub fn name(&self) -> String {
        self.ident.unraw().to_string()
    }

    /// `table = "..."`, or the struct's name in snake_case.
    pub fn table_name(&self) -> String {
        match &self.attrs.table {
            Some(table) => table.value(),
            None => snake_case(&self.name()),
        }
    }

    /// The path of the runtime crate: `crate = "..."` or `::polyorm`.
    pub fn krate(&self) -> syn::Path {
        match &self.attrs.krate {
            Some(path) => path.clone(),
            None => syn::parse_quote!(::polyorm),
        }
    }

    /// The field named `ident` (compared without `r#`).
    pub fn field_named(&self, ident: &Ident) -> Option<&Field<'a>> {
        let wanted = ident.unraw();
        self.fields().iter().find(|f| f.ident.unraw() == wanted)
    }

    /// The primary-key fields in key order: the struct's `primary_key(...)` list, or the
    /// fields marked `primary_key`. Names that match no field are left out (reported by
    /// `check.rs`).
    pub fn key_fields(&self) -> Vec<&Field<'a>> {
        match &self.attrs.primary_key {
            Some(list) => list
                .fields
                .iter()
                .filter_map(|ident| self.field_named(ident))
                .collect(),
            None => self
                .fields()
                .iter()
                .filter(|f| f.attrs.primary_key.is_some())
                .collect(),
        }
    }

    /// Every user CHECK constraint: field-level ones in field order, then struct-level ones.
    pub fn checks(&self) -> Vec<Check<'_>> {
        let table = self.table_name();
        let fields = self.stored_fields().filter_map(|field| {
            let check = field.attrs.check.as_ref()?;
            let column = field.column_name();
            Some(Check {
                name: format!("ck_{table}_{column}"),
                column: Some(column),
                condition: &check.value,
                span: check.key.span(),
            })
        });
        let named = self.attrs.checks.iter().map(|check| Check {
            name: format!("ck_{table}_{}", check.name.unraw()),
            column: None,
            condition: &check.condition,
            span: check.name.span(),
        });
        fields.chain(named).collect()
    }

    /// Every index and unique constraint, in schema order: field-level `unique`, struct-level
    /// `unique(...)`, field-level `index`, struct-level `index(...)`.
    pub fn indexes(&self) -> Vec<Index<'_>> {
        let table = self.table_name();
        let make = |unique: bool, columns: Vec<String>, given: Option<&LitStr>, span: Span| {
            let prefix = if unique { "uq" } else { "idx" };
            let name = given.map_or_else(
                || format!("{prefix}_{table}_{}", columns.join("_")),
                LitStr::value,
            );
            Index {
                name,
                columns,
                unique,
                keys: Vec::new(),
                method: None,
                include: Vec::new(),
                predicate: None,
                span,
            }
        };
        let mut indexes = Vec::new();
        for unique in [true, false] {
            for field in self.stored_fields() {
                let (flag, given) = if unique {
                    (&field.attrs.unique, &field.attrs.unique_name)
                } else {
                    (&field.attrs.index, &field.attrs.index_name)
                };
                if let Some(key) = flag {
                    let columns = vec![field.column_name()];
                    indexes.push(make(unique, columns, given.as_ref(), key.span()));
                }
            }
            let lists = if unique {
                &self.attrs.unique
            } else {
                &self.attrs.index
            };
            for list in lists {
                let columns = list
                    .fields
                    .iter()
                    .filter_map(|ident| self.field_named(ident))
                    .map(Field::column_name)
                    .collect();
                let mut index = make(unique, columns, list.name.as_ref(), list.key.span());
                let options = &list.options;
                if options.keys.iter().any(|k| *k != attr::KeyAttr::default()) {
                    index.keys.clone_from(&options.keys);
                    if list.name.is_none() {
                        // `idx_users_lower_email`: distinct from the plain index of `email`.
                        let parts: Vec<String> = index
                            .columns
                            .iter()
                            .zip(&index.keys)
                            .map(|(c, k)| {
                                let lower = if k.lower { "lower_" } else { "" };
                                let desc = if k.descending { "_desc" } else { "" };
                                format!("{lower}{c}{desc}")
                            })
                            .collect();
                        let prefix = if unique { "uq" } else { "idx" };
                        index.name = format!("{prefix}_{table}_{}", parts.join("_"));
                    }
                }
                index.method = options.method.as_ref().map(|(_, m)| *m);
                index.include = options
                    .include
                    .iter()
                    .filter_map(|ident| self.field_named(ident))
                    .map(Field::column_name)
                    .collect();
                index.predicate = options.predicate.as_ref();
                indexes.push(index);
            }
        }
        indexes
    }
}

impl<'a> Field<'a> {
    fn from_ast(cx: &Ctxt, field: &'a syn::Field) -> Self {
        Field {
            ident: field.ident.as_ref().expect("named fields have names"),
            ty: &field.ty,
            attrs: attr::Field::from_ast(cx, field),
        }
    }

    /// Whether this very field is one of `fields` (e.g. of [`Container::key_fields`]).
    pub fn is_one_of(&self, fields: &[&Field<'_>]) -> bool {
        fields.iter().any(|f| std::ptr::eq(*f, self))
    }

    /// Whether the field is stored as a column (it is not `skip`).
    pub fn is_stored(&self) -> bool {
        self.attrs.skip.is_none()
    }

    /// The field's name without `r#`.
    pub fn name(&self) -> String {
        self.ident.unraw().to_string()
    }

    /// `column = "..."`, or the field's name.
    pub fn column_name(&self) -> String {
        match &self.attrs.column {
            Some(column) => column.value.value(),
            None => self.name(),
        }
    }

    /// The name of the column constant: the field's name in SCREAMING_SNAKE_CASE.
    pub fn const_ident(&self) -> Ident {
        format_ident!(
            "{}",
            screaming_snake_case(&self.name()),
            span = self.ident.span()
        )
    }

    /// The tokens naming the column in errors: the `column = "..."` literal, or the field.
    pub fn column_span(&self) -> Span {
        match &self.attrs.column {
            Some(column) => column.value.span(),
            None => self.ident.span(),
        }
    }
}
