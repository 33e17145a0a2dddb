//! Row streams: a select whose rows are decoded and handed over one at a time as the driver
//! reads them, so a read of any size runs in constant memory ([`Executor::fetch_stream`]).
//!
//! A stream holds its connection (a pooled connection, the transaction's, the held one) from
//! its first poll until it ends or is dropped: other statements of the same transaction or
//! held connection wait for it, a pool lends the stream one of its connections.

use std::pin::Pin;

use futures_core::Stream;

#[cfg(any(feature = "mongodb", feature = "dynamodb"))]
use super::Backend;
use super::Decoder;
use super::target::Target;
use crate::error::Result;
use crate::query::ir::SelectQuery;
use crate::sql::compile_select_shared;

/// The rows of a streamed select, each decoded as it arrives ([`Executor::fetch_stream`],
/// `Select::stream`). Read it with `futures::StreamExt::next`/`try_next` or
/// `tokio_stream::StreamExt`; dropping it early ends the read and gives the connection back.
///
/// [`Executor::fetch_stream`]: super::Executor::fetch_stream
pub type RowStream<'a, T> = Pin<Box<dyn Stream<Item = Result<T>> + Send + 'a>>;

/// The next item of `stream` (no `StreamExt` in polyorm-core's dependencies).
pub(crate) async fn next<T>(stream: &mut RowStream<'_, T>) -> Option<Result<T>> {
    std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await
}

/// [`Executor::fetch_stream`](super::Executor::fetch_stream) of every target.
///
/// On a pool, a statement refused because the connection prepared it before a schema change
/// is run again (as [`fetch_all`](super::Executor::fetch_all) does) as long as no row was
/// handed over: the server refused it before reading anything.
pub(crate) fn fetch_stream<X: Target, T: Send + 'static>(
    x: &X,
    query: SelectQuery,
    decode: Decoder<T>,
) -> RowStream<'_, T> {
    Box::pin(async_stream::try_stream! {
        #[cfg(feature = "mongodb")]
        if x.target_backend() == Backend::MongoDb {
            let mut session = x.session().await?;
            let mut rows = super::mongo::fetch_stream(X::mongo(&mut session)?, query, decode);
            while let Some(row) = next(&mut rows).await {
                yield row?;
            }
            return;
        }
        #[cfg(feature = "dynamodb")]
        if x.target_backend() == Backend::DynamoDb {
            let mut session = x.session().await?;
            let mut rows = super::dynamo::fetch_stream(X::dynamo(&mut session)?, query, decode);
            while let Some(row) = next(&mut rows).await {
                yield row?;
            }
            return;
        }
        let dialect = x.sql_dialect();
        let mut retries = x.stale_statement_retries();
        'run: loop {
            let statement = compile_select_shared(&query, dialect)?;
            let mut session = x.session().await?;
            let mut rows = X::sql(&mut session)?.fetch_stream(statement, decode);
            let mut handed_over = false;
            while let Some(row) = next(&mut rows).await {
                match row {
                    Err(e) if !handed_over && e.is_schema_changed() && retries > 0 => {
                        retries -= 1;
                        continue 'run;
                    }
                    row => {
                        handed_over = true;
                        yield row?;
                    }
                }
            }
            break;
        }
    })
}
