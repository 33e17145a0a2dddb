//! Layers (`polyorm::exec::layer`): code stacked on an executor sees every operation, its compiled
//! form and its outcome, may answer it itself, and runs inside transactions begun through it.

use std::sync::{Arc, Mutex};

use polyorm::exec::{Begin, Finish, Layer, Op, OpKind, OpKinds, Outcome};
use polyorm::prelude::*;
use polyorm::{Backend, Executor, Result};

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "layer_notes")]
struct Note {
    #[orm(primary_key)]
    id: i64,
    #[orm(max_length = 40)]
    body: String,
}

fn note(id: i64, body: &str) -> Note {
    Note {
        id,
        body: body.into(),
    }
}

/// Records, for each operation: the layer's label, the op's name, its table, whether it
/// writes, its compiled SQL (where there is one) and the outcome's variant; and the
/// transaction hooks it was called for.
#[derive(Clone)]
struct Recorder {
    label: &'static str,
    log: Arc<Mutex<Vec<String>>>,
}

impl Recorder {
    fn new(label: &'static str, log: &Arc<Mutex<Vec<String>>>) -> Self {
        Recorder {
            label,
            log: log.clone(),
        }
    }

    fn push(&self, entry: String) {
        self.log.lock().unwrap().push(entry);
    }
}

fn outcome_name<T>(outcome: &Outcome<T>) -> &'static str {
    match outcome {
        Outcome::Rows(_) => "rows",
        Outcome::Row(_) => "row",
        Outcome::Inserted(_) => "inserted",
        Outcome::Count(_) => "count",
        Outcome::Done(_) => "done",
        _ => "other",
    }
}

impl Layer for Recorder {
    async fn call<E: Executor, T: Send + 'static>(
        &self,
        inner: &E,
        op: Op<T>,
    ) -> Result<Outcome<T>> {
        let table = op.schema().map_or("-", |s| s.table);
        // The compiled form is what the driver is sent (MongoDB writes have none).
        let compiled = match op.compile(inner.backend()) {
            Ok(c) if inner.backend() != Backend::MongoDb => c.sql,
            Ok(_) => "plan".to_owned(),
            Err(_) => "none".to_owned(),
        };
        let head = format!(
            "{} {} {table} write={}",
            self.label,
            op.name(),
            op.is_write()
        );
        self.push(format!("{head} >"));
        let outcome = op.run(inner).await?;
        self.push(format!("{head} < {} [{compiled}]", outcome_name(&outcome)));
        Ok(outcome)
    }

    fn committed(&self) -> impl std::future::Future<Output = ()> + Send {
        self.push(format!("{} committed", self.label));
        async {}
    }

    fn rolled_back(&self) -> impl std::future::Future<Output = ()> + Send {
        self.push(format!("{} rolled back", self.label));
        async {}
    }
}

/// Answers every count with 42 without running it.
#[derive(Clone)]
struct FixedCount;

impl Layer for FixedCount {
    async fn call<E: Executor, T: Send + 'static>(
        &self,
        inner: &E,
        op: Op<T>,
    ) -> Result<Outcome<T>> {
        match op {
            Op::Count(_) => Ok(Outcome::Count(42)),
            other => other.run(inner).await,
        }
    }
}

/// Overrides only the typed `count` (answers 7) and hands no operation to `call`: every other
/// operation goes straight to the executor below.
#[derive(Clone)]
struct TypedCount;

impl Layer for TypedCount {
    const CALLS: OpKinds = OpKinds::NONE;

    fn call<E: Executor, T: Send + 'static>(
        &self,
        _inner: &E,
        op: Op<T>,
    ) -> impl std::future::Future<Output = Result<Outcome<T>>> + Send {
        let name = op.name();
        async move { panic!("`call` got `{name}` although CALLS is NONE") }
    }

    async fn count<E: Executor>(
        &self,
        _inner: &E,
        _query: polyorm::query::ir::SelectQuery,
    ) -> Result<u64> {
        Ok(7)
    }
}

/// A [`Recorder`] whose `call` sees the writes only, and only while `on` is set
/// (`Layer::is_active`).
#[derive(Clone)]
struct WritesWhileOn {
    recorder: Recorder,
    on: Arc<std::sync::atomic::AtomicBool>,
}

impl Layer for WritesWhileOn {
    const CALLS: OpKinds = OpKinds::NOT_READS;

    fn is_active(&self) -> bool {
        self.on.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn call<E: Executor, T: Send + 'static>(
        &self,
        inner: &E,
        op: Op<T>,
    ) -> impl std::future::Future<Output = Result<Outcome<T>>> + Send {
        self.recorder.call(inner, op)
    }
}

fn take(log: &Arc<Mutex<Vec<String>>>) -> Vec<String> {
    std::mem::take(&mut *log.lock().unwrap())
}

suite! {
    async fn a_layer_sees_every_operation_its_compiled_form_and_its_outcome(db) {
        db.create_table::<Note>().await?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let layered = db.layer(Recorder::new("a", &log));
        let stored = note(1, "first").insert(&layered).await?;
        assert_eq!(stored, note(1, "first"));
        Note::insert_many(&layered, &[note(2, "second"), note(3, "third")]).await?;
        assert_eq!(Note::find(&layered, 2).await?, Some(note(2, "second")));
        let all = Note::query().order_by(Note::ID.asc()).all(&layered).await?;
        assert_eq!(all, vec![note(1, "first"), note(2, "second"), note(3, "third")]);
        assert_eq!(Note::query().filter(Note::ID.gt(1)).count(&layered).await?, 2);
        Note::update_many().set(Note::BODY, "edited").filter(Note::ID.eq(3)).execute(&layered).await?;
        assert_eq!(Note::delete_many().filter(Note::ID.eq(1)).execute(&layered).await?, 1);
        // What the layer passed on really happened: read back past the layer.
        let left = Note::query().order_by(Note::ID.asc()).all(db).await?;
        assert_eq!(left, vec![note(2, "second"), note(3, "edited")]);

        let log = take(&log);
        let names: Vec<String> = log
            .iter()
            .filter(|e| e.contains(" < "))
            .map(|e| e.split(" [").next().unwrap().to_owned())
            .collect();
        assert_eq!(
            names,
            [
                "a insert_returning layer_notes write=true < inserted",
                "a execute layer_notes write=true < done",
                "a fetch_optional layer_notes write=false < row",
                "a fetch_all layer_notes write=false < rows",
                "a count layer_notes write=false < count",
                "a execute layer_notes write=true < done",
                "a execute layer_notes write=true < done",
            ],
            "{log:#?}"
        );
        // Each op is seen before it runs and after it returns, in that order.
        assert_eq!(log.len(), 14, "{log:#?}");
        assert!(log[0].ends_with('>') && log[1].contains(" < "), "{log:#?}");
        if let Some(dialect) = db.dialect() {
            let select = log.iter().find(|e| e.contains("fetch_all") && e.contains(" < ")).unwrap();
            let expected = Note::query()
                .order_by(Note::ID.asc())
                .compile(dialect)?
                .sql;
            assert!(select.ends_with(&format!("[{expected}]")), "{select} vs {expected}");
            let delete = log.last().unwrap();
            assert!(delete.contains("DELETE FROM"), "{delete}");
        }
        Ok(())
    }

    async fn stacked_layers_run_outermost_first_and_inside_transactions(db) {
        db.create_table::<Note>().await?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let layered = db
            .layer(Recorder::new("inner", &log))
            .layer(Recorder::new("outer", &log));
        note(1, "one").insert(&layered).await?;
        assert_eq!(
            take(&log).iter().map(|e| e.split(' ').take(2).collect::<Vec<_>>().join(" ")).collect::<Vec<_>>(),
            ["outer insert_returning", "inner insert_returning", "inner insert_returning", "outer insert_returning"]
        );

        // A transaction begun through the stack runs its statements through both layers,
        // which learn of the commit once the database has committed.
        let tx = Begin::begin(&layered).await?;
        note(2, "two").insert(&tx).await?;
        assert_eq!(take(&log).len(), 4);
        tx.commit().await?;
        assert_eq!(take(&log), ["inner committed", "outer committed"]);
        assert_eq!(Note::find(db, 2).await?, Some(note(2, "two")));

        let tx = Begin::begin(&layered).await?;
        note(3, "three").insert(&tx).await?;
        take(&log);
        tx.rollback().await?;
        assert_eq!(take(&log), ["inner rolled back", "outer rolled back"]);
        assert_eq!(Note::find(db, 3).await?, None);

        // The closure form commits on Ok.
        layered
            .transaction(|tx| async move {
                note(4, "four").insert(&tx).await?;
                Ok::<_, polyorm::Error>(())
            })
            .await?;
        assert!(take(&log).ends_with(&["inner committed".to_owned(), "outer committed".to_owned()]));
        assert_eq!(Note::find(db, 4).await?, Some(note(4, "four")));
        Ok(())
    }

    async fn a_layer_may_answer_an_operation_without_running_it(db) {
        db.create_table::<Note>().await?;
        note(1, "one").insert(db).await?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let layered = db.layer(Recorder::new("below", &log)).layer(FixedCount);
        assert_eq!(Note::query().count(&layered).await?, 42);
        assert!(take(&log).is_empty(), "the count never reached the layer below");
        // Everything else passes through.
        assert_eq!(Note::find(&layered, 1).await?, Some(note(1, "one")));
        assert_eq!(take(&log).len(), 2);
        Ok(())
    }

    async fn a_typed_method_answers_its_operation_and_the_others_pass_straight_through(db) {
        db.create_table::<Note>().await?;
        note(1, "one").insert(db).await?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let layered = db.layer(Recorder::new("below", &log)).layer(TypedCount);
        assert_eq!(Note::query().count(&layered).await?, 7);
        assert!(take(&log).is_empty(), "the count never reached the layer below");
        // Every other operation reaches the layer below (TypedCount's `call` would panic).
        note(2, "two").insert(&layered).await?;
        assert_eq!(Note::find(&layered, 2).await?, Some(note(2, "two")));
        let all = Note::query().order_by(Note::ID.asc()).all(&layered).await?;
        assert_eq!(all, vec![note(1, "one"), note(2, "two")]);
        Note::update_many().set(Note::BODY, "edited").filter(Note::ID.eq(2)).execute(&layered).await?;
        let names: Vec<String> = take(&log)
            .iter()
            .filter(|e| e.contains(" < "))
            .map(|e| e.split(" write").next().unwrap().to_owned())
            .collect();
        assert_eq!(
            names,
            [
                "below insert_returning layer_notes",
                "below fetch_optional layer_notes",
                "below fetch_all layer_notes",
                "below execute layer_notes",
            ]
        );
        Ok(())
    }

    async fn call_sees_only_the_kinds_it_asks_for_and_only_while_active(db) {
        db.create_table::<Note>().await?;
        let log = Arc::new(Mutex::new(Vec::new()));
        let on = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let layered = db.layer(WritesWhileOn {
            recorder: Recorder::new("w", &log),
            on: on.clone(),
        });
        note(1, "one").insert(&layered).await?;
        assert_eq!(Note::find(&layered, 1).await?, Some(note(1, "one")));
        assert_eq!(Note::query().count(&layered).await?, 1);
        Note::delete_many().filter(Note::ID.eq(1)).execute(&layered).await?;
        let names: Vec<String> = take(&log)
            .iter()
            .filter(|e| e.contains(" < "))
            .map(|e| e.split(' ').take(2).collect::<Vec<_>>().join(" "))
            .collect();
        assert_eq!(names, ["w insert_returning", "w execute"], "reads skip `call`");
        // Inactive: the write goes straight below, and still happens.
        on.store(false, std::sync::atomic::Ordering::Relaxed);
        note(2, "two").insert(&layered).await?;
        assert!(take(&log).is_empty());
        assert_eq!(Note::find(db, 2).await?, Some(note(2, "two")));
        assert!(OpKinds::NOT_READS.contains(OpKind::Execute));
        assert!(!OpKinds::NOT_READS.contains(OpKind::FetchOptional));
        Ok(())
    }
}
