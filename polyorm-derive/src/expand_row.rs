//! `#[derive(FromRow)]`: a struct that the rows of a projection decode into, one field per
//! selected value in field order. It implements `FromRow` (decoding by position, for raw SQL
//! too) and `FromValues<(field types..)>`, which ties the struct to projections selecting
//! exactly those types, so `select((..)).all_as::<T>(&db)` is checked at compile time.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{Data, DeriveInput, Fields, Index};

use crate::attr::TypeAttrs;
use crate::ctxt::Ctxt;
use crate::expand_types::{finish, krate, no_generics};

/// Expands `#[derive(FromRow)]`.
pub fn derive_from_row(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let attrs = TypeAttrs::from_attrs(&cx, &input.attrs, false);
    no_generics(&cx, input, "FromRow");
    const SHAPE: &str = "#[derive(FromRow)] needs a struct with at most 8 fields, one per \
                         selected value, e.g. `struct TrackLine { track: String, album: String }`";
    let fields = match &input.data {
        Data::Struct(data) if !data.fields.is_empty() && data.fields.len() <= 8 => {
            Some(&data.fields)
        }
        Data::Struct(data) => {
            cx.error_spanned_by(&data.fields, SHAPE);
            None
        }
        Data::Enum(data) => {
            cx.error_spanned_by(data.enum_token, SHAPE);
            None
        }
        Data::Union(data) => {
            cx.error_spanned_by(data.union_token, SHAPE);
            None
        }
    };
    finish(cx, || {
        let fields = fields.expect("checked: a struct with fields");
        let krate = krate(&attrs);
        let private = quote!(#krate::__private);
        let ident = &input.ident;
        let types: Vec<_> = fields.iter().map(|f| &f.ty).collect();
        let positions: Vec<_> = (0..fields.len()).map(Index::from).collect();
        let decoded = types
            .iter()
            .zip(&positions)
            .map(|(ty, i)| quote!(<#ty as #private::FieldType>::decode(__row, #i)?));
        let moved = positions.iter().map(|i| quote!(__values.#i));
        let (decoded, moved) = match fields {
            Fields::Named(_) => {
                let names: Vec<_> = fields.iter().map(|f| &f.ident).collect();
                (
                    quote!(#ident { #(#names: #decoded,)* }),
                    quote!(#ident { #(#names: #moved,)* }),
                )
            }
            _ => (quote!(#ident(#(#decoded,)*)), quote!(#ident(#(#moved,)*))),
        };
        quote! {
            const _: () = {
                #[automatically_derived]
                impl #private::FromRow for #ident {
                    fn from_row(__row: &#private::RowRef<'_>) -> #private::Result<Self> {
                        #private::StdResult::Ok(#decoded)
                    }
                }

                #[automatically_derived]
                impl #private::FromValues<(#(#types,)*)> for #ident {
                    fn from_values(__values: (#(#types,)*)) -> Self {
                        #moved
                    }
                }
            };
        }
    })
}
