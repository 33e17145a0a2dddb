//! Smoke test of `#[derive(Model)]` against the runtime: the generated schema and column
//! constants, and an insert/query roundtrip on in-memory SQLite.

use polyorm::prelude::*;
use polyorm::{ColumnType, DefaultValue, IndexSchema};

/// A model with an auto-increment key, a nullable field, a default, `max_length`, a skipped
/// field and a renamed column.
#[derive(Debug, Clone, PartialEq, Model)]
#[orm(table = "users", unique(name, age), index(age))]
struct User {
    #[orm(primary_key, auto_increment)]
    id: i64,
    #[orm(unique, max_length = 200)]
    email: String,
    name: Option<String>,
    #[orm(column = "years", default = 0)]
    age: i32,
    #[orm(skip)]
    cache: Vec<u8>,
}

/// A model with a composite key, struct-level unique/index lists and the default table name.
#[derive(Debug, Clone, PartialEq, Model)]
#[orm(primary_key(user_id, group_id), unique(group_id, rank), index(weight))]
#[orm(index(user_id, rank))]
struct GroupMember {
    user_id: i64,
    group_id: i32,
    #[orm(default = -1)]
    rank: i16,
    #[orm(default = 1.5)]
    weight: f64,
    #[orm(default = "member", index)]
    role: String,
    #[orm(default = true)]
    active: bool,
    note: Option<Vec<u8>>,
}

#[test]
fn user_schema_describes_columns_key_and_indexes() {
    let schema = User::schema();
    assert_eq!(schema.name, "User");
    assert_eq!(schema.table, "users");

    let columns: Vec<_> = schema.columns.iter().map(|c| (c.name, c.field)).collect();
    assert_eq!(
        columns,
        [
            ("id", "id"),
            ("email", "email"),
            ("name", "name"),
            ("years", "age")
        ]
    );

    let id = &schema.columns[0];
    assert_eq!(id.ty, ColumnType::BigInt);
    assert!(id.primary_key && id.auto_increment && !id.nullable);

    let email = schema.column("email").unwrap();
    assert_eq!(email.ty, ColumnType::Text);
    assert_eq!(email.max_length, Some(200));
    assert!(!email.nullable && !email.primary_key && !email.auto_increment);

    let name = schema.column("name").unwrap();
    assert_eq!(name.ty, ColumnType::Text);
    assert!(name.nullable);
    assert_eq!(name.max_length, None);

    let years = schema.column("years").unwrap();
    assert_eq!(years.ty, ColumnType::Int);
    assert_eq!(years.default, Some(DefaultValue::Int(0)));

    assert_eq!(schema.primary_key, &[0]);
    assert_eq!(
        schema.indexes,
        &[
            IndexSchema::plain("uq_users_email", &["email"], true),
            IndexSchema::plain("uq_users_name_years", &["name", "years"], true),
            IndexSchema::plain("idx_users_years", &["years"], false),
        ]
    );
}

#[test]
fn column_constants_carry_column_names() {
    assert_eq!(User::ID.name(), "id");
    assert_eq!(User::EMAIL.name(), "email");
    assert_eq!(User::NAME.name(), "name");
    assert_eq!(User::AGE.name(), "years");
    assert_eq!(GroupMember::USER_ID.name(), "user_id");
}

#[test]
fn composite_key_schema_uses_key_order_and_default_table_name() {
    let schema = GroupMember::schema();
    assert_eq!(schema.table, "group_member");
    assert_eq!(schema.primary_key, &[0, 1]);
    let key: Vec<_> = schema.primary_key_columns().map(|c| c.name).collect();
    assert_eq!(key, ["user_id", "group_id"]);
    assert!(schema.columns.iter().all(|c| !c.auto_increment));

    let defaults: Vec<_> = schema.columns.iter().map(|c| c.default).collect();
    assert_eq!(
        defaults,
        [
            None,
            None,
            Some(DefaultValue::Int(-1)),
            Some(DefaultValue::Float(1.5)),
            Some(DefaultValue::Text("member")),
            Some(DefaultValue::Bool(true)),
            None,
        ]
    );
    let types: Vec<_> = schema.columns.iter().map(|c| (c.ty, c.nullable)).collect();
    assert_eq!(
        types,
        [
            (ColumnType::BigInt, false),
            (ColumnType::Int, false),
            (ColumnType::SmallInt, false),
            (ColumnType::Double, false),
            (ColumnType::Text, false),
            (ColumnType::Bool, false),
            (ColumnType::Bytes, true),
        ]
    );
    let names: Vec<_> = schema
        .indexes
        .iter()
        .map(|ix| (ix.name, ix.unique))
        .collect();
    assert_eq!(
        names,
        [
            ("uq_group_member_group_id_rank", true),
            ("idx_group_member_role", false),
            ("idx_group_member_weight", false),
            ("idx_group_member_user_id_rank", false),
        ]
    );
}

#[test]
fn values_follow_insert_and_update_column_order() {
    let user = User {
        id: 7,
        email: "a@example.com".into(),
        name: None,
        age: 30,
        cache: vec![1],
    };
    let insert = user.insert_values();
    assert_eq!(
        insert.len(),
        3,
        "auto-increment id is not inserted: {insert:?}"
    );
    assert_eq!(user.update_values().len(), 3);
    assert_eq!(user.primary_key(), 7);
    assert_eq!(User::primary_key_values(7), [polyorm::Value::BigInt(7)]);

    let member = GroupMember {
        user_id: 1,
        group_id: 2,
        rank: 3,
        weight: 0.5,
        role: "owner".into(),
        active: true,
        note: None,
    };
    assert_eq!(member.insert_values().len(), 7);
    assert_eq!(member.update_values().len(), 5);
    assert_eq!(member.primary_key(), (1, 2));
    assert_eq!(
        GroupMember::primary_key_values((1, 2)),
        [polyorm::Value::BigInt(1), polyorm::Value::Int(2)]
    );
}

#[tokio::test]
async fn insert_and_query_roundtrip_on_sqlite() -> polyorm::Result<()> {
    let db = Db::connect("sqlite::memory:").await?;
    db.create_table::<User>().await?;
    db.create_table::<GroupMember>().await?;

    let alice = User {
        id: 0,
        email: "alice@example.com".into(),
        name: Some("Alice".into()),
        age: 31,
        cache: vec![9, 9],
    };
    let stored = alice.insert(&db).await?;
    assert!(stored.id > 0);
    assert_eq!(stored.email, "alice@example.com");
    assert_eq!(stored.name.as_deref(), Some("Alice"));
    assert_eq!(stored.age, 31);
    assert!(
        stored.cache.is_empty(),
        "skipped fields come back as Default"
    );

    let bob = User {
        id: 0,
        email: "bob@example.com".into(),
        name: None,
        age: 20,
        cache: vec![],
    };
    let bob = bob.insert(&db).await?;
    assert_ne!(bob.id, stored.id);

    let found = User::find(&db, stored.id).await?.expect("alice is stored");
    assert_eq!(found, stored);

    let adults = User::query().filter(User::AGE.ge(30)).all(&db).await?;
    assert_eq!(adults, std::slice::from_ref(&stored));
    let unnamed = User::query().filter(User::NAME.is_null()).all(&db).await?;
    assert_eq!(unnamed, std::slice::from_ref(&bob));

    let mut renamed = found.clone();
    renamed.name = Some("Alicia".into());
    renamed.update(&db).await?;
    let reloaded = User::find(&db, renamed.id).await?.unwrap();
    assert_eq!(reloaded.name.as_deref(), Some("Alicia"));

    let duplicate = User {
        id: 0,
        email: "bob@example.com".into(),
        name: None,
        age: 1,
        cache: vec![],
    };
    assert!(duplicate.insert(&db).await.is_err(), "email is unique");

    let member = GroupMember {
        user_id: stored.id,
        group_id: 3,
        rank: 1,
        weight: 2.25,
        role: "owner".into(),
        active: true,
        note: Some(vec![1, 2, 3]),
    };
    assert_eq!(member.insert(&db).await?, member);
    let found = GroupMember::find(&db, (stored.id, 3)).await?;
    assert_eq!(found.as_ref(), Some(&member));
    assert!(GroupMember::find(&db, (stored.id, 4)).await?.is_none());
    assert!(member.delete(&db).await?);
    assert_eq!(GroupMember::query().count(&db).await?, 0);

    assert!(bob.delete(&db).await?);
    assert_eq!(User::query().count(&db).await?, 1);
    Ok(())
}

/// Generated code names everything by absolute path, so a module that shadows prelude names
/// (and depends on `polyorm-core` directly through `crate = "..."`) still compiles.
mod shadowed_prelude {
    #![allow(dead_code, non_camel_case_types, non_upper_case_globals)]

    struct Result;
    struct Vec;
    struct Option;
    struct usize;
    struct Default;
    const row: u8 = 0;
    const offset: u8 = 0;
    const key: u8 = 0;
    mod core {}
    mod std {}

    #[derive(polyorm::Model)]
    #[orm(crate = "polyorm_core", primary_key(r#type, label))]
    pub struct Keyword {
        pub r#type: i64,
        pub label: ::std::string::String,
        #[orm(skip)]
        pub scratch: ::std::vec::Vec<u8>,
    }
}

#[test]
fn raw_identifiers_and_shadowed_names_are_handled() {
    use shadowed_prelude::Keyword;
    assert_eq!(Keyword::TYPE.name(), "type");
    assert_eq!(Keyword::LABEL.name(), "label");
    let schema = Keyword::schema();
    assert_eq!(schema.table, "keyword");
    assert_eq!(schema.columns[0].field, "type");
    assert_eq!(Keyword::primary_key_values((1, "a".into())).len(), 2);
}
