//! Many-to-many models shared by the SQL and BSON snapshot tests: articles and labels through
//! a join model; labels and join rows are soft-deleted.

// Shared by test binaries that do not all use every item.
#![allow(dead_code)]

use polyorm::prelude::*;

#[derive(Model, Debug, Clone)]
#[orm(table = "articles", has_many(labels = through(ArticleLabel)))]
pub struct Article {
    #[orm(primary_key)]
    pub id: i64,
    pub title: String,
}

#[derive(Model, Debug, Clone)]
#[orm(table = "labels", has_many(articles = through(ArticleLabel, Article)))]
pub struct Label {
    #[orm(primary_key)]
    pub id: i64,
    pub name: String,
    #[orm(soft_delete)]
    pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Model, Debug, Clone)]
#[orm(table = "article_labels")]
pub struct ArticleLabel {
    #[orm(primary_key)]
    pub id: i64,
    #[orm(belongs_to = Article)]
    pub article_id: i64,
    #[orm(belongs_to = Label)]
    pub label_id: i64,
    #[orm(soft_delete)]
    pub deleted_at: Option<chrono::DateTime<chrono::Utc>>,
}
