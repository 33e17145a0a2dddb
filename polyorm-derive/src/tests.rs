//! Tests of the derive at the `proc_macro2` level: error messages and the shape of the output.

use syn::{DeriveInput, parse_quote};

use crate::expand::try_derive;

/// Every error message the derive reports for `input`, in order (empty if it expands).
fn errors(input: DeriveInput) -> Vec<String> {
    match try_derive(&input) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.into_iter().map(|e| e.to_string()).collect(),
    }
}

/// Asserts that `input` fails with exactly one error, equal to `expected`.
#[track_caller]
fn assert_single_error(input: DeriveInput, expected: &str) {
    assert_eq!(errors(input), [expected]);
}

/// Asserts that some error of `input` contains `fragment`.
#[track_caller]
fn assert_error_contains(input: DeriveInput, fragment: &str) {
    let errors = errors(input);
    assert!(
        errors.iter().any(|e| e.contains(fragment)),
        "no error contains {fragment:?}; errors: {errors:#?}"
    );
}

/// The expansion of a valid `input`, as a string with normalized spacing.
fn expansion(input: DeriveInput) -> String {
    let tokens = try_derive(&input).unwrap_or_else(|e| panic!("unexpected error: {e}"));
    syn::parse2::<syn::File>(tokens.clone()).expect("the expansion parses as items");
    tokens.to_string()
}

#[test]
fn valid_model_expands_to_parseable_items() {
    let out = expansion(parse_quote! {
        #[orm(table = "users", unique(name, age), index(age))]
        struct User {
            #[orm(primary_key, auto_increment)] id: i64,
            #[orm(unique, max_length = 200)] email: String,
            name: Option<String>,
            #[orm(column = "years", default = 0)] age: i32,
            #[orm(skip)] cache: Vec<u8>,
        }
    });
    for fragment in [
        "pub const ID : :: polyorm :: __private :: Column < User , i64 , User_ID >",
        "pub const AGE : :: polyorm :: __private :: Column < User , i32 , User_AGE > = :: polyorm :: __private :: Column :: new (\"years\")",
        "pub struct User_AGE ;",
        // Grouping by the key or by the column itself makes a column valid; by another
        // column, only if the rest of the keys do.
        "impl < R > :: polyorm :: __private :: GroupedIn < (User_ID , R) > for User_AGE { }",
        "impl < R > :: polyorm :: __private :: GroupedIn < (User_AGE , R) > for User_AGE { }",
        "impl < R > :: polyorm :: __private :: GroupedIn < (User_EMAIL , R) > for User_AGE where User_AGE : :: polyorm :: __private :: GroupedIn < R > { }",
        "type PrimaryKey = i64 ;",
        "name : \"uq_users_email\"",
        "name : \"uq_users_name_years\"",
        "name : \"idx_users_years\"",
        "primary_key : & [0]",
        "default : :: core :: option :: Option :: Some (:: polyorm :: __private :: DefaultValue :: Int (0i64))",
        "max_length : :: core :: option :: Option :: Some (200u32)",
        "cache : :: core :: default :: Default :: default ()",
        ":: polyorm :: __private :: assert_default :: < i32 , _ > (0)",
    ] {
        assert!(out.contains(fragment), "missing {fragment:?} in:\n{out}");
    }
    assert!(
        !out.contains("CACHE"),
        "skipped fields get no column constant"
    );
}

#[test]
fn composite_key_is_a_tuple_in_key_order() {
    let out = expansion(parse_quote! {
        #[orm(primary_key(b, a), crate = "polyorm_core")]
        struct Pair { a: i32, b: String }
    });
    assert!(
        out.contains("type PrimaryKey = (String , i32 ,) ;"),
        "{out}"
    );
    assert!(out.contains("primary_key : & [1 , 0]"), "{out}");
    assert!(
        out.contains("polyorm_core :: __private :: Model for Pair"),
        "{out}"
    );
    assert!(
        !out.contains(":: polyorm ::"),
        "`crate = ...` replaces every path: {out}"
    );
}

#[test]
fn table_name_defaults_to_snake_case_struct_name() {
    let out = expansion(parse_quote! {
        struct UserAccount { #[orm(primary_key)] id: i64 }
    });
    assert!(out.contains("table : \"user_account\""), "{out}");
}

#[test]
fn unknown_attribute_is_reported_by_name() {
    assert_single_error(
        parse_quote! { struct A { #[orm(primary_key, colum = "x")] id: i64 } },
        "unknown orm attribute `colum`",
    );
    assert_single_error(
        parse_quote! { #[orm(tabel = "x")] struct A { #[orm(primary_key)] id: i64 } },
        "unknown orm attribute `tabel`",
    );
}

#[test]
fn duplicate_attribute_is_reported() {
    assert_single_error(
        parse_quote! { struct A { #[orm(primary_key)] #[orm(primary_key)] id: i64 } },
        "duplicate orm attribute `primary_key`",
    );
    assert_single_error(
        parse_quote! {
            #[orm(table = "a", table = "b")]
            struct A { #[orm(primary_key)] id: i64 }
        },
        "duplicate orm attribute `table`",
    );
}

#[test]
fn two_primary_key_fields_are_rejected() {
    assert_single_error(
        parse_quote! { struct A { #[orm(primary_key)] a: i64, #[orm(primary_key)] b: i64 } },
        "model has two primary keys; use `#[orm(primary_key(a, b))]` on the struct for a composite key",
    );
}

#[test]
fn missing_primary_key_names_the_model() {
    assert_single_error(
        parse_quote! { struct Note { id: i64 } },
        "model `Note` has no primary key; mark a field `#[orm(primary_key)]` or add \
         `#[orm(primary_key(a, b))]` to the struct",
    );
}

#[test]
fn primary_key_on_struct_and_field_is_rejected() {
    assert_error_contains(
        parse_quote! { #[orm(primary_key(a))] struct A { #[orm(primary_key)] a: i64 } },
        "already declared on the struct",
    );
}

#[test]
fn only_structs_with_named_fields_are_accepted() {
    const MSG: &str = "#[derive(Model)] needs a struct with named fields";
    assert_single_error(parse_quote! { struct A(i64); }, MSG);
    assert_single_error(parse_quote! { struct A; }, MSG);
    assert_single_error(parse_quote! { enum A { B } }, MSG);
    assert_single_error(parse_quote! { union A { b: i64 } }, MSG);
}

#[test]
fn generic_structs_are_rejected() {
    const MSG: &str = "#[derive(Model)] does not support generic structs";
    assert_single_error(
        parse_quote! { struct A<T> { #[orm(primary_key)] id: T } },
        MSG,
    );
    assert_single_error(
        parse_quote! { struct A<'a> { #[orm(primary_key)] id: &'a str } },
        MSG,
    );
    assert_single_error(
        parse_quote! { struct A<const N: usize> { #[orm(primary_key)] id: i64 } },
        MSG,
    );
}

#[test]
fn duplicate_column_names_after_rename_are_rejected() {
    assert_single_error(
        parse_quote! {
            struct A { #[orm(primary_key)] id: i64, #[orm(column = "id")] other: i64 }
        },
        "duplicate column name `id`",
    );
}

#[test]
fn a_model_has_one_shard_key_set_by_the_application() {
    assert_error_contains(
        parse_quote! {
            struct A { #[orm(primary_key)] id: i64, #[orm(shard_key)] a: i64, #[orm(shard_key)] b: i64 }
        },
        "a model has one shard key",
    );
    assert_error_contains(
        parse_quote! { struct A { #[orm(primary_key, auto_increment, shard_key)] id: i64 } },
        "the shard key `id` cannot be `auto_increment`",
    );
}

#[test]
fn auto_increment_needs_the_single_primary_key() {
    assert_error_contains(
        parse_quote! { struct A { #[orm(primary_key)] id: i64, #[orm(auto_increment)] n: i64 } },
        "`auto_increment` is only allowed on the model's single primary-key field, and `n` is not \
         the primary key",
    );
    assert_error_contains(
        parse_quote! {
            #[orm(primary_key(a, b))]
            struct A { #[orm(auto_increment)] a: i64, b: i64 }
        },
        "`a` is part of a composite primary key",
    );
    // A one-field struct-level key is the single key.
    assert_eq!(
        errors(parse_quote! { #[orm(primary_key(a))] struct A { #[orm(auto_increment)] a: i64 } }),
        Vec::<String>::new()
    );
}

#[test]
fn skip_cannot_be_combined_with_other_options() {
    assert_single_error(
        parse_quote! {
            struct A { #[orm(primary_key)] id: i64, #[orm(skip, column = "c")] c: Vec<u8> }
        },
        "`column` cannot be combined with `skip`: a skipped field has no column; remove one of them",
    );
    assert_eq!(
        errors(parse_quote! {
            struct A { #[orm(primary_key)] id: i64, #[orm(skip, unique, index)] c: String }
        })
        .len(),
        2,
        "one error per option combined with skip"
    );
}

#[test]
fn struct_lists_must_name_stored_fields() {
    assert_single_error(
        parse_quote! { #[orm(primary_key(id, nope))] struct A { id: i64 } },
        "`primary_key(...)` names `nope`, but `A` has no such field",
    );
    assert_single_error(
        parse_quote! {
            #[orm(index(c))]
            struct A { #[orm(primary_key)] id: i64, #[orm(skip)] c: i64 }
        },
        "`index(...)` names `c`, which is `#[orm(skip)]` and has no column",
    );
    assert_single_error(
        parse_quote! { #[orm(unique())] struct A { #[orm(primary_key)] id: i64 } },
        "`unique(...)` needs at least one field: `unique(a, b)`",
    );
    assert_single_error(
        parse_quote! { #[orm(unique(id, id))] struct A { #[orm(primary_key)] id: i64 } },
        "`id` is listed twice in `unique(...)`",
    );
}

#[test]
fn values_of_the_wrong_form_are_rejected() {
    let cases: [(DeriveInput, &str); 8] = [
        (
            parse_quote! { #[orm(table = 5)] struct A { #[orm(primary_key)] id: i64 } },
            "expected a string literal: `table = \"...\"`",
        ),
        (
            parse_quote! { struct A { #[orm(primary_key)] id: i64, #[orm(collation = "")] s: String } },
            "`collation` cannot be empty",
        ),
        (
            parse_quote! { struct A { #[orm(primary_key)] id: i64, #[orm(collation = "a b")] s: String } },
            "`collation` must name a collation (letters, digits, `_`, `-`, `.`, `@`), e.g. `collation = \"utf8mb4_unicode_ci\"`",
        ),
        (
            parse_quote! { struct A { #[orm(primary_key)] id: i64, #[orm(max_length = "a")] s: String } },
            "`max_length` must be a positive integer, e.g. `max_length = 255`",
        ),
        (
            parse_quote! { struct A { #[orm(primary_key)] id: i64, #[orm(max_length = 0)] s: String } },
            "`max_length` must be at least 1",
        ),
        (
            parse_quote! { struct A { #[orm(primary_key)] id: i64, #[orm(default = some_fn())] n: i64 } },
            "`default` must be a literal (a bool, an integer, a float or a string, e.g. `default = 0`), `now()` or `uuid()`; for a value your code computes, write `default_fn = path`",
        ),
        (
            parse_quote! { struct A { #[orm(primary_key = true)] id: i64 } },
            "`primary_key` takes no value; write `primary_key`",
        ),
        (
            parse_quote! { #[orm(crate = "not a path")] struct A { #[orm(primary_key)] id: i64 } },
            "`crate` must be a path, e.g. `crate = \"polyorm_core\"`",
        ),
    ];
    for (input, expected) in cases {
        assert_single_error(input, expected);
    }
}

#[test]
fn negative_and_float_defaults_are_accepted() {
    let out = expansion(parse_quote! {
        struct A {
            #[orm(primary_key)] id: i64,
            #[orm(default = -5)] a: i64,
            #[orm(default = -1.5)] b: f64,
            #[orm(default = true)] c: bool,
            #[orm(default = "x")] d: String,
        }
    });
    for fragment in [
        "Int (- 5i64)",
        "Float (- 1.5f64)",
        "Bool (true)",
        "Text (\"x\")",
    ] {
        assert!(out.contains(fragment), "missing {fragment:?} in:\n{out}");
    }
}

#[test]
fn options_in_the_wrong_place_say_where_they_belong() {
    assert_single_error(
        parse_quote! { struct A { #[orm(primary_key, table = "t")] id: i64 } },
        "`table` is a struct option; put it on the struct",
    );
    assert_single_error(
        parse_quote! { #[orm(skip)] struct A { #[orm(primary_key)] id: i64 } },
        "`skip` is a field option; put it on a field",
    );
    assert_error_contains(
        parse_quote! { #[orm(unique)] struct A { #[orm(primary_key)] id: i64 } },
        "on the struct, `unique` needs a list of fields",
    );
    assert_error_contains(
        parse_quote! { struct A { #[orm(primary_key, index(id))] id: i64 } },
        "`index(...)` with a list of fields is a struct option",
    );
}

#[test]
fn duplicate_index_names_are_rejected() {
    assert_single_error(
        parse_quote! {
            #[orm(unique(email))]
            struct A { #[orm(primary_key)] id: i64, #[orm(unique)] email: String }
        },
        "duplicate index `uq_a_email`: these columns are already indexed the same way",
    );
}

#[test]
fn column_constant_clashes_are_rejected() {
    assert_single_error(
        parse_quote! { struct A { #[orm(primary_key)] user_id: i64, userId: i64 } },
        "two fields produce the column constant `USER_ID`; rename one of them",
    );
}

#[test]
fn every_error_is_reported_at_once() {
    let errors = errors(parse_quote! {
        #[orm(table = 5, bogus)]
        struct A {
            #[orm(primary_key)] a: i64,
            #[orm(primary_key, colum = "x")] b: i64,
            #[orm(auto_increment)] c: i64,
            #[orm(column = "a")] d: i64,
            #[orm(skip, unique)] e: i64,
        }
    });
    let expected = [
        "expected a string literal",
        "unknown orm attribute `bogus`",
        "unknown orm attribute `colum`",
        "`unique` cannot be combined with `skip`",
        "model has two primary keys",
        "`auto_increment` is only allowed",
        "duplicate column name `a`",
    ];
    assert_eq!(errors.len(), expected.len(), "{errors:#?}");
    for (error, expected) in errors.iter().zip(expected) {
        assert!(
            error.contains(expected),
            "{error:?} should contain {expected:?}"
        );
    }
}

#[test]
fn invalid_models_still_get_a_fallback_impl_and_constants() {
    let input: DeriveInput = parse_quote! {
        struct A { #[orm(primary_key, bogus)] id: i64, name: String }
    };
    let out = crate::expand::derive(&input).to_string();
    assert!(out.contains("compile_error"), "{out}");
    // The declared key type and key column, so that a child's `belongs_to = A` reports
    // nothing of its own.
    assert!(out.contains("type PrimaryKey = i64 ;"), "{out}");
    assert!(out.contains("primary_key : & [0]"), "{out}");
    assert!(out.contains("pub const NAME"), "{out}");
}

#[test]
fn generated_defaults_and_maintained_columns_expand_to_their_generators() {
    let out = expansion(parse_quote! {
        struct Note {
            #[orm(primary_key, default = uuid())] id: Uuid,
            #[orm(default = now())] at: DateTime<Utc>,
            #[orm(default_fn = token)] token: String,
            #[orm(created_at)] created: DateTime<Utc>,
            #[orm(updated_at)] updated: DateTime<Utc>,
            #[orm(version)] version: i32,
        }
    });
    for expected in [
        ":: polyorm :: __private :: DefaultValue :: Uuid",
        ":: polyorm :: __private :: DefaultValue :: Now",
        ":: polyorm :: __private :: uuid_default :: < Uuid > ()",
        ":: polyorm :: __private :: now_default :: < DateTime < Utc > > ()",
        ":: polyorm :: __private :: fn_default :: < String > (token)",
        ":: polyorm :: __private :: timestamp_default :: < DateTime < Utc > > ()",
        "fn generated_value",
        "fn touch",
        "const VERSION_COLUMN",
        ":: polyorm :: __private :: assert_version_field :: < i32 > ()",
    ] {
        assert!(out.contains(expected), "missing `{expected}` in:\n{out}");
    }
}

#[test]
fn a_join_model_points_at_each_side_once_and_at_the_other_side_both_ways() {
    let out = expansion(parse_quote! {
        struct PostTag {
            #[orm(primary_key)] id: i64,
            #[orm(belongs_to = Post)] post_id: i64,
            #[orm(belongs_to = Tag)] tag_id: i64,
        }
    });
    for fragment in [
        "impl :: polyorm :: __private :: BelongsToModel < Post > for PostTag { const FOREIGN_KEY : & 'static :: core :: primitive :: str = \"post_id\" ; }",
        "impl :: polyorm :: __private :: BelongsToModel < Tag > for PostTag { const FOREIGN_KEY : & 'static :: core :: primitive :: str = \"tag_id\" ; }",
        "impl :: polyorm :: __private :: JoinModel < Post > for PostTag { type Other = Tag ; const TO_SELF : & 'static :: core :: primitive :: str = \"post_id\" ; const TO_OTHER : & 'static :: core :: primitive :: str = \"tag_id\" ; }",
        "impl :: polyorm :: __private :: JoinModel < Tag > for PostTag { type Other = Post ; const TO_SELF : & 'static :: core :: primitive :: str = \"tag_id\" ; const TO_OTHER : & 'static :: core :: primitive :: str = \"post_id\" ; }",
    ] {
        assert!(out.contains(fragment), "missing {fragment:?} in {out}");
    }
}

#[test]
fn two_keys_to_one_parent_make_neither_a_belongs_to_model_nor_a_join_model() {
    // A follow graph: two keys to `User`, so `through(Follow)` cannot pick one (the relation
    // is built with `HasManyThrough::via`); the key to `Team` still identifies that side.
    let out = expansion(parse_quote! {
        struct Follow {
            #[orm(primary_key)] id: i64,
            #[orm(belongs_to = User)] follower_id: i64,
            #[orm(belongs_to = Self)] parent_id: Option<i64>,
            #[orm(belongs_to = User)] followed_id: i64,
            #[orm(belongs_to = Team)] team_id: i64,
        }
    });
    assert!(!out.contains("BelongsToModel < User >"), "{out}");
    assert!(!out.contains("JoinModel"), "{out}");
    assert!(out.contains("BelongsToModel < Team > for Follow"), "{out}");
    assert!(
        out.contains("BelongsToModel < Follow > for Follow"),
        "`Self` is the struct: {out}"
    );
}

#[test]
fn through_is_refused_in_has_one_and_malformed_lists() {
    assert_single_error(
        parse_quote! {
            #[orm(has_one(tag = through(PostTag)))]
            struct Post { #[orm(primary_key)] id: i64 }
        },
        "`has_one` cannot go through a join model; a many-to-many relation is `has_many(tags = through(PostTag))`",
    );
    assert_error_contains(
        parse_quote! {
            #[orm(has_many(tags = through(PostTag, Tag, Topic)))]
            struct Post { #[orm(primary_key)] id: i64 }
        },
        "`through(...)` names the join model",
    );
}
