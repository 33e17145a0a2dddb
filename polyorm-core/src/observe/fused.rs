//! One future for both observability layers (hidden plumbing of [`Tracing`] and [`Metrics`]).
//!
//! Each layer used to wrap the statement's future in a future of its own, so that with both
//! stacked every statement paid two wrappers, two polls and one more move of the whole
//! statement's future (as large as the stack below) per layer. Now each typed operation goes
//! down the stack as a value ([`TypedOp`]) with an [`Observation`]: a `Tracing` or `Metrics`
//! layer adds its part ([`Traced`]: the span, if anyone listens; [`Timed`]: the clock's start
//! and the labels) around the observation it was given and hands both to the executor below
//! ([`Executor::observed`]); the first executor or layer that is not an observability layer
//! runs the operation and wraps its future, once, in an [`Observed`] future that does every
//! part's work when the statement ends. Either order of the two layers, either alone, or
//! several of each, give one wrapper; the parts are types, so nothing is looked up or
//! allocated to combine them.
//!
//! [`Tracing`]: super::Tracing
//! [`Metrics`]: super::Metrics
//! [`Executor::observed`]: crate::exec::Executor::observed

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::Counted;
#[cfg(feature = "metrics")]
use super::metrics::Timing;
#[cfg(feature = "tracing")]
use super::tracing::Watch;
use crate::error::Result;
use crate::exec::{Decoder, ExecResult, Executor, Layer, Op};
use crate::query::ir::{InsertQuery, SelectQuery, Statement};

/// One typed operation of an [`Executor`] as a value, with its arguments: runnable on an
/// executor or through a layer, and described for the observability layers (its verb, its
/// model, its rows). Implemented for the five typed operations ([`FetchAll`],
/// [`FetchOptional`], [`Count`], [`InsertReturning`], [`Execute`]) only.
pub trait TypedOp: Send + Sized {
    /// What the operation returns.
    type Output: Send;
    /// The row type of its [`Op`] (`()` for an operation without rows).
    type Row: Send + 'static;

    /// Runs the operation on `executor`.
    fn run<E: Executor + ?Sized>(
        self,
        executor: &E,
    ) -> impl Future<Output = Result<Self::Output>> + Send;

    /// Runs the operation through `layer`'s typed method, on `inner`.
    fn run_through<L: Layer + ?Sized, E: Executor>(
        self,
        layer: &L,
        inner: &E,
    ) -> impl Future<Output = Result<Self::Output>> + Send;

    /// The SQL verb (`SELECT`, `INSERT`, `UPDATE`, `DELETE`).
    fn verb(&self) -> &'static str;

    /// The table the operation reads or writes.
    fn model(&self) -> &'static str;

    /// The operation as an [`Op`] (its statement cloned), for a span that shows it.
    fn to_op(&self) -> Op<Self::Row>;

    /// What the operation's output reports (rows returned or written).
    fn counted(output: &Self::Output) -> Counted;
}

/// [`Executor::fetch_all`] as a value.
#[derive(Debug)]
pub struct FetchAll<T> {
    pub(crate) query: SelectQuery,
    pub(crate) decode: Decoder<T>,
}

impl<T: Send + 'static> TypedOp for FetchAll<T> {
    type Output = Vec<T>;
    type Row = T;

    #[inline]
    fn run<E: Executor + ?Sized>(
        self,
        executor: &E,
    ) -> impl Future<Output = Result<Vec<T>>> + Send {
        executor.fetch_all(self.query, self.decode)
    }

    #[inline]
    fn run_through<L: Layer + ?Sized, E: Executor>(
        self,
        layer: &L,
        inner: &E,
    ) -> impl Future<Output = Result<Vec<T>>> + Send {
        layer.fetch_all(inner, self.query, self.decode)
    }

    fn verb(&self) -> &'static str {
        "SELECT"
    }

    fn model(&self) -> &'static str {
        self.query.schema.table
    }

    fn to_op(&self) -> Op<T> {
        Op::FetchAll(self.query.clone(), self.decode)
    }

    fn counted(rows: &Vec<T>) -> Counted {
        Counted::Returned(rows.len() as u64)
    }
}

/// [`Executor::fetch_optional`] as a value.
#[derive(Debug)]
pub struct FetchOptional<T> {
    pub(crate) query: SelectQuery,
    pub(crate) decode: Decoder<T>,
}

impl<T: Send + 'static> TypedOp for FetchOptional<T> {
    type Output = Option<T>;
    type Row = T;

    #[inline]
    fn run<E: Executor + ?Sized>(
        self,
        executor: &E,
    ) -> impl Future<Output = Result<Option<T>>> + Send {
        executor.fetch_optional(self.query, self.decode)
    }

    #[inline]
    fn run_through<L: Layer + ?Sized, E: Executor>(
        self,
        layer: &L,
        inner: &E,
    ) -> impl Future<Output = Result<Option<T>>> + Send {
        layer.fetch_optional(inner, self.query, self.decode)
    }

    fn verb(&self) -> &'static str {
        "SELECT"
    }

    fn model(&self) -> &'static str {
        self.query.schema.table
    }

    fn to_op(&self) -> Op<T> {
        Op::FetchOptional(self.query.clone(), self.decode)
    }

    fn counted(row: &Option<T>) -> Counted {
        Counted::Returned(u64::from(row.is_some()))
    }
}

/// [`Executor::count`] as a value.
#[derive(Debug)]
pub struct Count {
    pub(crate) query: SelectQuery,
}

impl TypedOp for Count {
    type Output = u64;
    type Row = ();

    #[inline]
    fn run<E: Executor + ?Sized>(self, executor: &E) -> impl Future<Output = Result<u64>> + Send {
        executor.count(self.query)
    }

    #[inline]
    fn run_through<L: Layer + ?Sized, E: Executor>(
        self,
        layer: &L,
        inner: &E,
    ) -> impl Future<Output = Result<u64>> + Send {
        layer.count(inner, self.query)
    }

    fn verb(&self) -> &'static str {
        "SELECT"
    }

    fn model(&self) -> &'static str {
        self.query.schema.table
    }

    fn to_op(&self) -> Op<()> {
        Op::Count(self.query.clone())
    }

    fn counted(_: &u64) -> Counted {
        Counted::Nothing
    }
}

/// [`Executor::insert_returning`] as a value.
#[derive(Debug)]
pub struct InsertReturning<T> {
    pub(crate) query: InsertQuery,
    pub(crate) decode: Decoder<T>,
}

impl<T: Send + 'static> TypedOp for InsertReturning<T> {
    type Output = T;
    type Row = T;

    #[inline]
    fn run<E: Executor + ?Sized>(self, executor: &E) -> impl Future<Output = Result<T>> + Send {
        executor.insert_returning(self.query, self.decode)
    }

    #[inline]
    fn run_through<L: Layer + ?Sized, E: Executor>(
        self,
        layer: &L,
        inner: &E,
    ) -> impl Future<Output = Result<T>> + Send {
        layer.insert_returning(inner, self.query, self.decode)
    }

    fn verb(&self) -> &'static str {
        "INSERT"
    }

    fn model(&self) -> &'static str {
        self.query.schema.table
    }

    fn to_op(&self) -> Op<T> {
        Op::InsertReturning(self.query.clone(), self.decode)
    }

    fn counted(_: &T) -> Counted {
        Counted::Affected(1)
    }
}

/// [`Executor::execute`] as a value.
#[derive(Debug)]
pub struct Execute {
    pub(crate) statement: Statement,
}

impl TypedOp for Execute {
    type Output = ExecResult;
    type Row = ();

    #[inline]
    fn run<E: Executor + ?Sized>(
        self,
        executor: &E,
    ) -> impl Future<Output = Result<ExecResult>> + Send {
        executor.execute(self.statement)
    }

    #[inline]
    fn run_through<L: Layer + ?Sized, E: Executor>(
        self,
        layer: &L,
        inner: &E,
    ) -> impl Future<Output = Result<ExecResult>> + Send {
        layer.execute(inner, self.statement)
    }

    fn verb(&self) -> &'static str {
        super::statement_verb(&self.statement)
    }

    fn model(&self) -> &'static str {
        self.statement.schema().table
    }

    fn to_op(&self) -> Op<()> {
        Op::Execute(self.statement.clone())
    }

    fn counted(done: &ExecResult) -> Counted {
        Counted::Affected(done.rows_affected)
    }
}

/// What the observability layers above an operation want done when it ends, each layer's
/// part around the parts of the layers above it: `()` (nothing), [`Traced`], [`Timed`].
pub trait Observation: Send {
    /// Whether a span is to be entered while the statement is polled.
    fn has_span(&self) -> bool;

    /// Called before each poll of the statement: starts the clocks at the first.
    fn start(&mut self);

    /// Runs `poll` inside every span (the outermost layer's entered first).
    fn in_spans<T>(&self, poll: impl FnOnce() -> T) -> T;

    /// Does every part's work for a statement that ended with `outcome` (the innermost
    /// layer's first): counts and times it, closes its span. Called once (the statement's
    /// future is not polled after it completes).
    fn finish<R>(&mut self, outcome: &Result<R>, counted: &impl Fn(&R) -> Counted);
}

/// Nothing to do: the observation the outermost observability layer starts from.
impl Observation for () {
    #[inline]
    fn has_span(&self) -> bool {
        false
    }

    #[inline]
    fn in_spans<T>(&self, poll: impl FnOnce() -> T) -> T {
        poll()
    }

    #[inline]
    fn start(&mut self) {}

    #[inline]
    fn finish<R>(&mut self, _: &Result<R>, _: &impl Fn(&R) -> Counted) {}
}

/// A `Tracing` layer's part: the statement's span, if anyone listens (`None` costs a word and
/// a test), around the parts of the layers above.
#[cfg(feature = "tracing")]
pub struct Traced<P> {
    pub(super) watch: Option<Box<Watch>>,
    pub(super) above: P,
}

#[cfg(feature = "tracing")]
impl<P: Observation> Observation for Traced<P> {
    #[inline]
    fn has_span(&self) -> bool {
        self.watch.is_some() || self.above.has_span()
    }

    #[inline]
    fn in_spans<T>(&self, poll: impl FnOnce() -> T) -> T {
        // Entered inside the spans of the layers above: this span nests under theirs.
        self.above.in_spans(|| {
            let _entered = self.watch.as_ref().map(|watch| watch.span.enter());
            poll()
        })
    }

    #[inline]
    fn start(&mut self) {
        self.above.start();
    }

    #[inline]
    fn finish<R>(&mut self, outcome: &Result<R>, counted: &impl Fn(&R) -> Counted) {
        if let Some(watch) = self.watch.take() {
            watch.close(outcome, counted);
        }
        self.above.finish(outcome, counted);
    }
}

/// A `Metrics` layer's part: the statement's labels and the clock's start, around the parts
/// of the layers above.
#[cfg(feature = "metrics")]
pub struct Timed<'m, P> {
    pub(super) timing: Timing<'m>,
    pub(super) above: P,
}

#[cfg(feature = "metrics")]
impl<P: Observation> Observation for Timed<'_, P> {
    #[inline]
    fn has_span(&self) -> bool {
        self.above.has_span()
    }

    #[inline]
    fn in_spans<T>(&self, poll: impl FnOnce() -> T) -> T {
        self.above.in_spans(poll)
    }

    #[inline]
    fn start(&mut self) {
        self.timing.start();
        self.above.start();
    }

    #[inline]
    fn finish<R>(&mut self, outcome: &Result<R>, counted: &impl Fn(&R) -> Counted) {
        self.timing.record(outcome, counted);
        self.above.finish(outcome, counted);
    }
}

pin_project_lite::pin_project! {
    /// A statement's future with what the observability layers above it do when it ends
    /// ([`Observation`]): polled inside their spans, if any; timed from its first poll;
    /// counted when it completes. Without a span, polling it is polling the statement's.
    pub struct Observed<F, P, C> {
        #[pin]
        statement: F,
        observation: P,
        counted: C,
    }
}

impl<F, P, C> Observed<F, P, C> {
    /// `statement` with `observation`; `counted` says what its output reports.
    #[inline]
    pub(crate) fn new(statement: F, observation: P, counted: C) -> Self {
        Observed {
            statement,
            observation,
            counted,
        }
    }
}

impl<R, F, P, C> Future for Observed<F, P, C>
where
    F: Future<Output = Result<R>>,
    P: Observation,
    C: Fn(&R) -> Counted,
{
    type Output = Result<R>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<R>> {
        let this = self.project();
        this.observation.start();
        let poll = if this.observation.has_span() {
            poll_in_spans(this.observation, this.statement, cx)
        } else {
            this.statement.poll(cx)
        };
        if let Poll::Ready(outcome) = &poll {
            this.observation.finish(outcome, this.counted);
        }
        poll
    }
}

/// Polls `statement` inside `observation`'s spans, out of line: only while a subscriber
/// listens.
#[cold]
#[inline(never)]
fn poll_in_spans<P: Observation, F: Future>(
    observation: &P,
    statement: Pin<&mut F>,
    cx: &mut Context<'_>,
) -> Poll<F::Output> {
    observation.in_spans(|| statement.poll(cx))
}
