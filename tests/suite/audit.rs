//! The audit trail (`polyorm::audit`): a record for every write, in the write's transaction,
//! hash-chained, verified, redacted; on every backend.

use polyorm::audit::{self, Audit, AuditContext, AuditRecord, BreakKind, REDACTED};
use polyorm::exec::{Begin, Finish};
use polyorm::prelude::*;
use polyorm::{Backend, Dialect, Error, Executor, OnConflict, Result};

use crate::harness::Reached;

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "audit_accounts")]
struct Account {
    #[orm(primary_key, auto_increment)]
    id: i64,
    #[orm(unique, max_length = 60)]
    name: String,
    #[orm(max_length = 60)]
    password: String,
    balance: i64,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "audit_notes")]
struct Note {
    #[orm(primary_key)]
    id: i64,
    #[orm(max_length = 60)]
    body: String,
}

/// A value that must never be recorded.
const SECRET: &str = "hunter2-never-audited";

fn account(name: &str, balance: i64) -> Account {
    Account {
        id: 0,
        name: name.into(),
        password: SECRET.into(),
        balance,
    }
}

fn note(id: i64, body: &str) -> Note {
    Note {
        id,
        body: body.into(),
    }
}

async fn setup(db: &Db) -> Result<()> {
    db.create_table::<Account>().await?;
    db.create_table::<Note>().await?;
    audit::create_tables(db).await
}

/// Checks that `verify` finds the chain unbroken, ending at `head_seq`.
async fn assert_chain_intact(db: &Db, head_seq: i64) -> Result<()> {
    let report = audit::verify(db).await?;
    assert!(report.is_intact(), "{report:?}");
    assert_eq!(report.head_seq, head_seq);
    Ok(())
}

fn context() -> AuditContext {
    AuditContext::new()
        .with_actor("alice")
        .with_trace_id("trace-1")
        .with_request_id("req-1")
}

fn ops(records: &[AuditRecord]) -> Vec<(&str, Option<&str>, Option<&str>, i64)> {
    records
        .iter()
        .map(|r| {
            (
                r.operation.as_str(),
                r.table_name.as_deref(),
                r.row_key.as_deref(),
                r.rows_affected,
            )
        })
        .collect()
}

suite! {
    async fn every_write_is_recorded_with_its_context_keys_and_values(db) {
        setup(db).await?;
        let audited = db.audited(Audit::new().record_changes().redact("password"));
        let (ada, bob) = context()
            .scope(async {
                let ada = account("ada", 10).insert(&audited).await?;
                let mut bob = account("bob", 20).insert(&audited).await?;
                bob.balance = 25;
                bob.update(&audited).await?;
                Note::insert_many(&audited, &[note(1, "a"), note(2, "b")]).await?;
                Note::upsert_many(&audited, &[note(2, "b2")], OnConflict::on(Note::ID).update(Note::BODY)).await?;
                Note::update_many().set(Note::BODY, "z").filter(Note::ID.in_list([1, 2])).execute(&audited).await?;
                Note::delete_many().filter(Note::BODY.eq("z")).execute(&audited).await?;
                Result::Ok((ada, bob))
            })
            .await?;
        // Reads are not recorded; the data is what was written.
        assert_eq!(Account::find(&audited, ada.id).await?, Some(ada.clone()));
        assert_eq!(Account::find(db, bob.id).await?.map(|b| b.balance), Some(25));
        assert_eq!(Note::query().count(db).await?, 0);

        let records = audit::records(db).await?;
        let (a, b) = (format!("[[{}]]", ada.id), format!("[[{}]]", bob.id));
        let delete_text = records.get(7).and_then(|r| r.statement.clone());
        assert_eq!(
            ops(&records),
            [
                ("insert", Some("audit_accounts"), Some(a.as_str()), 1),
                ("insert", Some("audit_accounts"), Some(b.as_str()), 1),
                ("update", Some("audit_accounts"), Some(b.as_str()), 1),
                ("insert", Some("audit_notes"), Some("[[1]]"), 1),
                ("insert", Some("audit_notes"), Some("[[2]]"), 1),
                ("upsert", Some("audit_notes"), Some("[[2]]"), 1),
                ("update", Some("audit_notes"), Some("[[1],[2]]"), 2),
                // Not by key: the rows read before it say which, the statement how.
                ("delete", Some("audit_notes"), Some("[[1],[2]]"), 2),
            ]
        );
        assert_eq!(records.iter().map(|r| r.seq).collect::<Vec<_>>(), (1..=8).collect::<Vec<_>>());
        for r in &records {
            assert_eq!(r.actor.as_deref(), Some("alice"));
            assert_eq!(r.trace_id.as_deref(), Some("trace-1"));
            assert_eq!(r.request_id.as_deref(), Some("req-1"));
            assert!(!format!("{r:?}").contains(SECRET), "a redacted value was recorded: {r:#?}");
        }
        let changes: serde_json::Value = serde_json::from_str(records[0].changes.as_deref().unwrap()).unwrap();
        assert_eq!(changes, serde_json::json!({"name": "ada", "password": REDACTED, "balance": 10}));
        let changes: serde_json::Value = serde_json::from_str(records[2].changes.as_deref().unwrap()).unwrap();
        assert_eq!(changes, serde_json::json!({"name": "bob", "password": REDACTED, "balance": 25}));
        assert_eq!(records[6].changes.as_deref(), Some(r#"{"body":"z"}"#));
        // Before values: read in the write's transaction just before it, redacted alike.
        let before = |i: usize| -> serde_json::Value {
            serde_json::from_str(records[i].before_values.as_deref().expect("before values")).unwrap()
        };
        assert_eq!(before(2), serde_json::json!([{"id": bob.id, "name": "bob", "password": REDACTED, "balance": 20}]));
        assert_eq!(before(6), serde_json::json!([{"id": 1, "body": "a"}, {"id": 2, "body": "b2"}]));
        assert_eq!(before(7), serde_json::json!([{"id": 1, "body": "z"}, {"id": 2, "body": "z"}]));
        for inserted in [0, 1, 3, 4, 5] {
            assert_eq!(records[inserted].before_values, None);
        }
        if db.backend() == Backend::MongoDb {
            assert_eq!(delete_text, None);
        } else {
            let text = delete_text.expect("the bulk delete's statement");
            assert!(text.starts_with("DELETE") && text.contains("audit_notes") && !text.contains("'z'"), "{text}");
            // Raw SQL: the text, no table.
            audited.execute_raw("UPDATE audit_notes SET body = 'x' WHERE 1 = 0").await?;
            let raw = audit::records(db).await?.pop().unwrap();
            assert_eq!((raw.operation.as_str(), raw.table_name, raw.actor), ("raw", None, None));
            assert_eq!(raw.statement.as_deref(), Some("UPDATE audit_notes SET body = 'x' WHERE 1 = 0"));
        }
        let report = audit::verify(db).await?;
        assert!(report.is_intact(), "{report:?}");
        assert_eq!(report.rows, report.head_seq as u64);
        Ok(())
    }

    async fn a_rolled_back_write_leaves_no_record_and_a_committed_one_its_records(db) {
        setup(db).await?;
        let audited = db.audited(Audit::new());
        let failed: std::result::Result<(), Error> = audited
            .transaction(|tx| async move {
                note(1, "kept?").insert(&tx).await?;
                Err(Error::InvalidQuery("the body gives up".into()))
            })
            .await;
        assert!(failed.is_err());
        let tx = Begin::begin(&audited).await?;
        note(2, "rolled back").insert(&tx).await?;
        tx.rollback().await?;
        assert_eq!(Note::query().count(db).await?, 0);
        assert!(audit::records(db).await?.is_empty());

        audited
            .transaction(|tx| async move {
                note(3, "a").insert(&tx).await?;
                note(4, "b").insert(&tx).await?;
                Result::Ok(())
            })
            .await?;
        let records = audit::records(db).await?;
        assert_eq!(records.iter().map(|r| r.row_key.as_deref()).collect::<Vec<_>>(), [Some("[[3]]"), Some("[[4]]")]);
        // One transaction's records link to the head before it (and to each other through
        // their digests).
        assert_eq!(records[0].prev_hash, audit::GENESIS_HASH);
        assert_eq!(records[1].prev_hash, audit::GENESIS_HASH);
        assert_ne!(records[1].hash, records[0].hash);
        // A failing write is not recorded either.
        assert!(note(3, "again").insert(&audited).await.is_err());
        assert_eq!(audit::records(db).await?.len(), 2);
        assert!(audit::verify(db).await?.is_intact());
        Ok(())
    }

    async fn the_audit_costs_one_statement_per_transaction_on_sql_two_on_mongodb(db) {
        setup(db).await?;
        let count = Reached::default();
        let audited = db.layer(count.clone()).audited(Audit::new());
        // The records are appended by one statement on SQL (PostgreSQL: a data-modifying
        // WITH; MySQL/MariaDB and SQLite: a plain INSERT the linking trigger links), two on
        // MongoDB (move the head the handle's last append left, insert the records). The
        // handle's first append costs one more on MySQL/MariaDB and SQLite (it asks for the
        // trigger) and on MongoDB (it reads the head first: three).
        let (first, warm) = match db.backend() {
            Backend::Sql(Dialect::Postgres) => (1, 1),
            Backend::Sql(_) => (2, 1),
            _ => (3, 2),
        };
        note(1, "a").insert(&audited).await?;
        assert_eq!(count.take(), 1 + first);
        audited
            .transaction(|tx| async move {
                for id in 2..=6 {
                    note(id, "b").insert(&tx).await?;
                }
                Result::Ok(())
            })
            .await?;
        assert_eq!(count.take(), 5 + warm);
        assert_eq!(Note::query().count(&audited).await?, 6);
        assert_eq!(count.take(), 1);
        // An update by key without `record_changes` reads nothing first; one whose filter
        // names no key reads the keys it writes (one select).
        note(1, "c").update(&audited).await?;
        assert_eq!(count.take(), 1 + warm);
        Note::update_many().set(Note::BODY, "d").filter(Note::BODY.eq("b")).execute(&audited).await?;
        assert_eq!(count.take(), 2 + warm);
        let records = audit::records(db).await?;
        assert_eq!(records.len(), 8);
        assert_eq!(records[7].row_key.as_deref(), Some("[[2],[3],[4],[5],[6]]"));
        assert_eq!(records[7].before_values, None);
        // Six records in one transaction share the head they were linked to.
        assert!(records[1..6].iter().all(|r| r.prev_hash == records[0].hash));
        assert!(audit::verify(db).await?.is_intact());
        Ok(())
    }

    async fn a_handle_whose_remembered_head_was_moved_by_another_reads_the_head_again(db) {
        setup(db).await?;
        let count = Reached::default();
        let (one, other) = (db.layer(count.clone()).audited(Audit::new()), db.layer(count.clone()).audited(Audit::new()));
        let mongo = !db.backend().is_sql();
        // Per append: SQL one statement (and one probe per handle on MySQL/MariaDB and
        // SQLite); MongoDB three the first time, two from the head the handle left, four when
        // another handle moved it since (the compare-and-set that matched nothing, then read,
        // insert, move).
        let probe = u64::from(matches!(db.backend(), Backend::Sql(Dialect::MySql | Dialect::Sqlite)));
        let expect = |sql: u64, mongo_count: u64| if mongo { mongo_count } else { sql };
        note(1, "a").insert(&one).await?;
        assert_eq!(count.take(), 1 + expect(1 + probe, 3));
        note(2, "b").insert(&one).await?;
        assert_eq!(count.take(), 1 + expect(1, 2));
        note(3, "c").insert(&other).await?;
        assert_eq!(count.take(), 1 + expect(1 + probe, 3));
        note(4, "d").insert(&one).await?;
        assert_eq!(count.take(), 1 + expect(1, 4));
        note(5, "e").insert(&one).await?;
        assert_eq!(count.take(), 1 + expect(1, 2));
        // A rolled-back transaction appends nothing; `other` left the head at 3, `one` has
        // moved it since.
        let tx = Begin::begin(&other).await?;
        note(6, "f").insert(&tx).await?;
        tx.rollback().await?;
        count.take();
        note(7, "g").insert(&other).await?;
        assert_eq!(count.take(), 1 + expect(1, 4));
        let records = audit::records(db).await?;
        assert_eq!(records.iter().map(|r| r.seq).collect::<Vec<_>>(), (1..=6).collect::<Vec<_>>());
        assert_eq!(records.iter().filter_map(|r| r.row_key.as_deref()).collect::<Vec<_>>(), ["[[1]]", "[[2]]", "[[3]]", "[[4]]", "[[5]]", "[[7]]"]);
        assert_chain_intact(db, 6).await?;
        Ok(())
    }

    #[requires(sql)]
    async fn tables_made_before_the_trigger_keep_their_chain_in_two_statements_until_create_tables_adds_it(db) {
        setup(db).await?;
        // Audit tables of an earlier version: no linking trigger (PostgreSQL never has one).
        let triggered = matches!(db.backend(), Backend::Sql(Dialect::MySql | Dialect::Sqlite));
        if triggered {
            db.execute_raw("DROP TRIGGER orm_audit_link").await?;
        }
        // `verify` names the missing trigger, and how to add it.
        let report = audit::verify(db).await?;
        assert_eq!(report.link_trigger_missing, triggered);
        if triggered {
            let advice = report.missing_trigger_advice().expect("advice for the missing trigger");
            assert!(advice.contains("orm_audit_link") && advice.contains("create_tables"), "{advice}");
        }
        let count = Reached::default();
        let audited = db.layer(count.clone()).audited(Audit::new());
        note(1, "a").insert(&audited).await?;
        note(2, "b").insert(&audited).await?;
        // MySQL/MariaDB and SQLite: one probe, then two statements per append (move the head,
        // insert the records); PostgreSQL: one.
        let (probe, append) = if triggered { (1, 2) } else { (0, 1) };
        assert_eq!(count.take(), 2 * (1 + append) + probe);
        // Run again, `create_tables` adds the trigger; a new handle finds it and continues the
        // chain the two-statement appends started, in one statement.
        audit::create_tables(db).await?;
        let report = audit::verify(db).await?;
        assert!(!report.link_trigger_missing && report.missing_trigger_advice().is_none());
        let audited = db.layer(count.clone()).audited(Audit::new());
        audited
            .transaction(|tx| async move {
                note(3, "c").insert(&tx).await?;
                note(4, "d").insert(&tx).await?;
                Result::Ok(())
            })
            .await?;
        assert_eq!(count.take(), 2 + 1 + probe);
        note(5, "e").insert(&audited).await?;
        assert_eq!(count.take(), 1 + 1);
        let records = audit::records(db).await?;
        assert_eq!(records.iter().map(|r| r.seq).collect::<Vec<_>>(), (1..=5).collect::<Vec<_>>());
        assert_eq!(records[1].prev_hash, records[0].hash);
        // The transaction's two records share the head they were linked to.
        assert_eq!(records[2].prev_hash, records[1].hash);
        assert_eq!(records[3].prev_hash, records[1].hash);
        assert_eq!(records[4].prev_hash, records[3].hash);
        assert_chain_intact(db, 5).await?;
        Ok(())
    }

    #[requires(sql)]
    async fn a_generated_migration_makes_the_audit_tables_with_their_trigger_and_no_drift(db) {
        #[cfg(feature = "migrate")]
        {
            use polyorm::migrate::files::GenerateOptions;
            use polyorm::migrate::{Migrator, Schema, generate};
            // The audit tables as the migration engine's model list holds them, beside the
            // model the test writes (its table made by the same migration).
            let models = Schema::from_models([&audit::AUDIT_LOG, &audit::AUDIT_HEAD, <Note as polyorm::Model>::SCHEMA]);
            let dir = tempfile::tempdir().expect("a temporary directory");
            let options = GenerateOptions { allow: vec![], allow_destructive: false, version: Some("20260101000000".into()) };
            let dialect = db.dialect().expect("a SQL database");
            let generated = generate(dir.path(), "audit", &models, dialect, &options)
                .expect("the migration is generated")
                .expect("the audit tables are new");
            let up = std::fs::read_to_string(generated.dir.join("up.sql")).expect("the up file");
            assert_eq!(up.contains("CREATE TRIGGER"), dialect != Dialect::Postgres, "{up}");
            let migrator = Migrator::new(db.clone(), dir.path(), models).expect("a SQL database");
            assert_eq!(migrator.up(None, false).await.expect("the migration applies").len(), 1);
            migrator.verify().await.expect("no drift: the trigger is the ORM's own");
            let count = Reached::default();
            let audited = db.layer(count.clone()).audited(Audit::new());
            // The head row is made by the first append: by the trigger on MySQL/MariaDB and
            // SQLite (after the handle's one probe for it), which then links in one statement;
            // PostgreSQL's append finds no head, creates it and appends again (two more).
            for id in 1..=2 {
                note(id, "m").insert(&audited).await?;
            }
            let first = if dialect == Dialect::Postgres { 2 } else { 1 };
            assert_eq!(count.take(), 2 * 2 + first);
            assert_chain_intact(db, 2).await?;
            migrator.verify().await.expect("still no drift after appending");
        }
        Ok(())
    }

    #[requires(sql)]
    async fn a_migration_adds_the_linking_trigger_to_a_log_made_before_it_and_the_chain_continues(db) {
        #[cfg(feature = "migrate")]
        {
            use polyorm::migrate::{Error as MigrateError, GenerateOptions, Migrator, Schema, generate};
            let models = Schema::from_models([&audit::AUDIT_LOG, &audit::AUDIT_HEAD, <Note as polyorm::Model>::SCHEMA]);
            let dir = tempfile::tempdir().expect("a temporary directory");
            let dialect = db.dialect().expect("a SQL database");
            // PostgreSQL appends without a trigger: it never has one.
            let triggered = dialect != Dialect::Postgres;
            let options = |version: &str| GenerateOptions { allow: vec![], allow_destructive: false, version: Some(version.into()) };
            // The first migration as the version before the trigger wrote it: its snapshot
            // lists no trigger on the log, and the database has none.
            let first = generate(dir.path(), "audit", &models, dialect, &options("20260101000000"))
                .expect("the migration is generated")
                .expect("the audit tables are new");
            let snapshot_file = first.dir.join("snapshot.json");
            let mut snapshot: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&snapshot_file).expect("the snapshot")).expect("JSON");
            let listed = snapshot["tables"]["orm_audit_log"].as_object_mut().expect("the log's table").remove("triggers");
            assert_eq!(listed, triggered.then(|| serde_json::json!(["orm_audit_link"])));
            std::fs::write(&snapshot_file, serde_json::to_string_pretty(&snapshot).expect("JSON")).expect("the snapshot is written");
            let migrator = Migrator::new(db.clone(), dir.path(), models.clone()).expect("a SQL database");
            assert_eq!(migrator.up(None, false).await.expect("the migration applies").len(), 1);
            if triggered {
                db.execute_raw("DROP TRIGGER orm_audit_link").await?;
            }
            // Records appended without the trigger (two statements each on MySQL/MariaDB and
            // SQLite).
            let audited = db.audited(Audit::new());
            for id in 1..=3 {
                note(id, "before").insert(&audited).await?;
            }
            // Both checks name the missing trigger, and how to add it.
            let report = audit::verify(db).await?;
            assert!(report.is_intact(), "{report:?}");
            assert_eq!(report.link_trigger_missing, triggered);
            match migrator.verify().await {
                Err(MigrateError::Drift(drift)) if triggered => assert!(
                    drift.iter().any(|d| d.contains("trigger `orm_audit_link` on `orm_audit_log` is missing") && d.contains("generate a migration")),
                    "{drift:?}"
                ),
                Ok(()) if !triggered => {}
                other => panic!("unexpected drift check: {other:?}"),
            }
            // The next generated migration adds the trigger to the existing log (none on
            // PostgreSQL: nothing to generate).
            let Some(second) = generate(dir.path(), "audit_link", &models, dialect, &options("20260102000000")).expect("the diff")
            else {
                assert!(!triggered, "no migration adds the trigger on {dialect:?}");
                return Ok(());
            };
            assert!(triggered, "{:?}", second.operations);
            let described: Vec<String> = second.operations.iter().map(|op| op.describe()).collect();
            assert_eq!(described, ["add trigger orm_audit_log.orm_audit_link"]);
            let up = std::fs::read_to_string(second.dir.join("up.sql")).expect("the up file");
            assert!(up.contains("CREATE TRIGGER"), "{up}");
            assert_eq!(migrator.up(None, false).await.expect("the trigger's migration applies").len(), 1);
            migrator.verify().await.expect("no drift once the trigger is there");
            assert!(!audit::verify(db).await?.link_trigger_missing);
            // A new handle finds the trigger (one probe) and appends in one statement,
            // continuing the chain the two-statement appends left.
            let count = Reached::default();
            let audited = db.layer(count.clone()).audited(Audit::new());
            note(4, "after").insert(&audited).await?;
            note(5, "after").insert(&audited).await?;
            assert_eq!(count.take(), 1 + 2 * (1 + 1));
            let records = audit::records(db).await?;
            assert_eq!(records.iter().map(|r| r.seq).collect::<Vec<_>>(), (1..=5).collect::<Vec<_>>());
            assert_eq!(records[3].prev_hash, records[2].hash);
            assert_chain_intact(db, 5).await?;
            // Down drops it again; the chain is kept in two statements.
            assert_eq!(migrator.down(1, false).await.expect("the down migration applies").len(), 1);
            assert!(audit::verify(db).await?.link_trigger_missing);
        }
        Ok(())
    }

    async fn appending_creates_a_missing_head_and_chains_many_records_in_batches(db) {
        db.create_table::<Note>().await?;
        audit::create_tables(db).await?;
        // Tables made by a migration have no head row: the first append creates it.
        if db.backend().is_sql() {
            db.execute_raw("DELETE FROM orm_audit_head").await?;
        }
        let audited = db.audited(Audit::new());
        let notes: Vec<Note> = (1..=1203).map(|id| note(id, "n")).collect();
        audited
            .transaction(|tx| async move {
                for chunk in notes.chunks(400) {
                    Note::insert_many(&tx, chunk).await?;
                }
                Result::Ok(())
            })
            .await?;
        note(2000, "after").insert(&audited).await?;
        let records = audit::records(db).await?;
        assert_eq!(records.len(), 1204);
        assert_eq!(records.iter().map(|r| r.seq).collect::<Vec<_>>(), (1..=1204).collect::<Vec<_>>());
        // Appended 500 at a time: each batch links to the one before.
        assert_eq!(records[0].prev_hash, audit::GENESIS_HASH);
        assert_eq!(records[499].prev_hash, audit::GENESIS_HASH);
        assert_eq!(records[500].prev_hash, records[499].hash);
        assert_eq!(records[1203].prev_hash, records[1202].hash);
        assert_chain_intact(db, 1204).await?;
        Ok(())
    }

    async fn updates_and_deletes_record_the_rows_before_them_redacted(db) {
        setup(db).await?;
        let audited = db.audited(Audit::new().record_changes().redact_in("audit_accounts", "password"));
        let ada = account("ada", 10).insert(&audited).await?;
        let bob = account("bob", 20).insert(&audited).await?;
        // A bulk update whose filter names no key: every affected row, before.
        Account::update_many()
            .set(Account::BALANCE, 0)
            .filter(Account::BALANCE.gt(5))
            .execute(&audited)
            .await?;
        // A rolled-back update leaves nothing.
        let tx = Begin::begin(&audited).await?;
        Account::delete_many().filter(Account::ID.eq(ada.id)).execute(&tx).await?;
        tx.rollback().await?;
        audited
            .transaction(|tx| async move {
                Account::delete_many().filter(Account::NAME.eq("bob")).execute(&tx).await?;
                // Nothing matches: an empty before, no key.
                Account::delete_many().filter(Account::NAME.eq("nobody")).execute(&tx).await?;
                Result::Ok(())
            })
            .await?;
        let records = audit::records(db).await?;
        assert_eq!(
            ops(&records),
            [
                ("insert", Some("audit_accounts"), Some(format!("[[{}]]", ada.id).as_str()), 1),
                ("insert", Some("audit_accounts"), Some(format!("[[{}]]", bob.id).as_str()), 1),
                ("update", Some("audit_accounts"), Some(format!("[[{}],[{}]]", ada.id, bob.id).as_str()), 2),
                ("delete", Some("audit_accounts"), Some(format!("[[{}]]", bob.id).as_str()), 1),
                ("delete", Some("audit_accounts"), Some("[]"), 0),
            ]
        );
        let before = |i: usize| -> serde_json::Value {
            serde_json::from_str(records[i].before_values.as_deref().expect("before values")).unwrap()
        };
        assert_eq!(
            before(2),
            serde_json::json!([
                {"id": ada.id, "name": "ada", "password": REDACTED, "balance": 10},
                {"id": bob.id, "name": "bob", "password": REDACTED, "balance": 20},
            ])
        );
        assert_eq!(before(3), serde_json::json!([{"id": bob.id, "name": "bob", "password": REDACTED, "balance": 0}]));
        assert_eq!(before(4), serde_json::json!([]));
        assert!(!format!("{records:?}").contains(SECRET));
        assert_eq!(Account::query().count(db).await?, 1);
        assert!(audit::verify(db).await?.is_intact());
        Ok(())
    }

    #[needs_real_mongodb("nx-27017 runs concurrent transactions as savepoints of one SQLite transaction: one's abort removes the others' savepoints")]
    async fn concurrent_transactions_never_fork_the_chain(db) {
        setup(db).await?;
        let audited = db.audited(Audit::new());
        let sql = db.backend().is_sql();
        let writers = (1..=8).map(|id| {
            let audited = audited.clone();
            tokio::spawn(async move {
                let mut attempts = 0;
                loop {
                    attempts += 1;
                    let written = AuditContext::new()
                        .with_actor(format!("writer-{id}"))
                        .scope(audited.transaction(|tx| async move {
                            note(id, "w").insert(&tx).await?;
                            tokio::task::yield_now().await;
                            note(id + 100, "w").insert(&tx).await?;
                            Result::Ok(())
                        }))
                        .await;
                    match written {
                        Ok(()) => return Result::Ok(attempts),
                        // MongoDB does not wait for the head: the second of two transactions
                        // appending at once fails (a write conflict; on the test server the
                        // duplicate `seq`), rolls back, and is retried.
                        Err(e) if !sql && attempts < 50 => {
                            assert!(matches!(e, Error::UniqueViolation { .. } | Error::SerializationFailure { .. }), "{e:?}");
                        }
                        Err(e) => return Err(e),
                    }
                }
            })
        });
        for writer in writers.collect::<Vec<_>>() {
            let attempts = writer.await.expect("the writer task")?;
            if sql {
                assert_eq!(attempts, 1, "SQL appenders wait for the head lock instead of failing");
            }
        }
        assert_eq!(Note::query().count(db).await?, 16);
        let records = audit::records(db).await?;
        assert_eq!(records.iter().map(|r| r.seq).collect::<Vec<_>>(), (1..=16).collect::<Vec<_>>());
        // Each transaction's two records are adjacent.
        for pair in records.chunks(2) {
            assert_eq!(pair[0].actor, pair[1].actor);
        }
        assert_chain_intact(db, 16).await?;
        Ok(())
    }

    #[requires(sql)]
    async fn verify_names_the_row_edited_deleted_or_inserted_by_raw_sql(db) {
        setup(db).await?;
        let audited = db.audited(Audit::new());
        for id in 1..=4 {
            note(id, "n").insert(&audited).await?;
        }
        assert!(audit::verify(db).await?.is_intact());
        let breaks = |report: audit::ChainReport| -> Vec<(i64, BreakKind)> {
            report.breaks.into_iter().map(|b| (b.seq, b.kind)).collect()
        };

        db.execute_raw("UPDATE orm_audit_log SET actor = 'mallory' WHERE seq = 2").await?;
        let report = audit::verify(db).await?;
        assert_eq!(report.breaks[0].to_string(), "audit row 2 was edited: its content no longer hashes to its stored hash");
        assert_eq!(breaks(report), [(2, BreakKind::Edited)]);
        db.execute_raw("UPDATE orm_audit_log SET actor = NULL WHERE seq = 2").await?;
        assert!(audit::verify(db).await?.is_intact());

        let third = audit::records(db).await?.remove(2);
        db.execute_raw("DELETE FROM orm_audit_log WHERE seq = 3").await?;
        assert_eq!(breaks(audit::verify(db).await?), [(3, BreakKind::Deleted)]);
        db.execute_raw(&format!(
            "INSERT INTO orm_audit_log (seq, recorded_at_us, operation, table_name, row_key, rows_affected, prev_hash, hash) \
             VALUES (3, {}, 'insert', 'audit_notes', '[[3]]', 1, '{}', '{}')",
            third.recorded_at_us, third.prev_hash, third.hash
        ))
        .await?;
        assert!(audit::verify(db).await?.is_intact());

        db.execute_raw(&format!(
            "INSERT INTO orm_audit_log (seq, recorded_at_us, operation, rows_affected, prev_hash, hash) \
             VALUES (5, 0, 'insert', 1, '{}', '{}')",
            third.hash, third.hash
        ))
        .await?;
        assert_eq!(breaks(audit::verify(db).await?), [(5, BreakKind::Inserted)]);
        db.execute_raw("DELETE FROM orm_audit_log WHERE seq >= 4").await?;
        assert_eq!(breaks(audit::verify(db).await?), [(4, BreakKind::Deleted)]);
        Ok(())
    }
}

/// Where the admin makes the audit tables (the URL, from the user's name) and what it runs
/// afterwards (statements, `{name}` standing for the name).
#[cfg(all(feature = "tracing", feature = "metrics"))]
type OwnerTables<'a> = (fn(&str) -> String, &'a [&'a str]);

/// Runs `body` on a database private to the test, connected as a user made for it without
/// the `TRIGGER` privilege; drops both afterwards whatever `body` returned. `grants` are the
/// statements that make the user (`{name}` stands for the user's, database's or schema's
/// name), `drops` those that remove it; `url` makes the user's URL from the name. With
/// `owner_tables`, the admin makes the audit tables first (connected as `owner_tables` says)
/// and then runs `then`: the user then owns none of them.
#[cfg(all(feature = "tracing", feature = "metrics"))]
async fn as_user_without_trigger<F: std::future::Future<Output = Result<()>>>(
    admin_url: &str,
    grants: &[&str],
    owner_tables: Option<OwnerTables<'_>>,
    drops: &[&str],
    url: impl Fn(&str) -> String,
    body: impl FnOnce(Db) -> F,
) {
    let name = format!("orm_audit_notrigger_{}", std::process::id());
    let admin = PoolOptions::new()
        .max_connections(1)
        .connect(admin_url)
        .await
        .unwrap_or_else(|e| panic!("{admin_url} is unreachable: {e}"));
    let outcome = async {
        for grant in grants {
            admin.execute_raw(&grant.replace("{name}", &name)).await?;
        }
        if let Some((owner_url, then)) = owner_tables {
            let owner = PoolOptions::new()
                .max_connections(1)
                .connect(&owner_url(&name))
                .await?;
            audit::create_tables(&owner).await?;
            owner.close().await;
            for statement in then {
                admin
                    .execute_raw(&statement.replace("{name}", &name))
                    .await?;
            }
        }
        let db = PoolOptions::new()
            .max_connections(2)
            .connect(&url(&name))
            .await?;
        let outcome = body(db.clone()).await;
        db.close().await;
        outcome
    }
    .await;
    for drop in drops {
        // Each drop runs even if one before it failed (the user may not have been made).
        let _ = admin.execute_raw(&drop.replace("{name}", &name)).await;
    }
    admin.close().await;
    if let Err(e) = outcome {
        panic!("{e}\n{e:?}");
    }
}

/// What a user without the `TRIGGER` privilege gets from `create_tables` and the audit: the
/// tables, a warning naming the refusal (MySQL/MariaDB) or none (PostgreSQL, which needs no
/// trigger), appends of `per_append` statements, and an intact chain.
#[cfg(all(feature = "tracing", feature = "metrics"))]
async fn audit_without_trigger_privilege(db: Db, warned: bool, per_append: u64) -> Result<()> {
    use crate::observe::Capture;
    use tracing_subscriber::layer::SubscriberExt;
    let capture = Capture::default();
    let guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
    audit::create_tables(&db).await?;
    drop(guard);
    let warnings: Vec<_> = capture
        .events()
        .into_iter()
        .filter(|e| {
            e.fields
                .get("message")
                .is_some_and(|m| m.contains("linking trigger could not be created"))
        })
        .collect();
    assert_eq!(warnings.len(), usize::from(warned), "{warnings:?}");
    if warned {
        let error = &warnings[0].fields["error"];
        assert!(error.contains("TRIGGER command denied"), "{error}");
    }
    db.create_table::<Note>().await?;
    let count = Reached::default();
    let audited = db.layer(count.clone()).audited(Audit::new());
    note(1, "a").insert(&audited).await?;
    note(2, "b").insert(&audited).await?;
    // The handle's probe for the trigger (MySQL/MariaDB), then per write the write and the
    // append.
    let probe = u64::from(warned);
    assert_eq!(count.take(), probe + 2 * (1 + per_append));
    let report = audit::verify(&db).await?;
    assert!(report.is_intact(), "{report:?}");
    assert_eq!((report.rows, report.head_seq), (2, 2));
    assert_eq!(report.link_trigger_missing, warned);
    Ok(())
}

/// MySQL/MariaDB: a user with every privilege on its database but `TRIGGER` (as on managed
/// servers): `create_tables` makes the tables and warns, appends take two statements, and
/// the chain verifies.
#[cfg(all(feature = "tracing", feature = "metrics"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn mysql_a_user_without_the_trigger_privilege_appends_in_two_statements_after_a_warning() {
    use crate::harness::{Backend, enabled, mysql_url};
    if !enabled(Backend::MySql) {
        eprintln!("SKIPPED the TRIGGER privilege test on mysql: not in ORM_TEST_BACKENDS");
        return;
    }
    let admin = mysql_url();
    let (server, _) = admin
        .rsplit_once('/')
        .expect("MySQL URL ends with /database");
    let host = server.rsplit_once('@').map_or(
        server.split_once("://").map_or(server, |(_, h)| h),
        |(_, h)| h,
    );
    as_user_without_trigger(
        &admin,
        &[
            "CREATE DATABASE `{name}`",
            "CREATE USER '{name}'@'%'",
            "GRANT ALL PRIVILEGES ON `{name}`.* TO '{name}'@'%'",
            "REVOKE TRIGGER ON `{name}`.* FROM '{name}'@'%'",
        ],
        None,
        &["DROP USER '{name}'@'%'", "DROP DATABASE `{name}`"],
        |name| format!("mysql://{name}@{host}/{name}"),
        |db| audit_without_trigger_privilege(db, true, 2),
    )
    .await;
}

/// PostgreSQL appends without a trigger (a data-modifying `WITH`), so a role without the
/// `TRIGGER` privilege (and owning nothing) is refused nothing: no warning, one statement
/// per append, an intact chain.
#[cfg(all(feature = "tracing", feature = "metrics"))]
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn postgres_a_role_without_the_trigger_privilege_appends_in_one_statement() {
    use crate::harness::{Backend, enabled, postgres_url};
    if !enabled(Backend::Postgres) {
        eprintln!("SKIPPED the TRIGGER privilege test on postgres: not in ORM_TEST_BACKENDS");
        return;
    }
    /// `url` (the admin's, or with `user`) searching the schema `name`.
    fn in_schema(url: &str, user: Option<&str>, name: &str) -> String {
        let (scheme, rest) = url.split_once("://").expect("postgres://user@host/db");
        let rest = match user {
            Some(user) => format!("{user}@{}", rest.rsplit_once('@').map_or(rest, |(_, r)| r)),
            None => rest.to_owned(),
        };
        let sep = if rest.contains('?') { '&' } else { '?' };
        format!("{scheme}://{rest}{sep}options=-c%20search_path%3D{name}")
    }
    let admin = postgres_url();
    as_user_without_trigger(
        &admin,
        &[
            "CREATE ROLE \"{name}\" LOGIN",
            "CREATE SCHEMA \"{name}\"",
            "GRANT USAGE, CREATE ON SCHEMA \"{name}\" TO \"{name}\"",
        ],
        // The audit tables are the admin's: the role owns none of them and is granted what
        // the audit needs on them, but not TRIGGER.
        Some((
            |name| in_schema(&postgres_url(), None, name),
            &["GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA \"{name}\" TO \"{name}\""],
        )),
        &["DROP SCHEMA \"{name}\" CASCADE", "DROP ROLE \"{name}\""],
        |name| in_schema(&admin, Some(name), name),
        |db| audit_without_trigger_privilege(db, false, 1),
    )
    .await;
}
