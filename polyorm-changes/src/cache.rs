//! Query-cache invalidation from changes: every change to a table makes the cached reads of
//! that table misses, in every process sharing the cache's Redis tier, whoever wrote it.

use crate::event::ChangeItem;
use crate::stream::ChangeStream;

impl<T: ChangeItem> ChangeStream<T> {
    /// Consumes the stream on a task of its own: each change invalidates its table in `cache`
    /// ([`Cache::invalidate_table`](polyorm_cache::Cache::invalidate_table)), then is
    /// acknowledged, so a restarted invalidator misses no change. Errors of the stream are
    /// logged (`tracing`) and the task goes on; it ends when the stream does, or when the
    /// returned handle is aborted.
    pub fn invalidate(mut self, cache: polyorm_cache::Cache) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            while let Some(item) = self.next().await {
                match item {
                    Ok(item) => {
                        let meta = item.meta();
                        cache.invalidate_table(&meta.table).await;
                        if let Err(e) = self.ack(&meta.position).await {
                            tracing::warn!(error = %e, "cache invalidator: acknowledging failed");
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cache invalidator: change stream error"),
                }
            }
        })
    }
}
