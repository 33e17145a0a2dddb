//! The `metrics` handles of [`Metrics`](super::Metrics), registered once per label set.
//!
//! `counter!` with labels known only at run time builds its key (a `Vec` of labels) and asks
//! the recorder for a handle on every call, about 600 instructions per statement even when no
//! recorder is installed. A statement's labels come from a closed set of `&'static str`s
//! (backend, table, operation, outcome), so the handles are kept per label set, looked up by
//! the addresses of those strings. Each thread also keeps the last label set it counted
//! (a run of statements on one model is the common case), so most statements skip the map's
//! lock and hash.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use metrics::{Counter, Histogram, Label};

use super::system_name;
use crate::exec::Backend;
use crate::sql::Dialect;

/// The labels of one statement's metrics. The backend is kept as itself, not as its
/// `db.system.name`: its name is read only when a label set is registered.
#[derive(Clone, Copy)]
pub(super) struct Labels {
    pub(super) backend: Backend,
    pub(super) model: &'static str,
    pub(super) operation: &'static str,
    pub(super) outcome: &'static str,
}

/// `backend` as a number, for the keys below.
#[inline]
fn backend_code(backend: Backend) -> u64 {
    match backend {
        Backend::Sql(Dialect::Postgres) => 0,
        Backend::Sql(Dialect::MySql) => 1,
        Backend::Sql(Dialect::Sqlite) => 2,
        Backend::MongoDb => 3,
        Backend::DynamoDb => 4,
    }
}

impl Labels {
    /// The label set as map key: the backend, and the strings' addresses and lengths (two
    /// equal strings at two addresses only register the same metric twice, which the
    /// recorder merges).
    fn key(&self) -> Key {
        let part = |s: &'static str| (s.as_ptr() as usize, s.len());
        let (c, d) = part(self.model);
        let (e, f) = part(self.operation);
        let (g, h) = part(self.outcome);
        Key([backend_code(self.backend) as usize, c, d, e, f, g, h])
    }
}

/// A label set as this thread's last one ([`LAST`]): the three strings' addresses, and their
/// lengths and the backend packed into a fourth word (the table's length in the low 32 bits,
/// the other two, short constants, and the backend in a byte each). Four words compare
/// inline, where the 56 bytes of a [`Key`] cost a call to `bcmp`. A label set whose lengths
/// do not fit is not kept ([`Labels::recent`]).
#[derive(Debug, Clone, Copy)]
struct Recent([u64; 4]);

impl Recent {
    /// Whether `self` and `other` are the same label set: the four words compared without a
    /// branch or a call (`==` on the array calls `bcmp`).
    #[inline]
    fn is(&self, other: &Recent) -> bool {
        let differ = |i: usize| self.0[i] ^ other.0[i];
        (differ(0) | differ(1) | differ(2) | differ(3)) == 0
    }
}

impl Labels {
    /// The label set as this thread's last one, when its lengths fit in [`Recent`]'s fields.
    #[inline]
    fn recent(&self) -> Option<Recent> {
        let (model, operation) = (self.model.len() as u64, self.operation.len() as u64);
        let outcome = self.outcome.len() as u64;
        if model > u64::from(u32::MAX) || (operation | outcome) > 0xFF {
            return None;
        }
        let address = |s: &'static str| s.as_ptr() as usize as u64;
        Some(Recent([
            address(self.model),
            address(self.operation),
            address(self.outcome),
            model | operation << 32 | outcome << 40 | backend_code(self.backend) << 48,
        ]))
    }
}

/// A label set's key: seven machine words, hashed word by word. (`[usize; 7]`'s own `Hash`
/// hands the hasher 56 bytes, which [`WordHasher`] would mix one byte at a time: 400
/// instructions a statement where seven words cost 30.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key([usize; 7]);

impl std::hash::Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        for word in self.0 {
            state.write_usize(word);
        }
    }
}

/// One statement's handles: its counter (with `outcome`) and its latency histogram.
#[derive(Clone)]
pub(super) struct StatementHandles {
    pub(super) count: Counter,
    pub(super) latency: Histogram,
}

/// Registered handles by label set. Handles come from the recorder installed when a label set
/// is first seen (install the recorder before the first statement, as `metrics` advises for
/// any kept handle).
#[derive(Debug)]
pub(super) struct Handles {
    /// Which `Handles` this is, for the per-thread cache (an address could be reused by
    /// another `Handles`, registered with another recorder; an id is never).
    id: u64,
    statements: RwLock<HashMap<Key, StatementHandles, BuildHasherDefault<WordHasher>>>,
}

impl Default for Handles {
    fn default() -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        Handles {
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            statements: RwLock::default(),
        }
    }
}

thread_local! {
    /// The label set this thread counted last: the id of its `Handles`, the label set, its
    /// handles.
    static LAST: RefCell<Option<(u64, Recent, StatementHandles)>> = const { RefCell::new(None) };
}

impl StatementHandles {
    /// Counts one statement that took `seconds`.
    #[inline]
    fn count(&self, seconds: f64) {
        self.count.increment(1);
        self.latency.record(seconds);
    }
}

impl std::fmt::Debug for StatementHandles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StatementHandles")
    }
}

impl Handles {
    /// Counts one statement of `labels` that took `seconds`: from this thread's last label
    /// set when it is the same (no lock, no hash), else from the map. Inlined into the
    /// statement's future: called out of line, its 64-byte label set was copied twice more.
    #[inline]
    pub(super) fn record(&self, labels: Labels, seconds: f64) {
        let recent = labels.recent();
        // `try_`: a thread being torn down, or a recorder that runs a statement of its own
        // while counting one (re-entry), goes to the map instead.
        let hit = recent.is_some_and(|recent| {
            LAST.try_with(|last| match last.try_borrow().as_deref() {
                Ok(Some((id, last_labels, handles)))
                    if *id == self.id && last_labels.is(&recent) =>
                {
                    handles.count(seconds);
                    true
                }
                _ => false,
            })
            .unwrap_or(false)
        });
        if !hit {
            self.record_from_map(labels, recent, seconds);
        }
    }

    /// [`record`](Handles::record) of a label set this thread did not count last: out of
    /// line, so that the common case stays a few instructions.
    #[cold]
    #[inline(never)]
    fn record_from_map(&self, labels: Labels, recent: Option<Recent>, seconds: f64) {
        let handles = self.statement(labels, labels.key());
        handles.count(seconds);
        // A thread being torn down keeps no cache (nothing to do then).
        let Some(recent) = recent else { return };
        let _ = LAST.try_with(|last| {
            if let Ok(mut last) = last.try_borrow_mut() {
                *last = Some((self.id, recent, handles));
            }
        });
    }

    /// The handles of `labels` (whose key is `key`), registered on first use.
    fn statement(&self, labels: Labels, key: Key) -> StatementHandles {
        if let Some(handles) = self
            .statements
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
        {
            return handles.clone();
        }
        let label = |k: &'static str, v: &'static str| Label::from_static_parts(k, v);
        let handles = StatementHandles {
            count: metrics::counter!(
                "orm_statements_total",
                vec![
                    label("backend", system_name(labels.backend)),
                    label("model", labels.model),
                    label("operation", labels.operation),
                    label("outcome", labels.outcome),
                ]
            ),
            latency: metrics::histogram!(
                "orm_statement_duration_seconds",
                vec![
                    label("backend", system_name(labels.backend)),
                    label("model", labels.model),
                    label("operation", labels.operation),
                ]
            ),
        };
        self.statements
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key, handles.clone());
        handles
    }
}

/// A hasher for keys made of machine words (addresses and lengths): one multiply and rotate
/// per word, where the default SipHash costs more than the lookup saves.
#[derive(Default)]
pub(super) struct WordHasher(u64);

impl Hasher for WordHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_usize(&mut self, word: usize) {
        self.write_u64(word as u64);
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    use metrics::{
        Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit,
    };

    use super::{Handles, Labels};
    use crate::exec::Backend;
    use crate::sql::Dialect;

    /// A recorder whose counters are atomics, one per metric key, kept for the test to read.
    #[derive(Default)]
    struct Counting(Mutex<HashMap<String, Arc<AtomicU64>>>);

    impl Counting {
        fn value(&self, operation: &str) -> u64 {
            let counters = self.0.lock().unwrap();
            counters
                .iter()
                .filter(|(key, _)| key.contains(&format!("operation={operation}")))
                .map(|(_, count)| count.load(Ordering::Relaxed))
                .sum()
        }
    }

    impl Recorder for Counting {
        fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
        fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}

        fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
            let name = key
                .labels()
                .map(|l| format!("{}={}", l.key(), l.value()))
                .collect::<Vec<_>>()
                .join(",");
            let count = self.0.lock().unwrap().entry(name).or_default().clone();
            Counter::from_arc(count)
        }

        fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
            Gauge::noop()
        }

        fn register_histogram(&self, _: &Key, _: &Metadata<'_>) -> Histogram {
            Histogram::noop()
        }
    }

    fn labels(operation: &'static str) -> Labels {
        Labels {
            backend: Backend::Sql(Dialect::Sqlite),
            model: "users",
            operation,
            outcome: "ok",
        }
    }

    #[test]
    fn alternating_label_sets_are_each_counted_on_their_own_metric() {
        let recorder = Counting::default();
        metrics::with_local_recorder(&recorder, || {
            let handles = Handles::default();
            for operation in ["SELECT", "INSERT", "SELECT", "SELECT", "INSERT"] {
                handles.record(labels(operation), 0.001);
            }
        });
        assert_eq!(recorder.value("SELECT"), 3);
        assert_eq!(recorder.value("INSERT"), 2);
    }

    #[test]
    fn a_label_set_too_long_for_the_thread_cache_is_counted_through_the_map() {
        // 300 bytes do not fit `Recent`'s byte of length: never kept as this thread's last
        // label set, so each statement must find its handles in the map, and a label set
        // that merely shares its address must not be counted on them.
        let long: &'static str = Box::leak("SELECT".repeat(50).into_boxed_str());
        let prefix: &'static str = &long[..6];
        let recorder = Counting::default();
        metrics::with_local_recorder(&recorder, || {
            let handles = Handles::default();
            for operation in [long, long, prefix, long] {
                handles.record(labels(operation), 0.001);
            }
        });
        assert_eq!(recorder.value(long), 3);
        assert_eq!(
            recorder.value("SELECT"),
            4,
            "the long set's 3 and the prefix's 1"
        );
    }

    #[test]
    fn a_new_metrics_layer_on_the_same_thread_counts_with_its_own_recorder() {
        // The thread's cached label set belongs to the first `Handles`; the second, made
        // after the first is gone (possibly at its address), must register its own handles.
        let (first, second) = (Counting::default(), Counting::default());
        metrics::with_local_recorder(&first, || {
            let handles = Handles::default();
            handles.record(labels("SELECT"), 0.001);
            handles.record(labels("SELECT"), 0.001);
        });
        metrics::with_local_recorder(&second, || {
            let handles = Handles::default();
            handles.record(labels("SELECT"), 0.001);
        });
        assert_eq!(first.value("SELECT"), 2);
        assert_eq!(second.value("SELECT"), 1);
    }
}
