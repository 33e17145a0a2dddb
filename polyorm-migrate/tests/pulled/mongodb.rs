//! Models pulled from samples of the MongoDB database `orm_infer` (an inference: MongoDB keeps no schema) by `orm pull`.
use polyorm::prelude::*;
/// A row of `people`.
///
/// Note: Inferred from 4 sampled documents of the MongoDB collection `people`: MongoDB keeps no schema, so review the types.
#[derive(Model, Debug, Clone, PartialEq)]
pub struct People {
    /// `id`.
    #[orm(primary_key)]
    pub id: polyorm::bson::oid::ObjectId,
    /// `name`.
    pub name: String,
    /// `age`.
    /// Note: 1 of 4 sampled documents hold another type (String ×1): they will not decode.
    pub age: Option<i32>,
    /// `tags`.
    pub tags: Option<serde_json::Value>,
    /// `active`.
    pub active: bool,
    /// `score`.
    pub score: Option<f64>,
}
