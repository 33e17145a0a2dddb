//! Code generation for a checked model: the column constants, the `Model` impl and the
//! type-level checks, all inside one `const _: () = { ... };` block.
//!
//! Generated code reaches the runtime only through `#krate::__private` and names everything
//! else by absolute path, so user code that shadows `Result`, `Vec` or `usize` still compiles.

use proc_macro2::{Group, Literal, Span, TokenStream, TokenTree};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::DeriveInput;
use syn::ext::IdentExt;
use syn::spanned::Spanned;

use crate::ast::{Container, Field, Index};
use crate::attr::{DefaultLit, RelationTarget, column_model};
use crate::check;
use crate::ctxt::Ctxt;
use crate::fallback;

/// Expands `#[derive(Model)]`: the impls, or every error together with fallback stubs.
pub fn derive(input: &DeriveInput) -> TokenStream {
    let (cont, checked) = analyze(input);
    match checked {
        Ok(()) => model(&cont),
        Err(errors) => fallback::expand(&cont, errors),
    }
}

/// Like [`derive`], but returns the errors instead of compiling them into the output.
#[cfg(test)]
pub fn try_derive(input: &DeriveInput) -> syn::Result<TokenStream> {
    let (cont, checked) = analyze(input);
    checked.map(|()| model(&cont))
}

/// Parses every attribute and runs every rule: the AST, and all errors found.
fn analyze(input: &DeriveInput) -> (Container<'_>, syn::Result<()>) {
    let cx = Ctxt::new();
    let cont = Container::from_ast(&cx, input);
    check::check(&cx, &cont);
    (cont, cx.check())
}

/// The whole output for a valid model.
fn model(cont: &Container<'_>) -> TokenStream {
    let krate = cont.krate();
    let private = quote!(#krate::__private);
    let consts = column_consts(cont, &private, cont.stored_fields());
    let grouping = grouping_impls(cont, &private);
    let model_impl = model_impl(cont, &private);
    let type_checks = type_checks(cont, &private);
    let ident = cont.ident;
    let relations = relation_accessors(cont, &private);
    let join_impls = join_model_impls(cont, &private);
    quote! {
        const _: () = {
            #consts
            #grouping
            #relations
            #join_impls
            #model_impl
            #type_checks
            #private::register_model!(#ident);
        };
    }
}

/// `impl User { pub const EMAIL: Column<User, String, User_EMAIL> = Column::new("email"); ... }`
/// for `fields`, with each column's identity type (`pub struct User_EMAIL;`).
pub fn column_consts<'f, 'a: 'f>(
    cont: &Container<'a>,
    private: &TokenStream,
    fields: impl Iterator<Item = &'f Field<'a>>,
) -> TokenStream {
    let ident = cont.ident;
    let table = cont.table_name();
    let (ids, consts): (Vec<_>, Vec<_>) = fields
        .map(|field| {
            let ty = field.ty;
            let name = field.const_ident();
            let id = column_id(cont, field);
            let column = field.column_name();
            let doc = format!("Column `{column}` of `{table}`.");
            let id_doc = format!("The identity of `{ident}::{name}` in grouping checks.");
            let id_def = quote_spanned! {field.ident.span()=>
                #[doc = #id_doc]
                #[doc(hidden)]
                // Never built: a type-level name, spanned at the field for rustc's notes.
                #[allow(non_camel_case_types, dead_code)]
                pub struct #id;
                impl #private::ColumnId for #id {}
            };
            let private = respan(private, ty.span());
            let value = quote_spanned!(ty.span()=> #private::Column::new(#column));
            let konst = quote! {
                #[doc = #doc]
                pub const #name: #private::Column<#ident, #ty, #id> = #value;
            };
            (id_def, konst)
        })
        .unzip();
    quote! {
        #(#ids)*
        impl #ident {
            #(#consts)*
        }
    }
}

/// The identity type of `field`'s column: `User_EMAIL` for `User::EMAIL`, so that compile
/// errors name the column as the user wrote it.
fn column_id(cont: &Container<'_>, field: &Field<'_>) -> syn::Ident {
    format_ident!(
        "{}_{}",
        cont.ident.unraw(),
        field.const_ident(),
        span = field.ident.span()
    )
}

/// For each pair of columns (selected, key): whether grouping by `key` makes `selected` one
/// value per group. It does when `key` is `selected` or part of the primary key (a composite
/// key's other parts are checked at run time); otherwise the answer is the rest of the keys'.
/// N² impls for N columns, each one line.
fn grouping_impls(cont: &Container<'_>, private: &TokenStream) -> TokenStream {
    let fields: Vec<_> = cont.stored_fields().collect();
    let keys: Vec<String> = cont
        .key_fields()
        .iter()
        .map(|f| f.const_ident().to_string())
        .collect();
    let mut impls = TokenStream::new();
    for selected in &fields {
        let id = column_id(cont, selected);
        // At the field, so that rustc's notes point at the column, not at the derive.
        let span = selected.ident.span();
        for key in &fields {
            let key_id = column_id(cont, key);
            let key_name = key.const_ident().to_string();
            let valid = std::ptr::eq(*selected, *key) || keys.contains(&key_name);
            let private = respan(private, span);
            impls.extend(if valid {
                quote_spanned!(span=> impl<R> #private::GroupedIn<(#key_id, R)> for #id {})
            } else {
                quote_spanned! {span=>
                    impl<R> #private::GroupedIn<(#key_id, R)> for #id where #id: #private::GroupedIn<R> {}
                }
            });
        }
    }
    impls
}

/// `impl User { pub fn posts() -> HasMany<User, Post> { ... } }` for `has_many`/`has_one`,
/// `pub fn tags() -> HasManyThrough<Post, PostTag, Tag>` for `has_many(tags = through(..))`,
/// and `pub fn author() -> BelongsTo<Post, User>` for each `belongs_to` field named `<x>_id`.
pub fn relation_accessors(cont: &Container<'_>, private: &TokenStream) -> TokenStream {
    let ident = cont.ident;
    let many = cont.attrs.has_many.iter().map(|rel| (rel, quote!(HasMany)));
    let one = cont.attrs.has_one.iter().map(|rel| (rel, quote!(HasOne)));
    let children = many.chain(one).map(|(rel, kind)| {
        let accessor = &rel.accessor;
        match &rel.target {
            RelationTarget::Column(column) => {
                let child = column_model(column);
                let doc = format!(
                    "The `{accessor}` relation: rows of the child whose foreign key is this row's key."
                );
                quote_spanned! {column.span()=>
                    #[doc = #doc]
                    pub fn #accessor() -> #private::#kind<#ident, #child> {
                        #private::assert_relation_key::<<#ident as #private::Model>::PrimaryKey, _, _>(#column);
                        #private::#kind::via_checked_elsewhere(#column)
                    }
                }
            }
            RelationTarget::Through { join, target } => {
                let doc = format!(
                    "The `{accessor}` relation (many-to-many): the rows linked to this row by \
                     rows of the join model `{}`.",
                    join.to_token_stream()
                );
                // Errors point at the join model (or the target) the user named.
                let private = respan(private, join.span());
                let (target, build) = match target {
                    Some(target) => (quote!(#target), quote_spanned!(target.span()=> new)),
                    None => (
                        quote_spanned!(join.span()=> <#join as #private::JoinModel<#ident>>::Other),
                        quote_spanned!(join.span()=> joined),
                    ),
                };
                quote_spanned! {join.span()=>
                    #[doc = #doc]
                    pub fn #accessor() -> #private::HasManyThrough<#ident, #join, #target> {
                        #private::HasManyThrough::#build()
                    }
                }
            }
        }
    });
    let parents = cont.stored_fields().filter_map(|field| {
        let parent = &field.attrs.belongs_to.as_ref()?.value;
        let name = field.name();
        let accessor = format_ident!("{}", name.strip_suffix("_id")?, span = field.ident.span());
        let column = field.const_ident();
        let doc = format!("The row `{name}` points at (many-to-one).");
        Some(quote! {
            #[doc = #doc]
            pub fn #accessor() -> #private::BelongsTo<#ident, #parent> {
                #private::BelongsTo::via_checked_elsewhere(#ident::#column)
            }
        })
    });
    quote! {
        impl #ident {
            #(#children)*
            #(#parents)*
        }
    }
}

/// What makes the model usable as the join model of a many-to-many relation: `BelongsToModel<P>`
/// for each parent named by exactly one `belongs_to` field, and `JoinModel` both ways when
/// there are exactly two `belongs_to` fields to two different models. Emitted for a failed
/// derive too, so that a relation through this model reports nothing new.
pub fn join_model_impls(cont: &Container<'_>, private: &TokenStream) -> TokenStream {
    if !cont.original.generics.params.is_empty() {
        return TokenStream::new();
    }
    let ident = cont.ident;
    // Each parent, spelled as the struct's own name for `Self`, with its fields' columns.
    let mut parents: Vec<(String, TokenStream, Vec<String>)> = Vec::new();
    let mut links = 0;
    for field in cont.stored_fields() {
        let Some(parent) = field.attrs.belongs_to.as_ref().map(|o| &o.value) else {
            continue;
        };
        links += 1;
        let parent = if refers_to_self(parent, ident) {
            quote!(#ident)
        } else {
            quote!(#parent)
        };
        let key = parent.to_string();
        match parents.iter_mut().find(|(k, ..)| *k == key) {
            Some((.., columns)) => columns.push(field.column_name()),
            None => parents.push((key, parent, vec![field.column_name()])),
        }
    }
    let belongs = parents
        .iter()
        .filter(|(.., columns)| columns.len() == 1)
        .map(|(_, parent, columns)| {
            let column = &columns[0];
            quote! {
                #[automatically_derived]
                impl #private::BelongsToModel<#parent> for #ident {
                    const FOREIGN_KEY: &'static ::core::primitive::str = #column;
                }
            }
        });
    let join = match parents.as_slice() {
        [(_, a, a_columns), (_, b, b_columns)] if links == 2 => {
            let (a_column, b_column) = (&a_columns[0], &b_columns[0]);
            quote! {
            #[automatically_derived]
            impl #private::JoinModel<#a> for #ident {
                type Other = #b;
                const TO_SELF: &'static ::core::primitive::str = #a_column;
                const TO_OTHER: &'static ::core::primitive::str = #b_column;
            }
            #[automatically_derived]
            impl #private::JoinModel<#b> for #ident {
                type Other = #a;
                const TO_SELF: &'static ::core::primitive::str = #b_column;
                const TO_OTHER: &'static ::core::primitive::str = #a_column;
            }
            }
        }
        _ => TokenStream::new(),
    };
    quote! {
        #(#belongs)*
        #join
    }
}

/// `tokens` with every span set to `span`, so that an error in a path such as
/// `::polyorm::__private::Column::new` points at the field's type rather than at the derive.
fn respan(tokens: &TokenStream, span: Span) -> TokenStream {
    tokens
        .clone()
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &token {
                let mut inner = Group::new(group.delimiter(), respan(&group.stream(), span));
                inner.set_span(span);
                token = TokenTree::Group(inner);
            } else {
                token.set_span(span);
            }
            token
        })
        .collect()
}

/// `impl Model for User { ... }`.
fn model_impl(cont: &Container<'_>, private: &TokenStream) -> TokenStream {
    let ident = cont.ident;
    let schema = schema(cont, private);
    let decode = decode_row(cont, private);
    let keys = cont.key_fields();

    let column_value = column_value(cont, private);
    let insert = insert_values(
        private,
        cont.stored_fields()
            .filter(|f| f.attrs.auto_increment.is_none()),
    );
    let generated = generated_value(cont, private);
    let update = update_values(
        private,
        cont.stored_fields().filter(|f| !f.is_one_of(&keys)),
    );
    let touch = touch(cont, private);

    let key_types = keys.iter().map(|f| f.ty);
    let key_type = match keys.as_slice() {
        [single] => {
            let ty = single.ty;
            quote!(#ty)
        }
        _ => quote!((#(#key_types,)*)),
    };
    let key_clones = keys.iter().map(|f| {
        let member = f.ident;
        quote_spanned!(f.ty.span()=> ::core::clone::Clone::clone(&self.#member))
    });
    let key_value = |field: &Field<'_>, var: &syn::Ident| {
        let ty = field.ty;
        quote_spanned!(ty.span()=> <#ty as #private::FieldType>::into_value(#var))
    };
    let (primary_key, primary_key_values) = match keys.as_slice() {
        [single] => {
            let value = key_value(single, &format_ident!("__key"));
            (
                quote!(#(#key_clones)*),
                quote!(#private::Vec::from([#value])),
            )
        }
        _ => {
            let vars: Vec<_> = (0..keys.len())
                .map(|i| format_ident!("__key{}", i))
                .collect();
            let values = keys.iter().zip(&vars).map(|(f, var)| key_value(f, var));
            (
                quote!((#(#key_clones,)*)),
                quote! {
                    let (#(#vars,)*) = __key;
                    #private::Vec::from([#(#values),*])
                },
            )
        }
    };

    quote! {
        #[automatically_derived]
        impl #private::Model for #ident {
            type PrimaryKey = #key_type;

            const SCHEMA: &'static #private::ModelSchema = #schema;

            fn decode_row(
                __row: &#private::RowRef<'_>,
                __offset: ::core::primitive::usize,
            ) -> #private::Result<Self> {
                #decode
            }

            fn column_value(&self, __index: ::core::primitive::usize) -> #private::Value {
                #column_value
            }

            fn insert_values(&self) -> #private::Vec<#private::Value> {
                #insert
            }

            #generated

            #touch

            fn update_values(&self) -> #private::Vec<#private::Value> {
                #update
            }

            fn primary_key(&self) -> Self::PrimaryKey {
                #primary_key
            }

            fn primary_key_values(__key: Self::PrimaryKey) -> #private::Vec<#private::Value> {
                #primary_key_values
            }
        }
    }
}

/// Whether a `belongs_to` target names the model itself (`Self` or its own identifier).
fn refers_to_self(parent: &syn::Path, ident: &syn::Ident) -> bool {
    parent.get_ident().is_some_and(|p| p == ident) || parent.is_ident("Self")
}

/// The `SCHEMA` constant: a reference to the descriptor (promoted to static memory).
fn schema(cont: &Container<'_>, private: &TokenStream) -> TokenStream {
    let name = cont.name();
    let table = cont.table_name();
    let keys = cont.key_fields();

    let columns = cont
        .stored_fields()
        .map(|field| column_schema(field, field.is_one_of(&keys), private));
    let stored: Vec<&Field<'_>> = cont.stored_fields().collect();
    let positions = keys.iter().map(|key| {
        let position = stored.iter().position(|f| std::ptr::eq(*f, *key));
        Literal::usize_unsuffixed(position.expect("checked: key fields are stored"))
    });
    let indexes = cont.indexes();
    let ident = cont.ident;
    let indexes = indexes.iter().map(|index| {
        let Index {
            name,
            columns,
            unique,
            keys,
            method,
            include,
            predicate,
            ..
        } = index;
        let keys = keys.iter().map(|k| {
            let descending = k.descending;
            let function = if k.lower {
                quote!(#private::Option::Some(#private::IndexFunction::Lower))
            } else {
                quote!(#private::Option::None)
            };
            quote!(#private::IndexKey { function: #function, descending: #descending })
        });
        let method = match method {
            Some(m) => {
                let variant = format_ident!("{}", m.variant());
                quote!(#private::Option::Some(#private::IndexMethod::#variant))
            }
            None => quote!(#private::Option::None),
        };
        // As for checks: a capture-free closure is a `fn() -> Condition`, and a filter of
        // another model is a type error at the condition.
        let predicate = match predicate {
            Some(condition) => quote_spanned! {condition.span()=>
                #private::Option::Some(|| #private::check_condition::<#ident>(#condition))
            },
            None => quote!(#private::Option::None),
        };
        quote! {
            #private::IndexSchema {
                name: #name,
                columns: &[#(#columns),*],
                unique: #unique,
                keys: &[#(#keys),*],
                method: #method,
                include: &[#(#include),*],
                predicate: #predicate,
            }
        }
    });

    let foreign_keys = cont.stored_fields().filter_map(|field| {
        let parent = &field.attrs.belongs_to.as_ref()?.value;
        let column = field.column_name();
        let name = field.attrs.fk_name.as_ref().map_or_else(
            || format!("fk_{table}_{column}"),
            |given| given.value.value(),
        );
        let action = |opt: &Option<crate::attr::Opt<crate::attr::Referential>>| {
            let variant =
                format_ident!("{}", opt.as_ref().map_or("NoAction", |a| a.value.variant()));
            quote!(#private::ReferentialAction::#variant)
        };
        let (on_delete, on_update) = (
            action(&field.attrs.on_delete),
            action(&field.attrs.on_update),
        );
        // A tree (`belongs_to = Self` or the struct's own name) cannot read its own `SCHEMA`
        // while defining it (a const cycle), so its table and key are written out.
        let (ref_table, ref_column) = match keys.first() {
            Some(key) if refers_to_self(parent, cont.ident) => {
                let key = key.column_name();
                (quote!(#table), quote!(#key))
            }
            _ => {
                let parent_schema =
                    quote_spanned!(parent.span()=> <#parent as #private::Model>::SCHEMA);
                (
                    quote!(#parent_schema.table),
                    quote!(#parent_schema.columns[#parent_schema.primary_key[0]].name),
                )
            }
        };
        Some(quote! {
            #private::ForeignKeySchema {
                name: #name,
                columns: &[#column],
                ref_table: #ref_table,
                ref_columns: &[#ref_column],
                on_delete: #on_delete,
                on_update: #on_update,
            }
        })
    });
    let renamed_from = option_str(cont.attrs.renamed_from.as_ref().map(|l| l.value()));
    let shard_key = match stored.iter().position(|f| f.attrs.shard_key.is_some()) {
        Some(position) => quote!(::core::option::Option::Some(#position)),
        None => quote!(::core::option::Option::None),
    };
    let soft_delete = match stored.iter().position(|f| f.attrs.soft_delete.is_some()) {
        Some(position) => quote!(::core::option::Option::Some(#position)),
        None => quote!(::core::option::Option::None),
    };
    let checks = cont.checks();
    let checks = checks.iter().map(|check| {
        let name = &check.name;
        let column = option_str(check.column.clone());
        let condition = check.condition;
        // A closure without captures is a `fn() -> Condition`; `Self` is the model inside it,
        // and a filter of another model is a type error at the condition.
        let build = quote_spanned! {condition.span()=>
            || #private::check_condition::<#ident>(#condition)
        };
        quote! {
            #private::CheckSchema {
                name: #name,
                column: #column,
                condition: #build,
            }
        }
    });

    quote! {
        &#private::ModelSchema {
            name: #name,
            table: #table,
            columns: &[#(#columns),*],
            primary_key: &[#(#positions),*],
            indexes: &[#(#indexes),*],
            foreign_keys: &[#(#foreign_keys),*],
            checks: &[#(#checks),*],
            renamed_from: #renamed_from,
            shard_key: #shard_key,
            soft_delete: #soft_delete,
        }
    }
}

/// `Some("text")` or `None`, fully qualified.
fn option_str(value: Option<String>) -> TokenStream {
    match value {
        Some(text) => quote!(::core::option::Option::Some(#text)),
        None => quote!(::core::option::Option::None),
    }
}

/// One `ColumnSchema { ... }`; the type-derived parts are spanned at the field's type.
fn column_schema(field: &Field<'_>, primary_key: bool, private: &TokenStream) -> TokenStream {
    let ty = field.ty;
    let name = field.column_name();
    let rust_name = field.name();
    let auto_increment = field.attrs.auto_increment.is_some();
    let column_type = quote_spanned! {ty.span()=>
        <<#ty as #private::FieldType>::Base as #private::SqlType>::COLUMN_TYPE
    };
    let nullable = quote_spanned!(ty.span()=> <#ty as #private::FieldType>::NULLABLE);
    let default = match field.attrs.default.as_ref().map(|d| &d.value.value) {
        None => quote!(::core::option::Option::None),
        Some(value) => {
            let value = match value {
                DefaultLit::Bool(b) => quote!(Bool(#b)),
                DefaultLit::Int(i) => {
                    let i = Literal::i64_suffixed(*i);
                    quote!(Int(#i))
                }
                DefaultLit::Float(f) => {
                    let f = Literal::f64_suffixed(*f);
                    quote!(Float(#f))
                }
                DefaultLit::Text(s) => quote!(Text(#s)),
                DefaultLit::Now => quote!(Now),
                DefaultLit::Uuid => quote!(Uuid),
            };
            quote!(::core::option::Option::Some(#private::DefaultValue::#value))
        }
    };
    let max_length = match &field.attrs.max_length {
        None => quote!(::core::option::Option::None),
        Some(max) => {
            let max = Literal::u32_suffixed(max.value);
            quote!(::core::option::Option::Some(#max))
        }
    };
    let renamed_from = option_str(field.attrs.renamed_from.as_ref().map(|o| o.value.value()));
    let collation = option_str(field.attrs.collation.as_ref().map(|o| o.value.value()));
    let precision = match &field.attrs.precision {
        None => quote!(::core::option::Option::None),
        Some(precision) => {
            let p = Literal::u32_suffixed(precision.value);
            let s = Literal::u32_suffixed(field.attrs.scale.as_ref().map_or(0, |s| s.value));
            quote!(::core::option::Option::Some((#p, #s)))
        }
    };
    let allowed_values = quote_spanned! {ty.span()=>
        <<#ty as #private::FieldType>::Base as #private::SqlType>::ALLOWED_VALUES
    };
    quote! {
        #private::ColumnSchema {
            name: #name,
            field: #rust_name,
            ty: #column_type,
            nullable: #nullable,
            primary_key: #primary_key,
            auto_increment: #auto_increment,
            default: #default,
            max_length: #max_length,
            collation: #collation,
            precision: #precision,
            allowed_values: #allowed_values,
            renamed_from: #renamed_from,
        }
    }
}

/// The body of `decode_row`: stored fields from consecutive columns, skipped ones defaulted.
fn decode_row(cont: &Container<'_>, private: &TokenStream) -> TokenStream {
    let ident = cont.ident;
    let mut position = 0usize;
    let inits = cont.fields().iter().map(|field| {
        let member = field.ident;
        let ty = field.ty;
        if !field.is_stored() {
            return quote_spanned!(ty.span()=> #member: ::core::default::Default::default());
        }
        let index = match position {
            0 => quote!(__offset),
            n => {
                let n = Literal::usize_unsuffixed(n);
                quote!(__offset + #n)
            }
        };
        position += 1;
        quote_spanned!(ty.span()=> #member: <#ty as #private::FieldType>::decode(__row, #index)?)
    });
    quote! {
        ::core::result::Result::Ok(#ident { #(#inits),* })
    }
}

/// The body of `column_value`: a match from stored-column position to the encoded field.
fn column_value(cont: &Container<'_>, private: &TokenStream) -> TokenStream {
    let arms = cont.stored_fields().enumerate().map(|(position, field)| {
        let member = field.ident;
        let ty = field.ty;
        let position = Literal::usize_unsuffixed(position);
        quote_spanned!(ty.span()=> #position => <#ty as #private::FieldType>::to_value(&self.#member),)
    });
    let name = cont.name();
    quote! {
        match __index {
            #(#arms)*
            _ => ::core::panic!("`{}` has no column at position {}", #name, __index),
        }
    }
}

/// The body of `update_values`: each field's value, the current time for `updated_at`.
fn update_values<'f, 'a: 'f>(
    private: &TokenStream,
    fields: impl Iterator<Item = &'f Field<'a>>,
) -> TokenStream {
    let values = fields.map(|field| {
        let member = field.ident;
        let ty = field.ty;
        match (&field.attrs.updated_at, generator(field, private)) {
            (Some(_), Some(generator)) => quote_spanned! {ty.span()=>
                <#ty as #private::FieldType>::into_value((#generator.make)())
            },
            _ => quote_spanned!(ty.span()=> <#ty as #private::FieldType>::to_value(&self.#member)),
        }
    });
    quote!(#private::Vec::from([#(#values),*]))
}

/// `touch`: the `updated_at` column and the current time (omitted without one).
fn touch(cont: &Container<'_>, private: &TokenStream) -> TokenStream {
    let version = cont
        .stored_fields()
        .find(|f| f.attrs.version.is_some())
        .map(|field| {
            let (ty, column) = (field.ty, field.column_name());
            let key = field.attrs.version.as_ref().expect("found");
            quote_spanned! {key.span()=>
                const VERSION_COLUMN: #private::Option<&'static str> = {
                    #private::assert_version_field::<#ty>();
                    ::core::option::Option::Some(#column)
                };
            }
        });
    let touch = updated_at(cont, private);
    let soft_delete = cont
        .stored_fields()
        .find(|f| f.attrs.soft_delete.is_some())
        .map(|field| {
            let (ty, column) = (field.ty, field.column_name());
            // Spanned at the field's type: a type that is no nullable timestamp is the error.
            quote_spanned! {ty.span()=>
                fn soft_delete_now() -> #private::Option<(&'static str, #private::Value)> {
                    ::core::option::Option::Some((
                        #column,
                        <#ty as #private::SoftDeleteField>::deleted_now(),
                    ))
                }
            }
        });
    quote!(#version #touch #soft_delete)
}

/// `touch` for the `updated_at` field (omitted without one).
fn updated_at(cont: &Container<'_>, private: &TokenStream) -> TokenStream {
    let Some(field) = cont.stored_fields().find(|f| f.attrs.updated_at.is_some()) else {
        return TokenStream::new();
    };
    let Some(generator) = generator(field, private) else {
        return TokenStream::new();
    };
    let (ty, column) = (field.ty, field.column_name());
    quote! {
        fn touch() -> #private::Option<(&'static str, #private::Value)> {
            ::core::option::Option::Some((
                #column,
                <#ty as #private::FieldType>::into_value((#generator.make)()),
            ))
        }
    }
}

/// The body of `insert_values`: each field's value, except that a field with a generated
/// default (`now()`, `uuid()`) is NULL while unset (the database, or `generated_value`, fills
/// it) and a field with `default_fn` takes the function's value while unset.
fn insert_values<'f, 'a: 'f>(
    private: &TokenStream,
    fields: impl Iterator<Item = &'f Field<'a>>,
) -> TokenStream {
    let values = fields.map(|field| {
        let member = field.ident;
        let ty = field.ty;
        let value =
            quote_spanned!(ty.span()=> <#ty as #private::FieldType>::to_value(&self.#member));
        let null = quote_spanned! {ty.span()=>
            #private::Value::Null(
                <<#ty as #private::FieldType>::Base as #private::SqlType>::COLUMN_TYPE,
            )
        };
        let Some(generator) = generator(field, private) else {
            return value;
        };
        // `default_fn`: the function's value; `now()`/`uuid()`: NULL, for the database (or
        // `generated_value`) to fill.
        let make =
            quote_spanned!(ty.span()=> <#ty as #private::FieldType>::into_value((__generator.make)()));
        if field.attrs.updated_at.is_some() {
            // Every insert writes the current time.
            return quote_spanned!(ty.span()=> { let __generator = #generator; #make });
        }
        let app_side = field.attrs.default_fn.is_some() || field.attrs.created_at.is_some();
        let fill = if app_side { make } else { null };
        quote_spanned! {ty.span()=>
            {
                let __generator = #generator;
                if (__generator.is_unset)(&self.#member) {
                    #fill
                } else {
                    #value
                }
            }
        }
    });
    quote!(#private::Vec::from([#(#values),*]))
}

/// The `Generator` of a field with `default = now()` / `uuid()` or `default_fn`, spanned at
/// the option: the one place that requires the field's type to fit it, so a misfit is one
/// error however often the generator is used.
fn generator(field: &Field<'_>, private: &TokenStream) -> Option<TokenStream> {
    let ty = field.ty;
    if let Some(key) = field
        .attrs
        .created_at
        .as_ref()
        .or(field.attrs.updated_at.as_ref())
    {
        return Some(quote_spanned!(key.span()=> #private::timestamp_default::<#ty>()));
    }
    if let Some(function) = &field.attrs.default_fn {
        let path = &function.value;
        return Some(quote_spanned!(path.span()=> #private::fn_default::<#ty>(#path)));
    }
    let default = field.attrs.default.as_ref()?;
    let span = default.value.expr.span();
    match default.value.value {
        DefaultLit::Now => Some(quote_spanned!(span=> #private::now_default::<#ty>())),
        DefaultLit::Uuid => Some(quote_spanned!(span=> #private::uuid_default::<#ty>())),
        _ => None,
    }
}

/// `generated_value`: the application's value of each `now()` / `uuid()` field, by column
/// position (omitted when the model has none).
fn generated_value(cont: &Container<'_>, private: &TokenStream) -> TokenStream {
    let arms: Vec<TokenStream> = cont
        .stored_fields()
        .enumerate()
        .filter_map(|(position, field)| {
            let ty = field.ty;
            if !field.attrs.default.as_ref()?.value.value.is_generated()
                || field.attrs.created_at.is_some()
                || field.attrs.updated_at.is_some()
            {
                return None;
            }
            let generator = generator(field, private)?;
            let position = Literal::usize_unsuffixed(position);
            Some(quote_spanned! {ty.span()=>
                #position => ::core::option::Option::Some(
                    <#ty as #private::FieldType>::into_value((#generator.make)()),
                ),
            })
        })
        .collect();
    if arms.is_empty() {
        return TokenStream::new();
    }
    quote! {
        fn generated_value(
            __index: ::core::primitive::usize,
        ) -> #private::Option<#private::Value> {
            match __index {
                #(#arms)*
                _ => ::core::option::Option::None,
            }
        }
    }
}

/// The check of a literal `default` for a field of type `ty`: one that says what a UUID,
/// timestamp, JSON, decimal or date field takes instead (recognised by the type's last path
/// segment, inside an `Option`), else the generic one. All accept the same literals.
fn default_assertion(ty: &syn::Type) -> proc_macro2::Ident {
    let name = match last_segment(ty) {
        Some(segment) if segment.ident == "Option" => match &segment.arguments {
            syn::PathArguments::AngleBracketed(args) => match args.args.first() {
                Some(syn::GenericArgument::Type(inner)) => last_segment(inner),
                _ => None,
            },
            _ => None,
        },
        other => other,
    }
    .map(|segment| segment.ident.to_string());
    let assert = match name.as_deref() {
        Some("Uuid") => "assert_uuid_default",
        Some("DateTime" | "NaiveDateTime" | "OffsetDateTime" | "PrimitiveDateTime") => {
            "assert_timestamp_default"
        }
        Some("Value" | "Json") => "assert_json_default",
        Some("Decimal") => "assert_decimal_default",
        Some("NaiveDate" | "Date") => "assert_date_default",
        _ => "assert_default",
    };
    format_ident!("{assert}")
}

/// The last segment of a plain type path (`chrono::DateTime<Utc>` → `DateTime<Utc>`).
fn last_segment(ty: &syn::Type) -> Option<&syn::PathSegment> {
    match ty {
        syn::Type::Path(p) if p.qself.is_none() => p.path.segments.last(),
        syn::Type::Group(g) => last_segment(&g.elem),
        _ => None,
    }
}

/// Type-level checks, each spanned at the field's type (or at the `default` literal), inside a
/// closure that is type-checked but never called.
fn type_checks(cont: &Container<'_>, private: &TokenStream) -> TokenStream {
    let keys = cont.key_fields();
    let checks = cont.stored_fields().map(|field| {
        let ty = field.ty;
        let span = ty.span();
        let mut checks = vec![quote_spanned!(span=> #private::assert_field_type::<#ty>();)];
        if field.is_one_of(&keys) {
            checks.push(quote_spanned!(span=> #private::assert_key_field::<#ty>();));
        }
        if field.attrs.auto_increment.is_some() {
            checks.push(quote_spanned!(span=> #private::assert_auto_increment_field::<#ty>();));
        }
        if field.attrs.max_length.is_some() || field.attrs.collation.is_some() {
            checks.push(quote_spanned!(span=> #private::assert_text_field::<#ty>();));
        }
        if field.attrs.precision.is_some() || field.attrs.scale.is_some() {
            checks.push(quote_spanned!(span=> #private::assert_decimal_field::<#ty>();));
        }
        if let Some(parent) = &field.attrs.belongs_to {
            let parent = &parent.value;
            checks.push(quote_spanned! {parent.span()=>
                const { #private::assert_single_key(<#parent as #private::Model>::SCHEMA) };
                #private::assert_foreign_key::<#ty, <#parent as #private::Model>::PrimaryKey>();
            });
        }
        let sets_null = |o: &Option<crate::attr::Opt<crate::attr::Referential>>| {
            o.as_ref()
                .is_some_and(|a| a.value == crate::attr::Referential::SetNull)
        };
        if sets_null(&field.attrs.on_delete) || sets_null(&field.attrs.on_update) {
            checks.push(quote_spanned!(span=> #private::assert_nullable_field::<#ty>();));
        }
        if let Some(default) = &field.attrs.default {
            let literal = &default.value.expr;
            // `now()`/`uuid()` are checked where the insert uses their generator.
            if !default.value.value.is_generated() {
                let assert = default_assertion(ty);
                checks.push(quote_spanned! {literal.span()=>
                    #private::#assert::<#ty, _>(#literal);
                });
            }
        }
        quote!(#(#checks)*)
    });
    // `lower(field)` in an index applies to text columns only: checked at the field's name.
    let lower_keys = cont
        .attrs
        .unique
        .iter()
        .chain(&cont.attrs.index)
        .flat_map(|list| list.fields.iter().zip(&list.options.keys))
        .filter(|(_, key)| key.lower)
        .filter_map(|(ident, _)| {
            let ty = cont.field_named(ident)?.ty;
            Some(quote_spanned!(ident.span()=> #private::assert_text_field::<#ty>();))
        })
        .collect::<Vec<_>>();
    let checks = checks.chain(std::iter::once(quote!(#(#lower_keys)*)));
    // Text defaults must fit the column (JSON text, decimal digits, a date, an enum's stored
    // value): checked by const evaluation.
    let enum_defaults = cont.stored_fields().filter_map(|field| {
        let default = field.attrs.default.as_ref()?;
        let DefaultLit::Text(_) = &default.value.value else {
            return None;
        };
        let (ty, literal) = (field.ty, &default.value.expr);
        Some(quote_spanned! {literal.span()=>
            const _: () = #private::assert_text_default(
                <<#ty as #private::FieldType>::Base as #private::SqlType>::COLUMN_TYPE,
                <<#ty as #private::FieldType>::Base as #private::SqlType>::ALLOWED_VALUES,
                #literal,
            );
        })
    });
    // A field-level check is named like an enum column's own CHECK: checked by const
    // evaluation (outside the closure above, which is never evaluated).
    let enum_checks = cont.stored_fields().filter_map(|field| {
        let check = field.attrs.check.as_ref()?;
        let ty = field.ty;
        Some(quote_spanned! {check.key.span()=>
            const _: () = #private::assert_check_not_on_enum(
                <<#ty as #private::FieldType>::Base as #private::SqlType>::ALLOWED_VALUES,
            );
        })
    });
    quote! {
        let _ = || {
            #(#checks)*
        };
        #(#enum_defaults)*
        #(#enum_checks)*
    }
}
