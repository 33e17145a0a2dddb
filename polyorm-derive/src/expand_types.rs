//! `#[derive(SqlEnum)]` (a fieldless enum stored as text, with its allowed values) and
//! `#[derive(SqlType)]` (a one-field tuple struct stored as its inner type).
//!
//! Like the model derive, every problem is collected and reported together; on error the
//! output is the errors only (no impl), which cannot cascade: nothing else is generated that
//! would need the impl.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Type};

use crate::attr::{TypeAttrs, variant_rename};
use crate::ctxt::Ctxt;

pub(crate) fn krate(attrs: &TypeAttrs) -> syn::Path {
    attrs
        .krate
        .clone()
        .unwrap_or_else(|| syn::parse_quote!(::polyorm))
}

pub(crate) fn no_generics(cx: &Ctxt, input: &DeriveInput, derive: &str) {
    let generics = &input.generics;
    if !generics.params.is_empty() {
        cx.error_spanned_by(
            generics,
            format!("#[derive({derive})] does not support generics"),
        );
    } else if let Some(where_clause) = &generics.where_clause {
        cx.error_spanned_by(
            where_clause,
            format!("#[derive({derive})] does not support generics"),
        );
    }
}

pub(crate) fn finish(cx: Ctxt, output: impl FnOnce() -> TokenStream) -> TokenStream {
    match cx.check() {
        Ok(()) => output(),
        Err(errors) => errors.to_compile_error(),
    }
}

/// Expands `#[derive(SqlEnum)]`.
pub fn derive_sql_enum(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let attrs = TypeAttrs::from_attrs(&cx, &input.attrs, true);
    no_generics(&cx, input, "SqlEnum");
    let mut variants = Vec::new();
    match &input.data {
        Data::Enum(data) => {
            if data.variants.is_empty() {
                cx.error_spanned_by(
                    &input.ident,
                    "#[derive(SqlEnum)] needs at least one variant: an empty enum has no value to store",
                );
            }
            for variant in &data.variants {
                let rename = variant_rename(&cx, &variant.attrs);
                if !matches!(variant.fields, Fields::Unit) {
                    cx.error_spanned_by(
                        &variant.fields,
                        "#[derive(SqlEnum)] only supports variants without data: the column \
                         stores the variant's name; use `Json<T>` for enums with data",
                    );
                }
                let stored = match rename {
                    Some(text) => text.value(),
                    None => match attrs.rename_all {
                        Some(rule) => rule.apply(&variant.ident.to_string()),
                        None => variant.ident.to_string(),
                    },
                };
                if stored.is_empty() {
                    cx.error_spanned_by(
                        &variant.ident,
                        "the stored value of a variant cannot be empty",
                    );
                }
                if let Some((_, first)) = variants.iter().find(|(s, _)| *s == stored) {
                    cx.error_spanned_by(
                        &variant.ident,
                        format!(
                            "variants `{first}` and `{}` are both stored as `{stored}`; rename one",
                            variant.ident
                        ),
                    );
                }
                variants.push((stored, &variant.ident));
            }
        }
        Data::Struct(data) => cx.error_spanned_by(
            data.struct_token,
            "#[derive(SqlEnum)] needs an enum; for a newtype struct use #[derive(SqlType)]",
        ),
        Data::Union(data) => {
            cx.error_spanned_by(data.union_token, "#[derive(SqlEnum)] needs an enum")
        }
    }
    finish(cx, || {
        let krate = krate(&attrs);
        let private = quote!(#krate::__private);
        let ident = &input.ident;
        let name = ident.to_string();
        let values: Vec<&String> = variants.iter().map(|(s, _)| s).collect();
        let idents: Vec<_> = variants.iter().map(|(_, i)| *i).collect();
        let expected = values
            .iter()
            .map(|s| format!("`{s}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let message =
            format!("unknown value `{{}}` for enum `{name}`; expected one of: {expected}");
        quote! {
            const _: () = {
                #[automatically_derived]
                impl #ident {
                    /// The text this variant is stored as.
                    pub const fn as_sql_str(&self) -> &'static str {
                        match self {
                            #(#ident::#idents => #values,)*
                        }
                    }
                }

                // `#[orm(default = "stored_value")]` on a field of this enum; the value
                // itself is checked against ALLOWED_VALUES at compile time.
                #[automatically_derived]
                impl #private::DefaultLiteral<#ident> for &'static str {}

                #[automatically_derived]
                impl #private::SqlType for #ident {
                    const COLUMN_TYPE: #private::ColumnType = #private::ColumnType::Text;
                    const ALLOWED_VALUES: #private::Option<&'static [&'static str]> =
                        #private::Option::Some(&[#(#values),*]);

                    fn to_value(&self) -> #private::Value {
                        #private::Value::Text(::std::string::String::from(self.as_sql_str()))
                    }

                    fn decode_nullable(
                        __row: &#private::RowRef<'_>,
                        __index: ::core::primitive::usize,
                    ) -> #private::Result<#private::Option<Self>> {
                        let __text = <::std::string::String as #private::SqlType>::decode_nullable(__row, __index)?;
                        match __text.as_deref() {
                            #private::Option::None => #private::StdResult::Ok(#private::Option::None),
                            #(#private::Option::Some(#values) => #private::StdResult::Ok(#private::Option::Some(#ident::#idents)),)*
                            #private::Option::Some(__other) => #private::StdResult::Err(
                                __row.decode_error(__index, #name, ::std::format!(#message, __other)),
                            ),
                        }
                    }
                }
            };
        }
    })
}

/// The last path segment of `ty`, e.g. `String` for `std::string::String`.
fn last_segment(ty: &Type) -> Option<String> {
    match ty {
        Type::Path(path) => path.path.segments.last().map(|s| s.ident.to_string()),
        _ => None,
    }
}

/// Expands `#[derive(SqlType)]`.
pub fn derive_sql_type(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let attrs = TypeAttrs::from_attrs(&cx, &input.attrs, false);
    no_generics(&cx, input, "SqlType");
    const SHAPE: &str = "#[derive(SqlType)] needs a tuple struct with exactly one field, e.g. `struct Email(String);`";
    let inner = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Unnamed(fields) if fields.unnamed.len() == 1 => Some(&fields.unnamed[0].ty),
            Fields::Unit => {
                cx.error_spanned_by(&input.ident, SHAPE);
                None
            }
            fields => {
                cx.error_spanned_by(fields, SHAPE);
                None
            }
        },
        Data::Enum(data) => {
            cx.error_spanned_by(
                data.enum_token,
                "#[derive(SqlType)] needs a one-field tuple struct; for a fieldless enum use #[derive(SqlEnum)]",
            );
            None
        }
        Data::Union(data) => {
            cx.error_spanned_by(data.union_token, SHAPE);
            None
        }
    };
    finish(cx, || {
        let inner = inner.expect("checked: one field");
        let krate = krate(&attrs);
        let private = quote!(#krate::__private);
        let ident = &input.ident;
        let span = inner.span();
        let base = quote_spanned!(span=> <#inner as #private::SqlType>);
        // Text and decimal newtypes keep the options of their inner type.
        let markers = match last_segment(inner).as_deref() {
            Some("String") => quote! {
                impl #private::TextType for #ident {}
            },
            Some("Decimal") => quote! {
                impl #private::DecimalType for #ident {}
            },
            _ => quote!(),
        };
        quote! {
            const _: () = {
                #[automatically_derived]
                impl #private::SqlType for #ident {
                    const COLUMN_TYPE: #private::ColumnType = #base::COLUMN_TYPE;
                    const ALLOWED_VALUES: #private::Option<&'static [&'static str]> =
                        #base::ALLOWED_VALUES;

                    fn to_value(&self) -> #private::Value {
                        #base::to_value(&self.0)
                    }

                    fn into_value(self) -> #private::Value {
                        #base::into_value(self.0)
                    }

                    fn decode_nullable(
                        __row: &#private::RowRef<'_>,
                        __index: ::core::primitive::usize,
                    ) -> #private::Result<#private::Option<Self>> {
                        #private::StdResult::Ok(#base::decode_nullable(__row, __index)?.map(#ident))
                    }
                }
                #markers
            };
        }
    })
}
