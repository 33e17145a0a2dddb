//! The mock driver (`polyorm::mock`, feature `mock`): the code under test runs on a scripted
//! database, and the test asserts on what it was given and what it sent.

use polyorm::mock::{MockDatabase, MockResult, MockStatement};
use polyorm::prelude::*;
use polyorm::{Dialect, Error, ExecResult, Executor, Value};

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "accounts")]
struct Account {
    #[orm(primary_key, auto_increment)]
    id: i64,
    #[orm(max_length = 80)]
    owner: String,
    balance: i64,
    note: Option<String>,
}

fn account(id: i64, owner: &str, balance: i64) -> Account {
    Account {
        id,
        owner: owner.into(),
        balance,
        note: None,
    }
}

/// The code under test: moves `amount` between two accounts in one transaction.
async fn transfer(db: &Db, from: i64, to: i64, amount: i64) -> polyorm::Result<()> {
    db.transaction(|tx| async move {
        let source = Account::find(&tx, from)
            .await?
            .ok_or_else(|| Error::InvalidQuery(format!("no account {from}")))?;
        if source.balance < amount {
            return Err(Error::InvalidQuery("insufficient funds".into()));
        }
        for (id, delta) in [(from, -amount), (to, amount)] {
            Account::update_many()
                .set(Account::BALANCE, Account::BALANCE + delta)
                .filter(Account::ID.eq(id))
                .execute(&tx)
                .await?;
        }
        Ok(())
    })
    .await
}

#[tokio::test]
async fn scripted_rows_are_decoded_and_every_statement_is_recorded_with_its_values() {
    let mock = MockDatabase::new(Dialect::Postgres)
        .append(MockResult::models([
            account(1, "ada", 100),
            account(2, "bob", 5),
        ]))
        .append(MockResult::rows([[Value::BigInt(2)]]));
    let db = mock.db();
    let rows = Account::query()
        .filter(Account::BALANCE.gt(0))
        .order_by(Account::ID.asc())
        .all(&db)
        .await
        .unwrap();
    assert_eq!(rows, vec![account(1, "ada", 100), account(2, "bob", 5)]);
    assert_eq!(Account::query().count(&db).await.unwrap(), 2);
    assert_eq!(mock.remaining(), 0);
    let sent = mock.take_statements();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        sent[0],
        MockStatement {
            sql: Account::query()
                .filter(Account::BALANCE.gt(0))
                .order_by(Account::ID.asc())
                .compile(Dialect::Postgres)
                .unwrap()
                .sql,
            values: vec![Value::BigInt(0)],
        }
    );
    assert!(sent[0].sql.contains("\"balance\" > $1"), "{}", sent[0].sql);
    assert!(
        sent[1].sql.starts_with("SELECT COUNT(*)"),
        "{}",
        sent[1].sql
    );
    assert!(mock.statements().is_empty(), "taken");
}

#[tokio::test]
async fn a_transaction_is_recorded_from_begin_to_commit_and_an_error_rolls_it_back() {
    let mock = MockDatabase::new(Dialect::MySql)
        .append(MockResult::models([account(1, "ada", 100)]))
        .append(MockResult::exec(ExecResult {
            rows_affected: 1,
            last_insert_id: None,
        }))
        .append(MockResult::exec(ExecResult {
            rows_affected: 1,
            last_insert_id: None,
        }));
    transfer(&mock.db(), 1, 2, 30).await.unwrap();
    let sql: Vec<String> = mock.take_statements().into_iter().map(|s| s.sql).collect();
    assert_eq!(sql.len(), 5, "{sql:#?}");
    assert_eq!(sql[0], "START TRANSACTION");
    assert!(sql[1].starts_with("SELECT "), "{sql:#?}");
    assert!(
        sql[2].starts_with("UPDATE `accounts` SET `balance` = `balance` + ?"),
        "{sql:#?}"
    );
    assert_eq!(sql[4], "COMMIT");

    // A scripted failure reaches the caller, and the transaction is rolled back.
    let mock = MockDatabase::new(Dialect::Sqlite)
        .append(MockResult::models([account(1, "ada", 100)]))
        .append(MockResult::error(Error::Deadlock {
            source: "scripted".into(),
        }));
    let err = transfer(&mock.db(), 1, 2, 30).await.unwrap_err();
    assert!(matches!(err, Error::Deadlock { .. }), "{err:?}");
    let sql: Vec<String> = mock.statements().into_iter().map(|s| s.sql).collect();
    assert_eq!(sql.first().map(String::as_str), Some("BEGIN"));
    assert_eq!(sql.last().map(String::as_str), Some("ROLLBACK"), "{sql:#?}");

    // The code's own refusal: no update is sent.
    let mock =
        MockDatabase::new(Dialect::Postgres).append(MockResult::models([account(1, "ada", 10)]));
    let err = transfer(&mock.db(), 1, 2, 30).await.unwrap_err();
    assert!(err.to_string().contains("insufficient funds"), "{err}");
    assert!(
        !mock
            .statements()
            .iter()
            .any(|s| s.sql.starts_with("UPDATE"))
    );
}

#[tokio::test]
async fn insert_returning_follows_the_dialect() {
    // PostgreSQL: one INSERT ... RETURNING, answered with the stored row.
    let mock =
        MockDatabase::new(Dialect::Postgres).append(MockResult::models([account(7, "eve", 1)]));
    let stored = account(0, "eve", 1).insert(&mock.db()).await.unwrap();
    assert_eq!(stored.id, 7);
    let sent = mock.statements();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].sql.contains("RETURNING"), "{}", sent[0].sql);
    assert_eq!(
        sent[0].values,
        vec![
            Value::Text("eve".into()),
            Value::BigInt(1),
            Value::Null(polyorm::ColumnType::Text)
        ]
    );

    // MySQL has no RETURNING: the insert, then a read of the row by the generated key.
    let mock = MockDatabase::new(Dialect::MySql)
        .append(MockResult::exec(ExecResult {
            rows_affected: 1,
            last_insert_id: Some(7),
        }))
        .append(MockResult::models([account(7, "eve", 1)]));
    let stored = account(0, "eve", 1).insert(&mock.db()).await.unwrap();
    assert_eq!(stored.id, 7);
    let sent = mock.statements();
    assert_eq!(sent.len(), 2);
    assert!(
        sent[0].sql.starts_with("INSERT INTO `accounts`"),
        "{}",
        sent[0].sql
    );
    assert_eq!(sent[1].values, vec![Value::BigInt(7), Value::BigInt(1)]);
}

/// MySQL reads an inserted row back with a second statement. Inside a transaction, a row
/// that is not there means the server ended the transaction in between (a Galera node does,
/// when another node's write set wins certification, and the notice can be swallowed): a
/// retryable serialization failure, asked of the session — while a transaction the server
/// still holds open keeps reporting the row as not found.
#[tokio::test]
async fn an_inserted_row_missing_inside_a_transaction_the_server_ended_is_a_serialization_failure()
{
    for (in_transaction, retryable) in [(0_i64, true), (1, false)] {
        let mock = MockDatabase::new(Dialect::MySql)
            .append(MockResult::exec(ExecResult {
                rows_affected: 1,
                last_insert_id: Some(7),
            }))
            .append(MockResult::models(Vec::<Account>::new()))
            .append(MockResult::rows([[Value::BigInt(in_transaction)]]));
        let db = mock.db();
        let err = db
            .transaction(|tx| async move { account(0, "eve", 1).insert(&tx).await })
            .await
            .unwrap_err();
        if retryable {
            assert!(matches!(err, Error::SerializationFailure { .. }), "{err:?}");
            assert!(err.is_retryable());
            assert!(err.to_string().contains("`accounts`"), "{err}");
        } else {
            assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
        }
        let sent = mock.take_statements();
        assert_eq!(sent.last().unwrap().sql, "ROLLBACK");
        assert!(
            sent.iter().any(|s| s.sql == "SELECT @@in_transaction"),
            "{sent:?}"
        );
    }

    // The server answers the question with the abort itself (Galera's 1213): that error.
    let mock = MockDatabase::new(Dialect::MySql)
        .append(MockResult::exec(ExecResult {
            rows_affected: 1,
            last_insert_id: Some(7),
        }))
        .append(MockResult::models(Vec::<Account>::new()))
        .append(MockResult::error(Error::Deadlock {
            source: "1213 (40001): Deadlock found when trying to get lock".into(),
        }));
    let err = mock
        .db()
        .transaction(|tx| async move { account(0, "eve", 1).insert(&tx).await })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Deadlock { .. }), "{err:?}");

    // Outside a transaction (each statement its own), nothing is asked: the row is not found.
    let mock = MockDatabase::new(Dialect::MySql)
        .append(MockResult::exec(ExecResult {
            rows_affected: 1,
            last_insert_id: Some(7),
        }))
        .append(MockResult::models(Vec::<Account>::new()));
    let err = account(0, "eve", 1).insert(&mock.db()).await.unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    assert_eq!(mock.remaining(), 0);
}

#[tokio::test]
async fn a_missing_or_mismatched_result_names_the_statement() {
    let mock = MockDatabase::new(Dialect::Sqlite);
    let err = Account::find(&mock.db(), 1).await.unwrap_err();
    let message = err.to_string();
    assert!(message.contains("no scripted result left"), "{message}");
    assert!(message.contains("FROM \"accounts\""), "{message}");

    mock.push(MockResult::exec(ExecResult::default()));
    let err = Account::find(&mock.db(), 1).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("needs rows, but the next scripted result is an exec result"),
        "{err}"
    );

    mock.push(MockResult::rows([[Value::Text("not a number".into())]]));
    let err = Account::query().count(&mock.db()).await.unwrap_err();
    assert!(matches!(err, Error::Decode { .. }), "{err:?}");
}

#[tokio::test]
async fn raw_sql_and_ddl_are_recorded_and_consume_nothing() {
    let mock = MockDatabase::new(Dialect::Postgres);
    let db = mock.db();
    db.create_table::<Account>().await.unwrap();
    db.execute_raw("SET statement_timeout = 1000")
        .await
        .unwrap();
    let sql: Vec<String> = mock.statements().into_iter().map(|s| s.sql).collect();
    assert!(
        sql[0].starts_with("CREATE TABLE IF NOT EXISTS \"accounts\""),
        "{sql:#?}"
    );
    assert_eq!(sql.last().unwrap(), "SET statement_timeout = 1000");
    assert_eq!(db.health().await.unwrap().max_connections, 1);
}

#[tokio::test]
async fn a_stream_reads_scripted_rows_one_at_a_time_and_records_its_statement() {
    use futures::TryStreamExt;
    let mock = MockDatabase::new(Dialect::Sqlite).append(MockResult::models([
        account(1, "ada", 100),
        account(2, "bob", 5),
        account(3, "cy", 0),
    ]));
    let db = mock.db();
    let mut rows = Account::query().order_by(Account::ID.asc()).stream(&db);
    assert_eq!(rows.try_next().await.unwrap(), Some(account(1, "ada", 100)));
    let rest: Vec<Account> = rows.try_collect().await.unwrap();
    assert_eq!(rest, vec![account(2, "bob", 5), account(3, "cy", 0)]);
    let sent = mock.take_statements();
    assert_eq!(sent.len(), 1);
    assert!(sent[0].sql.starts_with("SELECT"), "{}", sent[0].sql);
    // Nothing scripted: the stream's only item is the error naming the statement.
    let mut nothing = Account::query().stream(&db);
    let err = nothing.try_next().await.unwrap_err();
    assert!(err.to_string().contains("SELECT"), "{err}");
}
