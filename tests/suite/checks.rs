//! User CHECK constraints (`#[orm(check = ...)]`): written by `create_table` on every SQL
//! dialect (and into the collection's `$jsonSchema` validator on MongoDB), a violation is the
//! same `CheckViolation` naming the constraint, and NULL passes a check as in SQL.

use polyorm::Error;
use polyorm::prelude::*;

/// A per-column range check, a per-column check on a nullable column, and a table check over
/// two columns.
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(
    table = "ck_memories",
    check(tier_or_pinned = Self::TIER.in_list(["hot", "warm", "cold"]).or(Self::PINNED.eq(true)))
)]
pub struct Memory {
    #[orm(primary_key)]
    id: i64,
    #[orm(check = Self::CONFIDENCE.ge(0.0).and(Self::CONFIDENCE.le(1.0)))]
    confidence: f64,
    #[orm(max_length = 10)]
    tier: String,
    pinned: bool,
    #[orm(check = Self::RETRIES.between(0, 5))]
    retries: Option<i32>,
}

fn memory(id: i64, confidence: f64, tier: &str, pinned: bool, retries: Option<i32>) -> Memory {
    Memory {
        id,
        confidence,
        tier: tier.to_owned(),
        pinned,
        retries,
    }
}

/// The constraint a refused write names (SQL reports it; MongoDB's validator names none).
fn refused_by(result: polyorm::Result<impl std::fmt::Debug>, db: &Db, constraint: &str) {
    match result {
        Err(Error::CheckViolation {
            constraint: named, ..
        }) => {
            if db.backend().dialect().is_some() {
                assert_eq!(named.as_deref(), Some(constraint));
            }
        }
        other => panic!("expected CheckViolation of {constraint}, got {other:?}"),
    }
}

crate::suite! {
    #[needs_real_mongodb("nx-27017 does not enforce $jsonSchema validators (never error 121)")]
    async fn user_checks_refuse_rows_that_break_them_and_pass_null(db) {
        db.create_table::<Memory>().await?;
        let kept = vec![
            memory(1, 0.0, "hot", false, Some(0)),
            memory(2, 1.0, "anything", true, None),
            memory(3, 0.5, "cold", false, Some(5)),
        ];
        for m in &kept {
            m.clone().insert(db).await?;
        }
        refused_by(memory(4, 1.5, "hot", false, None).insert(db).await, db, "ck_ck_memories_confidence");
        refused_by(memory(5, -0.1, "hot", false, None).insert(db).await, db, "ck_ck_memories_confidence");
        refused_by(memory(6, 0.5, "lukewarm", false, None).insert(db).await, db, "ck_ck_memories_tier_or_pinned");
        refused_by(memory(7, 0.5, "hot", false, Some(6)).insert(db).await, db, "ck_ck_memories_retries");
        refused_by(
            Memory::update_many().set(Memory::CONFIDENCE, 2.0).filter(Memory::ID.eq(1)).execute(db).await,
            db,
            "ck_ck_memories_confidence",
        );
        let read = Memory::query().order_by(Memory::ID.asc()).all(db).await?;
        assert_eq!(read, kept, "only the rows every check accepts, unchanged");
        Ok(())
    }
}
