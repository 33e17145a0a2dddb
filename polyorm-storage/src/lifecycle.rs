//! Lifecycle: expiring objects by age under a prefix.
//!
//! The `object_store` crate has no API for the services' bucket lifecycle configuration, so
//! the rules run client-side: [`Lifecycle::run`] lists each rule's prefix and deletes what is
//! older than its age (in bulk where the store can). Run it periodically (a cron job, a
//! tokio interval); on S3, GCS and Azure the equivalent native rule can be set in the
//! bucket's own configuration instead.

use std::time::Duration;

use crate::consistency::now_ms;
use crate::error::Result;
use crate::store::Store;

/// Expiry rules of one store.
#[derive(Debug, Clone, Default)]
#[must_use]
pub struct Lifecycle {
    rules: Vec<(Option<String>, Duration)>,
}

impl Lifecycle {
    /// No rules.
    pub fn new() -> Self {
        Lifecycle::default()
    }

    /// Deletes objects under the directory `prefix` older than `age`.
    pub fn expire(mut self, prefix: impl Into<String>, age: Duration) -> Self {
        self.rules.push((Some(prefix.into()), age));
        self
    }

    /// Deletes any object of the store older than `age`.
    pub fn expire_all(mut self, age: Duration) -> Self {
        self.rules.push((None, age));
        self
    }

    /// Applies the rules to `store`; returns the keys deleted.
    pub async fn run(&self, store: &Store) -> Result<Vec<String>> {
        let mut deleted = Vec::new();
        for (prefix, age) in &self.rules {
            let cutoff = now_ms() - i64::try_from(age.as_millis()).unwrap_or(i64::MAX);
            let old: Vec<String> = store
                .list(prefix.as_deref())
                .await?
                .into_iter()
                .filter(|o| o.last_modified_ms <= cutoff)
                .map(|o| o.key)
                .collect();
            store.delete_many(&old).await?;
            deleted.extend(old);
        }
        Ok(deleted)
    }
}
