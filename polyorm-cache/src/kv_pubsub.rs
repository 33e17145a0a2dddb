//! Subscriptions for [`Kv`]: the other half of [`Kv::publish`], on Redis and Redis Cluster.
//!
//! A subscription holds a connection of its own (a subscribed Redis connection can run no
//! other command). On a cluster it connects to the first node that answers: Redis Cluster
//! forwards every `PUBLISH` to every node over its bus, so any node hears every channel.
//! Memcached has no pub/sub ([`KvError::Unsupported`]).

use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use serde::de::DeserializeOwned;

use crate::kv::{Kv, KvError, decode};
use crate::shared::Store;

/// One message received by a [`KvSubscription`].
#[derive(Debug, Clone, PartialEq)]
pub struct KvMessage<T> {
    /// The channel it was published on, as given to [`Kv::publish`] (without the prefix).
    pub channel: String,
    /// The message.
    pub value: T,
}

/// Messages published on the channels of [`Kv::subscribe`], as a [`Stream`]; each item is the
/// message or, when it does not deserialize as `T`, [`KvError::Serde`]. Unsubscribes when
/// dropped. The stream ends when the connection is lost: subscribe again to go on (messages
/// published in between are not delivered, as with any Redis pub/sub).
pub struct KvSubscription<T> {
    messages: redis::aio::PubSubStream,
    /// `<prefix>:k:`, taken off each channel name.
    prefix: String,
    _values: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for KvSubscription<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvSubscription")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl<T: DeserializeOwned> KvSubscription<T> {
    /// The next message; `None` once the connection is gone.
    pub async fn next(&mut self) -> Option<Result<KvMessage<T>, KvError>> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }

    fn message(&self, msg: &redis::Msg) -> Result<KvMessage<T>, KvError> {
        let full = msg.get_channel_name();
        let channel = full.strip_prefix(&self.prefix).unwrap_or(full).to_owned();
        let value = decode(&channel, msg.get_payload_bytes())?;
        Ok(KvMessage { channel, value })
    }
}

impl<T: DeserializeOwned> Stream for KvSubscription<T> {
    type Item = Result<KvMessage<T>, KvError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        match Pin::new(&mut self.messages).poll_next(cx) {
            Poll::Ready(Some(msg)) => Poll::Ready(Some(self.message(&msg))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Kv<'_> {
    /// Subscribes to `channels` (under the cache's prefix, as [`Kv::publish`] names them):
    /// every message published on one of them from now on, typed as `T`. Redis and Redis
    /// Cluster; Memcached answers [`KvError::Unsupported`].
    pub async fn subscribe<T: DeserializeOwned>(
        &self,
        channels: &[&str],
    ) -> Result<KvSubscription<T>, KvError> {
        let names = channels
            .iter()
            .map(|c| self.key(c))
            .collect::<Result<Vec<_>, _>>()?;
        let prefix = self.key("")?;
        let pubsub = match self.tier()?.server() {
            Store::Redis(s) => self.timed("subscribe", s.pubsub()).await?,
            #[cfg(feature = "redis-cluster")]
            Store::Cluster(s) => self.timed("subscribe", s.pubsub()).await?,
            #[cfg(feature = "memcached")]
            Store::Memcached(_) => {
                return Err(KvError::Unsupported {
                    op: "subscribe",
                    tier: "Memcached",
                });
            }
        };
        let mut pubsub = pubsub;
        self.timed("subscribe", async {
            for name in &names {
                pubsub.subscribe(name).await.map_err(|e| e.to_string())?;
            }
            Ok(())
        })
        .await?;
        Ok(KvSubscription {
            messages: pubsub.into_on_message(),
            prefix,
            _values: PhantomData,
        })
    }
}
