//! Output for an invalid model: every error, plus stub impls so that the rest of the user's
//! crate still type-checks and the real errors are not buried under "`User: Model` is not
//! satisfied" and "no associated item `EMAIL`".

use std::collections::HashSet;

use proc_macro2::TokenStream;
use quote::quote;

use crate::ast::Container;
use crate::expand::{column_consts, join_model_impls, relation_accessors};

/// The errors, the column constants that can still be computed, and a `Model` impl whose
/// methods are `unimplemented!()` (with the declared key type as `PrimaryKey`).
pub fn expand(cont: &Container<'_>, errors: syn::Error) -> TokenStream {
    let errors = errors.to_compile_error();
    let krate = cont.krate();
    let private = quote!(#krate::__private);
    let ident = cont.ident;
    let generics = &cont.original.generics;
    let (impl_generics, ty_generics, _) = generics.split_for_impl();
    // The struct may not meet `Model`'s supertraits (a generic `T` need not be `Send`); an
    // error about that would only distract from the real ones, so the impl requires them. The
    // higher-ranked form keeps the bound legal when it mentions no generic parameter.
    let mut where_clause = generics
        .where_clause
        .clone()
        .unwrap_or_else(|| syn::WhereClause {
            where_token: Default::default(),
            predicates: Default::default(),
        });
    where_clause.predicates.push(syn::parse_quote! {
        for<'__orm> #ident #ty_generics: ::core::marker::Send + ::core::marker::Sync + 'static
    });

    // Constants need a concrete `Column<User, T>`: only for non-generic structs, and one per
    // name (a clash is one of the reported errors).
    let consts = if generics.params.is_empty() {
        let mut seen = HashSet::new();
        let fields = cont
            .stored_fields()
            .filter(|f| seen.insert(f.const_ident().to_string()));
        column_consts(cont, &private, fields)
    } else {
        TokenStream::new()
    };

    // The declared key type, so that another model's `belongs_to = ThisModel` is checked
    // against it and reports nothing new (`()` would make every such field an error too).
    let keys = cont.key_fields();
    let key_type = match keys.as_slice() {
        _ if !generics.params.is_empty() => quote!(()),
        // No key (a reported error): a type every foreign key accepts.
        [] => quote!(#private::UnknownKey),
        [single] => {
            let ty = single.ty;
            quote!(#ty)
        }
        several => {
            let types = several.iter().map(|f| f.ty);
            quote!((#(#types,)*))
        }
    };

    // The table and its key columns, for the same reason: a child's foreign key reads the
    // parent's table and key column (their types are placeholders: nothing runs).
    let (table, key_columns) = if generics.params.is_empty() {
        // Without a key (a reported error), a placeholder `id`, so that a child's foreign key
        // still finds a key column to name.
        let names: Vec<(String, String)> = if keys.is_empty() {
            vec![("id".to_owned(), "id".to_owned())]
        } else {
            keys.iter().map(|f| (f.column_name(), f.name())).collect()
        };
        let columns: Vec<TokenStream> = names
            .iter()
            .map(|(name, field)| {
                quote! {
                    #private::ColumnSchema {
                        name: #name,
                        field: #field,
                        ty: #private::ColumnType::BigInt,
                        nullable: false,
                        primary_key: true,
                        auto_increment: false,
                        default: ::core::option::Option::None,
                        max_length: ::core::option::Option::None,
                        collation: ::core::option::Option::None,
                        precision: ::core::option::Option::None,
                        allowed_values: ::core::option::Option::None,
                        renamed_from: ::core::option::Option::None,
                    }
                }
            })
            .collect();
        (cont.table_name(), columns)
    } else {
        (String::new(), Vec::new())
    };
    let key_positions = (0..key_columns.len()).map(proc_macro2::Literal::usize_unsuffixed);

    // The relation accessors and join-model impls, so that code using them (or a
    // `through(ThisModel)` elsewhere) reports nothing new.
    let relations = if generics.params.is_empty() {
        let accessors = relation_accessors(cont, &private);
        let joins = join_model_impls(cont, &private);
        quote!(#accessors #joins)
    } else {
        TokenStream::new()
    };

    let stub = quote!(::core::unimplemented!(
        "#[derive(Model)] failed; see the errors above"
    ));
    quote! {
        #errors

        const _: () = {
            #consts
            #relations

            #[automatically_derived]
            impl #impl_generics #private::Model for #ident #ty_generics #where_clause {
                type PrimaryKey = #key_type;

                const SCHEMA: &'static #private::ModelSchema = &#private::ModelSchema {
                    name: "",
                    table: #table,
                    columns: &[#(#key_columns),*],
                    primary_key: &[#(#key_positions),*],
                    indexes: &[],
                    foreign_keys: &[],
                    checks: &[],
                    renamed_from: ::core::option::Option::None,
                    shard_key: ::core::option::Option::None,
                    soft_delete: ::core::option::Option::None,
                };

                fn decode_row(
                    _: &#private::RowRef<'_>,
                    _: ::core::primitive::usize,
                ) -> #private::Result<Self> {
                    #stub
                }

                fn column_value(&self, _: ::core::primitive::usize) -> #private::Value {
                    #stub
                }

                fn insert_values(&self) -> #private::Vec<#private::Value> {
                    #stub
                }

                fn update_values(&self) -> #private::Vec<#private::Value> {
                    #stub
                }

                fn primary_key(&self) -> Self::PrimaryKey {
                    #stub
                }

                fn primary_key_values(_: Self::PrimaryKey) -> #private::Vec<#private::Value> {
                    #stub
                }
            }
        };
    }
}
