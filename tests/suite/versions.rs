//! `#[orm(version)]`: optimistic locking. An update of a row read before another writer
//! updated it is `Error::Conflict` and changes nothing; each update increments the version;
//! `update_many` increments it in every row it changes.

use polyorm::Error;
use polyorm::prelude::*;

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "ver_accounts")]
pub struct Account {
    #[orm(primary_key)]
    id: i64,
    balance: i64,
    #[orm(version)]
    version: i32,
}

crate::suite! {
    async fn a_stale_update_is_a_conflict_and_each_update_increments_the_version(db) {
        db.create_table::<Account>().await?;
        Account { id: 1, balance: 100, version: 0 }.insert(db).await?;
        Account { id: 2, balance: 5, version: 0 }.insert(db).await?;

        // Two writers read the same row.
        let mut first = Account::find(db, 1).await?.expect("stored");
        let mut second = first.clone();
        first.balance = 150;
        first.update(db).await?;
        assert_eq!(Account::find(db, 1).await?, Some(Account { id: 1, balance: 150, version: 1 }));

        second.balance = 0;
        match second.update(db).await {
            Err(Error::Conflict { table: "ver_accounts", expected: 0 }) => {}
            other => panic!("expected a Conflict, got {other:?}"),
        }
        assert_eq!(Account::find(db, 1).await?.map(|a| a.balance), Some(150), "the stale write changed nothing");

        // Re-read and retry: it goes through.
        let mut again = Account::find(db, 1).await?.expect("stored");
        again.balance = 0;
        again.update(db).await?;
        assert_eq!(Account::find(db, 1).await?, Some(Account { id: 1, balance: 0, version: 2 }));

        // A missing row is still NotFound.
        let gone = Account { id: 9, balance: 0, version: 0 };
        assert!(matches!(gone.update(db).await, Err(Error::NotFound { .. })));

        // update_many increments every changed row's version.
        Account::update_many().set(Account::BALANCE, 7).execute(db).await?;
        let rows = Account::query().order_by(Account::ID.asc()).all(db).await?;
        assert_eq!(rows, vec![
            Account { id: 1, balance: 7, version: 3 },
            Account { id: 2, balance: 7, version: 1 },
        ]);
        Ok(())
    }
}
