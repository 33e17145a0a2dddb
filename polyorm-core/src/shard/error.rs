//! [`ShardError`]: why a statement could not be routed to a shard, naming the model and key.

/// Why [`Shards`](super::Shards) refused a statement; reached as
/// [`Error::Shard`](crate::Error::Shard). Nothing ran on any shard when one of these is
/// returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ShardError {
    /// The model has no shard key: neither `#[orm(shard_key)]` on a field nor
    /// [`ShardsBuilder::shard_key`](super::ShardsBuilder::shard_key).
    #[error(
        "`{model}` has no shard key, so its rows cannot be placed on a shard; mark the field \
         with `#[orm(shard_key)]` or register one with `ShardsBuilder::shard_key`, or run the \
         statement on one shard yourself (`shards.shard(i)`)"
    )]
    NotSharded {
        /// The model's name.
        model: &'static str,
    },

    /// A read, update or delete whose filter does not pin the shard key with `=` or `IN`.
    #[error(
        "a query on `{model}` must name its shard key `{key}` (`{key} = ...` or `{key} IN (...)` \
         in its filter) to pick a shard; add that filter, or read every shard on purpose with \
         `shards.all_shards()`"
    )]
    MissingKey {
        /// The model's name.
        model: &'static str,
        /// The shard key column.
        key: &'static str,
    },

    /// An insert without a value for the shard key (a column the database would fill).
    #[error(
        "a row of `{model}` is inserted without its shard key `{key}`; set the field before \
         inserting"
    )]
    KeylessRow {
        /// The model's name.
        model: &'static str,
        /// The shard key column.
        key: &'static str,
    },

    /// One statement (an `IN` over keys, a multi-row insert) reaches rows on several shards;
    /// only [`Shards::all_shards`](super::Shards::all_shards) reads several shards, and writes
    /// never span shards outside a distributed transaction.
    #[error(
        "this {what} on `{model}` spans shards {shards:?} (by `{key}`); a read of several shards \
         must ask for it (`shards.all_shards()`), a write must be split per shard (group the \
         rows by `shards.shard_index(key)`) or run in a distributed transaction \
         (`shards.begin_distributed`, feature `distributed`)"
    )]
    CrossShard {
        /// The model's name.
        model: &'static str,
        /// The shard key column.
        key: &'static str,
        /// What crossed: `"read"`, `"insert"`, `"update"`, `"delete"`.
        what: &'static str,
        /// The shards' names.
        shards: Vec<String>,
    },

    /// A statement in a transaction bound to one shard reaches another shard's rows.
    #[error(
        "the transaction is bound to shard `{bound}`, but this statement on `{model}` reaches \
         shard `{other}` (by `{key}`); a transaction runs on one shard: open one per shard, or \
         use a distributed transaction (`shards.begin_distributed`, feature `distributed`)"
    )]
    OtherShardInTransaction {
        /// The model's name.
        model: &'static str,
        /// The shard key column.
        key: &'static str,
        /// The transaction's shard.
        bound: String,
        /// The shard the statement's key routes to.
        other: String,
    },

    /// An update that assigns the shard key would move rows to another shard.
    #[error(
        "an update of `{model}` assigns its shard key `{key}`, which would move rows between \
         shards; delete the row and insert it with the new key instead"
    )]
    KeyUpdate {
        /// The model's name.
        model: &'static str,
        /// The shard key column.
        key: &'static str,
    },

    /// A key value the router cannot place (a float, a NULL, a type the router does not take,
    /// a key outside every range, a key missing from a lookup table without a default).
    #[error("no shard for {key} = {value}: {reason}")]
    NoShard {
        /// The shard key column (or `"key"` for a key given directly).
        key: String,
        /// The value, as shown for humans.
        value: String,
        /// Why, and what to do.
        reason: String,
    },

    /// SQL text on [`Shards`](super::Shards): it carries no shard key to route by.
    #[error(
        "raw SQL on `Shards` has no shard key to route by; run it on one shard \
         (`shards.for_key(key)?` or `shards.shard(i)`), or on each with \
         `shards.all_shards().execute_raw(...)`"
    )]
    RawSql,

    /// A read of every shard whose result cannot be merged exactly from the shards' results.
    #[error("`all_shards()` cannot merge {what} of `{model}` across shards; {hint}")]
    CannotMerge {
        /// The model's name.
        model: &'static str,
        /// What cannot be merged.
        what: String,
        /// What to do instead.
        hint: &'static str,
    },

    /// The shard set is misconfigured (no shard, a router that names a shard out of range,
    /// duplicate names).
    #[error("shard configuration: {0}")]
    Config(String),
}
