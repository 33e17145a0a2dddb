//! The ObjectId model of the SQL and BSON snapshot tests (feature `bson`), one definition for
//! both: an ObjectId key (`_id` on MongoDB), an indexed ObjectId column and a nullable one.

use polyorm::bson::oid::ObjectId;
use polyorm::prelude::*;

#[derive(Model, Debug, Clone)]
#[orm(table = "docs", index(owner))]
pub struct Doc {
    #[orm(primary_key)]
    pub id: ObjectId,
    pub owner: ObjectId,
    pub parent: Option<ObjectId>,
}

/// An ObjectId from its 12 bytes written as hex.
pub fn oid(hex: &str) -> ObjectId {
    ObjectId::parse_str(hex).expect("24 hex digits")
}
