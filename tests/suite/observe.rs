//! Observability layers (`polyorm::observe`): the spans, events and metric values they produce on
//! every backend, and that a bound value never appears in them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use polyorm::exec::{Begin, Finish};
use polyorm::observe::{Metrics, Tracing};
use polyorm::prelude::*;
use polyorm::{Backend, Dialect, Error};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "obs_items")]
struct Item {
    #[orm(primary_key)]
    id: i64,
    #[orm(max_length = 60)]
    secret: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "obs_authors", has_many(books = Book::AUTHOR_ID))]
struct Author {
    #[orm(primary_key)]
    id: i64,
    #[orm(max_length = 60)]
    name: String,
}

#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "obs_books")]
struct Book {
    #[orm(primary_key)]
    id: i64,
    #[orm(belongs_to = Author)]
    author_id: i64,
    #[orm(max_length = 60)]
    title: String,
}

/// The stacking test's table (its own: the recorder's counts are shared by the tests that run
/// at the same time).
#[derive(Model, Debug, Clone, PartialEq)]
#[orm(table = "obs_stacked")]
struct Stacked {
    #[orm(primary_key)]
    id: i64,
    #[orm(max_length = 60)]
    secret: String,
}

/// A value that must never be recorded.
const SECRET: &str = "s3cret-value-never-logged";

/// One captured span or event: its name, its parent span's name, and its fields.
#[derive(Debug, Clone, Default)]
pub(crate) struct Captured {
    name: String,
    parent: Option<String>,
    pub(crate) fields: HashMap<String, String>,
}

/// A subscriber layer that keeps every span and event (the audit tests read its warnings).
#[derive(Clone, Default)]
pub(crate) struct Capture {
    spans: Arc<Mutex<HashMap<u64, Captured>>>,
    order: Arc<Mutex<Vec<u64>>>,
    events: Arc<Mutex<Vec<Captured>>>,
}

struct Fields<'a>(&'a mut HashMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Capture {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut captured = Captured {
            name: attrs.metadata().name().to_owned(),
            parent: ctx
                .span(id)
                .and_then(|s| s.parent())
                .map(|p| p.name().to_owned()),
            ..Captured::default()
        };
        attrs.record(&mut Fields(&mut captured.fields));
        self.spans.lock().unwrap().insert(id.into_u64(), captured);
        self.order.lock().unwrap().push(id.into_u64());
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        if let Some(span) = self.spans.lock().unwrap().get_mut(&id.into_u64()) {
            values.record(&mut Fields(&mut span.fields));
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        let mut captured = Captured {
            name: event.metadata().target().to_owned(),
            parent: ctx.event_span(event).map(|s| s.name().to_owned()),
            ..Captured::default()
        };
        event.record(&mut Fields(&mut captured.fields));
        self.events.lock().unwrap().push(captured);
    }
}

impl Capture {
    /// The events captured so far.
    pub(crate) fn events(&self) -> Vec<Captured> {
        self.events.lock().unwrap().clone()
    }

    fn spans(&self) -> Vec<Captured> {
        let spans = self.spans.lock().unwrap();
        self.order
            .lock()
            .unwrap()
            .iter()
            .map(|id| spans[id].clone())
            .collect()
    }

    fn statements(&self) -> Vec<Captured> {
        self.spans()
            .into_iter()
            .filter(|s| s.name == "db.statement")
            .collect()
    }
}

/// The metric recorder of this test binary (installed once), and every counter value read
/// from it so far: a snapshot resets the recorder's counters, so each snapshot is added to
/// this running total, which tests running at the same time then all see.
fn recorder() -> &'static (Snapshotter, Mutex<Totals>) {
    static RECORDER: OnceLock<(Snapshotter, Mutex<Totals>)> = OnceLock::new();
    RECORDER.get_or_init(|| {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        recorder
            .install()
            .expect("the only metrics recorder of the suite");
        (snapshotter, Mutex::new(Totals::default()))
    })
}

/// Every metric value read so far: counters and histogram sizes summed; for a gauge (which a
/// snapshot resets to 0, so that an increment or a decrement after it reads as the change
/// alone), the sum of what each snapshot read and the last non-zero value.
#[derive(Default)]
struct Totals {
    counts: HashMap<String, u64>,
    gauges: HashMap<String, (f64, f64)>,
}

/// Reads a snapshot into the running totals.
fn snapshot() -> std::sync::MutexGuard<'static, Totals> {
    let (snapshotter, totals) = recorder();
    let mut totals = totals.lock().unwrap();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let key = key.key();
        let labels = key
            .labels()
            .map(|l| (l.key().to_owned(), l.value().to_owned()));
        let id = metric_id(key.name(), labels);
        match value {
            DebugValue::Counter(n) => *totals.counts.entry(id).or_default() += n,
            DebugValue::Histogram(values) => {
                *totals.counts.entry(id).or_default() += values.len() as u64;
            }
            DebugValue::Gauge(value) => {
                let (sum, last) = totals.gauges.entry(id).or_default();
                *sum += value.into_inner();
                if value.into_inner() != 0.0 {
                    *last = value.into_inner();
                }
            }
        }
    }
    totals
}

fn wanted(name: &str, labels: &[(&str, &str)]) -> String {
    metric_id(
        name,
        labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    )
}

/// Gauge `name`: the sum of its changes (for one moved by increments and decrements) and its
/// last value set (for one that is set).
fn gauge(name: &str, labels: &[(&str, &str)]) -> (f64, f64) {
    snapshot()
        .gauges
        .get(&wanted(name, labels))
        .copied()
        .unwrap_or_default()
}

/// `name{k="v",…}` with the labels sorted.
fn metric_id(name: &str, labels: impl IntoIterator<Item = (String, String)>) -> String {
    let mut labels: Vec<String> = labels
        .into_iter()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect();
    labels.sort();
    format!("{name}{{{}}}", labels.join(","))
}

/// The value of counter `name` with exactly these labels (0 if never incremented); for a
/// histogram, how many values it recorded.
fn counter(name: &str, labels: &[(&str, &str)]) -> u64 {
    snapshot()
        .counts
        .get(&wanted(name, labels))
        .copied()
        .unwrap_or(0)
}

fn system(backend: Backend) -> &'static str {
    match backend {
        Backend::Sql(Dialect::Postgres) => "postgresql",
        Backend::Sql(Dialect::MySql) => "mysql",
        Backend::Sql(Dialect::Sqlite) => "sqlite",
        _ => "mongodb",
    }
}

/// The statements the stacking test runs through each stack: an insert, a read by key, a
/// count, an update, a failing insert (a duplicate key) and a raw statement (which both
/// layers see through `call`).
async fn stacked_workload(db: &impl polyorm::Executor, id: i64) -> polyorm::Result<()> {
    Stacked {
        id,
        secret: "a".into(),
    }
    .insert(db)
    .await?;
    assert!(Stacked::find(db, id).await?.is_some());
    assert_eq!(
        Stacked::query()
            .filter(Stacked::ID.eq(id))
            .count(db)
            .await?,
        1
    );
    Stacked::update_many()
        .set(Stacked::SECRET, "b")
        .filter(Stacked::ID.eq(id))
        .execute(db)
        .await?;
    assert!(
        Stacked {
            id,
            secret: "c".into()
        }
        .insert(db)
        .await
        .is_err()
    );
    if db.backend() != Backend::MongoDb {
        db.execute_raw("SELECT 1").await?;
    }
    Ok(())
}

/// What a statement span says, without its timing: name, rows, error.
fn span_summary(span: &Captured) -> [Option<String>; 4] {
    [
        "otel.name",
        "db.response.returned_rows",
        "orm.rows_affected",
        "error.type",
    ]
    .map(|field| span.fields.get(field).cloned())
}

/// The totals of `stats` that do not depend on time, and whether its times were counted.
fn stats_summary(stats: polyorm::observe::QueryStats) -> (u64, u64, u64, u64, bool) {
    (
        stats.statements,
        stats.errors,
        stats.rows_returned,
        stats.rows_affected,
        stats.slowest > Duration::ZERO && stats.total_time >= stats.slowest,
    )
}

suite! {
    async fn every_statement_has_a_span_with_the_database_conventions_and_no_bound_value(db) {
        db.create_table::<Item>().await?;
        let capture = Capture::default();
        let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
        let traced = db.layer(Tracing::new().slow_query_threshold(Duration::ZERO));
        let item = Item { id: 1, secret: SECRET.into() };
        item.clone().insert(&traced).await?;
        let found = Item::query().filter(Item::SECRET.eq(SECRET)).all(&traced).await?;
        assert_eq!(found, vec![item.clone()]);
        let err = item.clone().insert(&traced).await.unwrap_err();
        assert!(matches!(err, Error::UniqueViolation { .. }), "{err:?}");

        let mongo = db.backend() == Backend::MongoDb;
        let (insert, select) = if mongo { ("insert", "find") } else { ("INSERT", "SELECT") };
        let spans = capture.statements();
        assert_eq!(spans.len(), 3, "{spans:#?}");
        for span in &spans {
            assert_eq!(span.fields["db.system.name"], system(db.backend()));
            assert_eq!(span.fields["db.collection.name"], "obs_items");
            assert_eq!(span.fields["otel.kind"], "client");
            for value in span.fields.values() {
                assert!(!value.contains(SECRET), "a bound value was recorded: {span:#?}");
            }
        }
        assert_eq!(spans[0].fields["otel.name"], format!("{insert} obs_items"));
        assert_eq!(spans[0].fields["orm.rows_affected"], "1");
        assert_eq!(spans[1].fields["db.operation.name"], select);
        assert_eq!(spans[1].fields["db.response.returned_rows"], "1");
        assert_eq!(spans[2].fields["error.type"], "unique_violation");
        assert_eq!(spans[2].fields["otel.status_code"], "ERROR");
        if !mongo {
            let text = &spans[1].fields["db.query.text"];
            assert!(text.starts_with("SELECT") && text.contains("obs_items"), "{text}");
        }
        // A zero threshold makes every statement slow: one event each, under its span.
        let events = capture.events();
        let slow: Vec<&Captured> = events.iter().filter(|e| e.name == "polyorm::slow_query").collect();
        assert_eq!(slow.len(), 3, "{events:#?}");
        assert!(slow.iter().all(|e| e.parent.as_deref() == Some("db.statement")));
        assert!(slow.iter().all(|e| !e.fields.values().any(|v| v.contains(SECRET))));
        Ok(())
    }

    async fn a_transaction_has_a_span_its_statements_nest_under(db) {
        db.create_table::<Item>().await?;
        let capture = Capture::default();
        let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
        let traced = db.layer(Tracing::new());
        let tx = Begin::begin(&traced).await?;
        Item { id: 1, secret: "a".into() }.insert(&tx).await?;
        tx.commit().await?;
        let tx = Begin::begin(&traced).await?;
        Item { id: 2, secret: "b".into() }.insert(&tx).await?;
        tx.rollback().await?;
        assert_eq!(Item::query().count(db).await?, 1);

        let spans = capture.spans();
        let transactions: Vec<&Captured> = spans.iter().filter(|s| s.name == "db.transaction").collect();
        assert_eq!(transactions.len(), 2, "{spans:#?}");
        assert_eq!(transactions[0].fields["orm.outcome"], "commit");
        assert_eq!(transactions[1].fields["orm.outcome"], "rollback");
        let statements = capture.statements();
        assert_eq!(statements.len(), 2);
        assert!(statements.iter().all(|s| s.parent.as_deref() == Some("db.transaction")), "{statements:#?}");
        Ok(())
    }

    async fn statements_are_counted_by_backend_model_operation_and_outcome(db) {
        db.create_table::<Item>().await?;
        let metrics = Metrics::new();
        let measured = db.layer(metrics.clone());
        let backend = system(db.backend());
        let mongo = db.backend() == Backend::MongoDb;
        let (insert, select) = if mongo { ("insert", "find") } else { ("INSERT", "SELECT") };
        let labels = |operation: &'static str, outcome: &'static str| {
            [("backend", backend), ("model", "obs_items"), ("operation", operation), ("outcome", outcome)]
        };
        let before_ok = counter("orm_statements_total", &labels(select, "ok"));
        let before_dup = counter("orm_statements_total", &labels(insert, "unique_violation"));
        Item { id: 1, secret: "a".into() }.insert(&measured).await?;
        Item::insert_many(&measured, &[Item { id: 2, secret: "b".into() }, Item { id: 3, secret: "c".into() }]).await?;
        for _ in 0..3 {
            assert_eq!(Item::query().all(&measured).await?.len(), 3);
        }
        assert!(Item { id: 1, secret: "again".into() }.insert(&measured).await.is_err());
        assert_eq!(counter("orm_statements_total", &labels(select, "ok")) - before_ok, 3);
        assert_eq!(counter("orm_statements_total", &labels(insert, "unique_violation")) - before_dup, 1);

        let stats = metrics.stats();
        assert_eq!(stats.statements, 6);
        assert_eq!(stats.errors, 1);
        assert_eq!(stats.rows_returned, 9);
        assert_eq!(stats.rows_affected, 3);
        assert!(stats.slowest > Duration::ZERO && stats.total_time >= stats.slowest, "{stats:?}");

        let tx = Begin::begin(&measured).await?;
        Item::delete_many().filter(Item::ID.eq(3)).execute(&tx).await?;
        tx.commit().await?;
        assert_eq!(metrics.stats().commits, 1);
        assert_eq!(metrics.stats().rows_affected, 4);
        Ok(())
    }

    async fn pool_acquires_are_spanned_and_measured_and_spans_name_the_server(db) {
        db.create_table::<Item>().await?;
        let capture = Capture::default();
        let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
        let backend = system(db.backend());
        let acquired = [("backend", backend), ("outcome", "ok")];
        let before = counter("orm_pool_acquire_seconds", &acquired);
        let traced = db.observe_pool().layer(Tracing::new().server(db.server()));
        Item { id: 1, secret: "a".into() }.insert(&traced).await?;
        assert_eq!(Item::query().count(&traced).await?, 1);
        let tx = Begin::begin(&traced).await?;
        Item { id: 2, secret: "b".into() }.insert(&tx).await?;
        tx.commit().await?;

        let server = db.server();
        assert!(server.namespace.is_some(), "{server:?}");
        let spans = capture.spans();
        let named: Vec<&Captured> = spans.iter().filter(|s| s.name != "db.pool.acquire").collect();
        assert_eq!(named.len(), 4, "{spans:#?}");
        for span in named {
            assert_eq!(span.fields.get("db.namespace"), server.namespace.as_ref(), "{span:#?}");
            assert_eq!(span.fields.get("server.address"), server.address.as_ref(), "{span:#?}");
            assert_eq!(span.fields.get("server.port"), server.port.map(|p| p.to_string()).as_ref());
        }
        let acquires: Vec<&Captured> = spans.iter().filter(|s| s.name == "db.pool.acquire").collect();
        if db.backend() == Backend::MongoDb {
            // The driver's pool is its own: nothing to report.
            assert!(acquires.is_empty(), "{acquires:#?}");
            assert_eq!(counter("orm_pool_acquire_seconds", &acquired), before);
            return Ok(());
        }
        // Under the statement that needed a connection (MySQL reads an inserted row back on
        // a second one), and one for the transaction's, under the caller's span (none here).
        assert!(acquires.len() >= 3, "{spans:#?}");
        assert_eq!(acquires.iter().filter(|s| s.parent.is_none()).count(), 1, "{acquires:#?}");
        assert!(acquires.iter().all(|s| s.parent.is_none() || s.parent.as_deref() == Some("db.statement")));
        assert!(acquires.iter().all(|s| s.fields["db.system.name"] == backend));
        assert_eq!(counter("orm_pool_acquire_seconds", &acquired) - before, acquires.len() as u64);
        let connections = |state| gauge("orm_pool_connections", &[("backend", backend), ("state", state)]).1;
        assert!(connections("open") >= 1.0, "open connections");
        assert!(connections("in_use") >= 1.0, "the acquiring connection is in use");
        assert!(connections("open") <= 3.0, "the harness's pool has at most 3");
        // Every task that waited has its connection.
        assert_eq!(gauge("orm_pool_waiting", &[("backend", backend)]).0, 0.0);
        Ok(())
    }

    async fn each_eager_loading_level_has_a_span_under_the_callers(db) {
        db.create_table::<Author>().await?;
        db.create_table::<Book>().await?;
        Author { id: 1, name: "Le Guin".into() }.insert(db).await?;
        Book::insert_many(db, &[
            Book { id: 1, author_id: 1, title: "The Dispossessed".into() },
            Book { id: 2, author_id: 1, title: "Lathe of Heaven".into() },
        ]).await?;
        let capture = Capture::default();
        let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
        let traced = db.layer(Tracing::new());
        let handler = tracing::info_span!("handler");
        let loaded = tracing::Instrument::instrument(
            Author::query().with(Author::books()).all(&traced),
            handler,
        )
        .await?;
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].1.len(), 2);
        let spans = capture.spans();
        let levels: Vec<&Captured> = spans.iter().filter(|s| s.name == "orm.eager_load").collect();
        assert_eq!(levels.len(), 1, "{spans:#?}");
        assert_eq!(levels[0].parent.as_deref(), Some("handler"));
        assert_eq!(levels[0].fields["db.collection.name"], "obs_books");
        assert_eq!(levels[0].fields["orm.keys"], "1");
        let statements = capture.statements();
        assert_eq!(statements.len(), 2);
        assert_eq!(statements[0].parent.as_deref(), Some("handler"));
        assert_eq!(statements[1].parent.as_deref(), Some("orm.eager_load"));
        assert_eq!(statements[1].fields["db.collection.name"], "obs_books");
        Ok(())
    }

    async fn bound_values_are_recorded_only_when_asked_and_never_a_redacted_column(db) {
        db.create_table::<Item>().await?;
        let capture = Capture::default();
        let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
        let traced = db.layer(Tracing::new().record_values(["secret"]));
        Item { id: 7, secret: SECRET.into() }.insert(&traced).await?;
        assert_eq!(Item::query().filter(Item::SECRET.eq(SECRET)).all(&traced).await?.len(), 1);
        Item::update_many().set(Item::SECRET, SECRET).filter(Item::ID.eq(7)).execute(&traced).await?;
        let plain = db.layer(Tracing::new());
        assert_eq!(Item::query().filter(Item::ID.eq(7)).count(&plain).await?, 1);

        let statements = capture.statements();
        assert_eq!(statements.len(), 4, "{statements:#?}");
        let shown = |i: usize| statements[i].fields.get("db.query.parameters").cloned();
        assert_eq!(shown(0).as_deref(), Some("obs_items.id=7, obs_items.secret=[redacted]"));
        assert_eq!(shown(1).as_deref(), Some("obs_items.secret=[redacted]"));
        assert_eq!(shown(2).as_deref(), Some("obs_items.secret=[redacted], obs_items.id=7"));
        assert_eq!(shown(3), None, "values are recorded only when asked for");
        for span in capture.spans() {
            assert!(!span.fields.values().any(|v| v.contains(SECRET)), "{span:#?}");
        }
        Ok(())
    }

    async fn a_rerun_transaction_is_counted_with_its_reason(db) {
        db.create_table::<Item>().await?;
        let backend = system(db.backend());
        let labels = [("backend", backend), ("reason", "serialization_failure")];
        let before = counter("orm_transaction_retries_total", &labels);
        let attempts = Arc::new(Mutex::new(0_i64));
        let policy = polyorm::RetryPolicy::default();
        db.transaction_with_retry(polyorm::TxOptions::new(), policy, |tx| {
            let attempts = attempts.clone();
            async move {
                let attempt = {
                    let mut n = attempts.lock().unwrap();
                    *n += 1;
                    *n
                };
                Item { id: attempt, secret: "x".into() }.insert(&tx).await?;
                if attempt == 1 {
                    return Err(Error::SerializationFailure { source: "a conflict, made up".into() });
                }
                Ok(())
            }
        })
        .await?;
        assert_eq!(*attempts.lock().unwrap(), 2);
        assert_eq!(Item::query().all(db).await?.iter().map(|i| i.id).collect::<Vec<_>>(), [2]);
        assert_eq!(counter("orm_transaction_retries_total", &labels) - before, 1);
        Ok(())
    }

    async fn tracing_and_metrics_stacked_in_either_order_record_what_each_records_alone(db) {
        db.create_table::<Stacked>().await?;
        let capture = Capture::default();
        let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(capture.clone()));
        let backend = system(db.backend());
        let select = if db.backend() == Backend::MongoDb { "find" } else { "SELECT" };
        let selects = || counter("orm_statements_total", &[("backend", backend), ("model", "obs_stacked"), ("operation", select), ("outcome", "ok")]);
        let traced = || Tracing::new().slow_query_threshold(Duration::ZERO);

        // Each alone, then metrics below tracing, then tracing below metrics: each run's
        // spans, slow-statement events, totals and recorder counts.
        let mut runs = Vec::new();
        for (run, id) in [("alone", 1), ("metrics below", 11), ("tracing below", 21)] {
            let metrics = Metrics::new();
            let (spans_before, events_before, selects_before) =
                (capture.statements().len(), capture.events().len(), selects());
            match run {
                "alone" => {
                    stacked_workload(&db.layer(metrics.clone()), id).await?;
                    stacked_workload(&db.layer(traced()), id + 1).await?;
                }
                "metrics below" => stacked_workload(&db.layer(metrics.clone()).layer(traced()), id).await?,
                _ => stacked_workload(&db.layer(traced()).layer(metrics.clone()), id).await?,
            }
            let spans: Vec<_> = capture.statements()[spans_before..].iter().map(span_summary).collect();
            let slow = capture.events()[events_before..]
                .iter()
                .filter(|e| e.name == "polyorm::slow_query" && e.parent.as_deref() == Some("db.statement"))
                .count();
            runs.push((run, spans, slow, stats_summary(metrics.stats()), selects() - selects_before));
        }
        let (_, alone_spans, alone_slow, alone_stats, alone_selects) = &runs[0];
        let raw = u64::from(db.backend() != Backend::MongoDb);
        assert_eq!(alone_spans.len() as u64, 5 + raw, "{alone_spans:#?}");
        assert_eq!(*alone_slow as u64, 5 + raw);
        assert_eq!(alone_stats.0, 5 + raw, "{alone_stats:?}");
        assert_eq!(alone_stats.1, 1);
        assert!(alone_stats.4, "times are counted: {alone_stats:?}");
        assert_eq!(*alone_selects, 2, "the read by key and the count");
        for (run, spans, slow, stats, selects) in &runs[1..] {
            assert_eq!(spans, alone_spans, "{run}");
            assert_eq!(slow, alone_slow, "{run}");
            assert_eq!(stats, alone_stats, "{run}");
            assert_eq!(selects, alone_selects, "{run}");
        }
        Ok(())
    }
}
