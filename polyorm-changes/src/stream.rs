//! [`ChangeStream`]: a reader task that pulls batches from a source, decodes them and hands
//! them over through a bounded channel, so a slow consumer stops the reading (backpressure)
//! instead of growing a buffer.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use polyorm_core::exec::Backend;
use polyorm_core::{IntoValue, Model};
use tokio::sync::mpsc;

use crate::decode::decode_change;
use crate::error::{Error, Result};
use crate::event::{Event, Position};
use crate::raw::RawChange;
use crate::source::{Acknowledger, ChangeSource, TableRef};

/// Counters of a running stream (shared with its reader task).
#[derive(Debug, Default)]
pub struct StreamStats {
    read: AtomicU64,
    delivered: AtomicU64,
    errors: AtomicU64,
}

impl StreamStats {
    /// Changes read from the source so far (including those filtered out).
    pub fn read(&self) -> u64 {
        self.read.load(Ordering::Relaxed)
    }

    /// Items handed to the channel so far (events and errors).
    pub fn delivered(&self) -> u64 {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Errors reported (reading or decoding).
    pub fn errors(&self) -> u64 {
        self.errors.load(Ordering::Relaxed)
    }
}

type DecodeFn<T> = Box<dyn Fn(Backend, RawChange) -> Option<Result<T>> + Send + Sync>;

/// Builds a [`ChangeStream`]: which tables, how items are decoded and filtered, how much is
/// buffered.
pub struct StreamBuilder<'s, T> {
    source: &'s dyn ChangeSource,
    tables: Vec<TableRef>,
    decode: DecodeFn<T>,
    buffer: usize,
    batch: usize,
}

/// `Model::changes(&source)`: a typed change stream of one model (implemented for every
/// model).
pub trait ModelChanges: Model {
    /// A stream of this model's changes from `source`; see [`StreamBuilder`].
    fn changes(source: &dyn ChangeSource) -> StreamBuilder<'_, Event<Self>> {
        StreamBuilder::new(
            source,
            vec![table_of(Self::schema())],
            Box::new(|backend, raw| decode_change::<Self>(backend, &raw)),
        )
    }
}

impl<M: Model> ModelChanges for M {}

fn table_of(schema: &polyorm_core::schema::ModelSchema) -> TableRef {
    TableRef {
        schema: None,
        table: schema.table.to_owned(),
    }
}

impl<'s> ChangeStream<RawChange> {
    /// A stream over several models' tables yielding [`RawChange`]s; decode each with
    /// [`RawChange::decode`] for the model of its table (`meta.table`).
    pub fn builder(source: &'s dyn ChangeSource) -> StreamBuilder<'s, RawChange> {
        StreamBuilder::new(source, Vec::new(), Box::new(|_, raw| Some(Ok(raw))))
    }
}

impl RawChange {
    /// This change as an event of `M`, or `None` when it is on another table.
    pub fn decode<M: Model>(&self, backend: Backend) -> Option<Result<Event<M>>> {
        decode_change::<M>(backend, self)
    }
}

impl<'s> StreamBuilder<'s, RawChange> {
    /// Adds `M`'s table to the stream.
    pub fn model<M: Model>(mut self) -> Self {
        self.tables.push(table_of(M::schema()));
        self
    }

    /// Adds a table by name (in any schema).
    pub fn table(mut self, table: impl Into<String>) -> Self {
        self.tables.push(TableRef {
            schema: None,
            table: table.into(),
        });
        self
    }
}

impl<'s, M: Model> StreamBuilder<'s, Event<M>> {
    /// Keeps only events whose row (the new row; for a delete, the old row when known) has
    /// `column` equal to `value`. A delete without its old row, and a truncate, are kept (their
    /// rows' columns are unknown).
    pub fn filter_eq<T: polyorm_core::FieldType, V: IntoValue<T>>(
        self,
        column: polyorm_core::Column<M, T, impl polyorm_core::ColumnId>,
        value: V,
    ) -> Self {
        let index = M::schema()
            .columns
            .iter()
            .position(|c| c.name == column.name())
            .expect("a column handle of the model names one of its columns");
        let value = value.into_value();
        self.filter(move |event| match &event.change {
            // A delete without its old row, or a truncate: the rows' columns are unknown.
            crate::Change::Delete { before: None, .. } | crate::Change::Truncate => true,
            crate::Change::Delete {
                before: Some(row), ..
            } => row.column_value(index) == value,
            change => change
                .row()
                .is_some_and(|row| row.column_value(index) == value),
        })
    }

    /// Keeps only events for which `keep` returns true.
    pub fn filter(self, keep: impl Fn(&Event<M>) -> bool + Send + Sync + 'static) -> Self {
        let StreamBuilder {
            source,
            tables,
            decode,
            buffer,
            batch,
        } = self;
        StreamBuilder {
            source,
            tables,
            decode: Box::new(move |backend, raw| match decode(backend, raw)? {
                Ok(event) if !keep(&event) => None,
                other => Some(other),
            }),
            buffer,
            batch,
        }
    }
}

impl<'s, T: Send + 'static> StreamBuilder<'s, T> {
    fn new(source: &'s dyn ChangeSource, tables: Vec<TableRef>, decode: DecodeFn<T>) -> Self {
        StreamBuilder {
            source,
            tables,
            decode,
            buffer: 256,
            batch: 512,
        }
    }

    /// How many decoded events wait for the consumer at most (default 256). With the batch
    /// being decoded, at most `buffer + batch` (or one transaction, if larger) changes are in
    /// memory, however slow the consumer.
    pub fn buffer(mut self, events: usize) -> Self {
        self.buffer = events.max(1);
        self
    }

    /// About how many changes one read from the source returns (default 512).
    pub fn batch(mut self, changes: usize) -> Self {
        self.batch = changes.max(1);
        self
    }

    /// Opens the source and starts reading (on the current tokio runtime).
    pub async fn start(self) -> Result<ChangeStream<T>> {
        let backend = self.source.backend();
        let (mut reader, acker) = self.source.open(self.tables).await?;
        let (tx, rx) = mpsc::channel(self.buffer);
        let stats = Arc::new(StreamStats::default());
        let counters = stats.clone();
        let decode = self.decode;
        let batch = self.batch;
        let task = tokio::spawn(async move {
            loop {
                let changes = match reader.next_batch(batch).await {
                    Ok(changes) => changes,
                    Err(e) => {
                        counters.errors.fetch_add(1, Ordering::Relaxed);
                        let fatal = matches!(e, Error::NotConfigured { .. });
                        if tx.send(Err(e)).await.is_err() || fatal {
                            return;
                        }
                        // A lost connection: try again soon (the pool reconnects).
                        tokio::time::sleep(Duration::from_millis(200)).await;
                        continue;
                    }
                };
                for raw in changes {
                    counters.read.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = decode(backend, raw) else {
                        continue;
                    };
                    if item.is_err() {
                        counters.errors.fetch_add(1, Ordering::Relaxed);
                    }
                    // Waits while the buffer is full: the source is not read meanwhile.
                    if tx.send(item).await.is_err() {
                        return;
                    }
                    counters.delivered.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        Ok(ChangeStream {
            rx,
            acker,
            stats,
            task,
        })
    }
}

/// Committed changes, in commit order, as a [`Stream`] of `Result<T>` (`T` is
/// [`Event<M>`](Event) for `Model::changes`, [`RawChange`] for a stream over several models).
///
/// Acknowledge each processed event with [`ChangeStream::ack`]: a stream opened again later
/// (in this process or another) starts right after the last acknowledged position, so every
/// change is delivered at least once. Dropping the stream stops its reader.
pub struct ChangeStream<T> {
    rx: mpsc::Receiver<Result<T>>,
    acker: Arc<dyn Acknowledger>,
    stats: Arc<StreamStats>,
    task: tokio::task::JoinHandle<()>,
}

impl<T> ChangeStream<T> {
    /// The next item (`None` once the reader stopped).
    pub async fn next(&mut self) -> Option<Result<T>> {
        self.rx.recv().await
    }

    /// Records that everything up to and including `position` is processed, durably (the
    /// replication slot and the position table on PostgreSQL). Acknowledging is cumulative:
    /// acknowledge in order.
    pub async fn ack(&self, position: &Position) -> Result<()> {
        self.acker.ack(position).await
    }

    /// The acknowledger, for acknowledging from another task.
    pub fn acknowledger(&self) -> Arc<dyn Acknowledger> {
        self.acker.clone()
    }

    /// Counters of this stream.
    pub fn stats(&self) -> &StreamStats {
        &self.stats
    }

    /// Events waiting in the buffer now.
    pub fn buffered(&self) -> usize {
        self.rx.len()
    }
}

impl<T> Stream for ChangeStream<T> {
    type Item = Result<T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.poll_recv(cx)
    }
}

impl<T> Drop for ChangeStream<T> {
    fn drop(&mut self) {
        self.task.abort();
    }
}
