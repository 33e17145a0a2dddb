//! The diesel_bench schema, described once per library: `users(id, name, hair_color NULL)`,
//! `posts(id, user_id, title, body NULL)`, `comments(id, post_id, text)`, and `new_users` (the
//! same shape as `users`) as the insert workload's target, so inserts never disturb the reads.
//!
//! The ORM creates the tables; the other libraries only read and write them.

/// Plain rows every library's result is reduced to before the cross-check.
pub type UserRow = (i64, String, Option<String>);
/// `(id, user_id, title, body)`.
pub type PostRow = (i64, i64, String, Option<String>);
/// `(id, post_id, text)`.
pub type CommentRow = (i64, i64, String);
/// A user with their posts, each with its comments.
pub type Tree = Vec<(UserRow, Vec<(PostRow, Vec<CommentRow>)>)>;

/// This ORM's models.
pub mod ours {
    use polyorm::prelude::*;

    /// A user.
    #[derive(Model, Debug, Clone)]
    #[orm(table = "bench_users", has_many(posts = Post::USER_ID))]
    pub struct User {
        #[orm(primary_key, auto_increment)]
        pub id: i64,
        pub name: String,
        pub hair_color: Option<String>,
    }

    /// The insert workload's target.
    #[derive(Model, Debug, Clone)]
    #[orm(table = "bench_new_users")]
    pub struct NewUser {
        #[orm(primary_key, auto_increment)]
        pub id: i64,
        pub name: String,
        pub hair_color: Option<String>,
    }

    /// A post by a user.
    #[derive(Model, Debug, Clone)]
    #[orm(table = "bench_posts", has_many(comments = Comment::POST_ID))]
    pub struct Post {
        #[orm(primary_key, auto_increment)]
        pub id: i64,
        #[orm(belongs_to = User)]
        pub user_id: i64,
        pub title: String,
        pub body: Option<String>,
    }

    /// A comment on a post.
    #[derive(Model, Debug, Clone)]
    #[orm(table = "bench_comments")]
    pub struct Comment {
        #[orm(primary_key, auto_increment)]
        pub id: i64,
        #[orm(belongs_to = Post)]
        pub post_id: i64,
        pub text: String,
    }

    impl User {
        pub fn row(&self) -> super::UserRow {
            (self.id, self.name.clone(), self.hair_color.clone())
        }
    }

    impl Post {
        pub fn row(&self) -> super::PostRow {
            (self.id, self.user_id, self.title.clone(), self.body.clone())
        }
    }

    impl Comment {
        pub fn row(&self) -> super::CommentRow {
            (self.id, self.post_id, self.text.clone())
        }
    }
}

/// SeaORM 2.x entities (the classic `DeriveEntityModel` form).
pub mod sea {
    /// `bench_users`.
    pub mod user {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "bench_users")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i64,
            pub name: String,
            pub hair_color: Option<String>,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {
            #[sea_orm(has_many = "super::post::Entity")]
            Post,
        }

        impl Related<super::post::Entity> for Entity {
            fn to() -> RelationDef {
                Relation::Post.def()
            }
        }

        impl ActiveModelBehavior for ActiveModel {}
    }

    /// `bench_new_users`.
    pub mod new_user {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "bench_new_users")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i64,
            pub name: String,
            pub hair_color: Option<String>,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    /// `bench_posts`.
    pub mod post {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "bench_posts")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i64,
            pub user_id: i64,
            pub title: String,
            pub body: Option<String>,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {
            #[sea_orm(
                belongs_to = "super::user::Entity",
                from = "Column::UserId",
                to = "super::user::Column::Id"
            )]
            User,
            #[sea_orm(has_many = "super::comment::Entity")]
            Comment,
        }

        impl Related<super::user::Entity> for Entity {
            fn to() -> RelationDef {
                Relation::User.def()
            }
        }

        impl Related<super::comment::Entity> for Entity {
            fn to() -> RelationDef {
                Relation::Comment.def()
            }
        }

        impl ActiveModelBehavior for ActiveModel {}
    }

    /// `bench_comments`.
    pub mod comment {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "bench_comments")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i64,
            pub post_id: i64,
            pub text: String,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {
            #[sea_orm(
                belongs_to = "super::post::Entity",
                from = "Column::PostId",
                to = "super::post::Column::Id"
            )]
            Post,
        }

        impl Related<super::post::Entity> for Entity {
            fn to() -> RelationDef {
                Relation::Post.def()
            }
        }

        impl ActiveModelBehavior for ActiveModel {}
    }
}

/// Diesel 2.x schema and structs.
pub mod dsl {
    use diesel::prelude::*;

    diesel::table! {
        bench_users (id) {
            id -> BigInt,
            name -> Text,
            hair_color -> Nullable<Text>,
        }
    }

    diesel::table! {
        bench_new_users (id) {
            id -> BigInt,
            name -> Text,
            hair_color -> Nullable<Text>,
        }
    }

    diesel::table! {
        bench_posts (id) {
            id -> BigInt,
            user_id -> BigInt,
            title -> Text,
            body -> Nullable<Text>,
        }
    }

    diesel::table! {
        bench_comments (id) {
            id -> BigInt,
            post_id -> BigInt,
            text -> Text,
        }
    }

    diesel::joinable!(bench_posts -> bench_users (user_id));
    diesel::joinable!(bench_comments -> bench_posts (post_id));
    diesel::allow_tables_to_appear_in_same_query!(bench_users, bench_posts, bench_comments);

    /// A user.
    #[derive(Queryable, Selectable, Identifiable, Debug, Clone)]
    #[diesel(table_name = bench_users)]
    pub struct User {
        pub id: i64,
        pub name: String,
        pub hair_color: Option<String>,
    }

    /// A row for `bench_new_users`; `None` is written as NULL, not DEFAULT.
    #[derive(Insertable, Debug, Clone)]
    #[diesel(table_name = bench_new_users, treat_none_as_default_value = false)]
    pub struct NewUser {
        pub name: String,
        pub hair_color: Option<String>,
    }

    /// A post.
    #[derive(Queryable, Selectable, Identifiable, Associations, Debug, Clone)]
    #[diesel(table_name = bench_posts, belongs_to(User, foreign_key = user_id))]
    pub struct Post {
        pub id: i64,
        pub user_id: i64,
        pub title: String,
        pub body: Option<String>,
    }

    /// A comment.
    #[derive(Queryable, Selectable, Identifiable, Associations, Debug, Clone)]
    #[diesel(table_name = bench_comments, belongs_to(Post, foreign_key = post_id))]
    pub struct Comment {
        pub id: i64,
        pub post_id: i64,
        pub text: String,
    }
}
