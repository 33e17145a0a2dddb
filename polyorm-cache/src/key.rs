//! Cache keys: a hash of the backend, the kind of read and the statement with its bound
//! values, the same in every process (SHA-256, truncated to 128 bits). The statement is the
//! select's IR, strictly encoded, for the common shapes on SQL ([`Key::of_query`]: no SQL is
//! compiled on a hit), and the compiled statement otherwise ([`Key::of`]).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, DefaultHasher};
use std::sync::{PoisonError, RwLock};

use polyorm_core::exec::cached::{encode_select, encode_value};
use polyorm_core::query::ir::SelectQuery;
use polyorm_core::schema::ModelSchema;
use polyorm_core::sql::Dialect;
use polyorm_core::{Backend, Compiled};
use sha2::{Digest, Sha256};

/// Which executor method the entry answers (`fetch_optional` keeps at most one row).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Read {
    All,
    Optional,
    Count,
}

/// A cache key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Key(pub [u8; 16]);

impl Key {
    pub(crate) fn of(backend: Backend, read: Read, statement: &Compiled) -> Key {
        let mut hasher = Sha256::new();
        hasher.update(b"polyorm-cache/1\0");
        hasher.update(backend.to_string().as_bytes());
        hasher.update([0, read as u8]);
        hasher.update((statement.sql.len() as u64).to_le_bytes());
        hasher.update(statement.sql.as_bytes());
        let mut values = Vec::with_capacity(16 * statement.values.len());
        for value in &statement.values {
            encode_value(value, &mut values);
        }
        hasher.update(&values);
        let digest = hasher.finalize();
        let mut key = [0; 16];
        key.copy_from_slice(&digest[..16]);
        Key(key)
    }

    /// The key of `query` read as `read` on `backend`, from its IR ([`encode_select`]) and
    /// its schema; `None` for a shape the IR encoding leaves out, or a backend other than SQL
    /// (MongoDB's and DynamoDB's plans also depend on the schema's indexes), which key by
    /// their compiled statement ([`Key::of`]).
    ///
    /// Its own domain (`polyorm-cache/ir1`), so it never equals a key of [`Key::of`].
    pub(crate) fn of_query(backend: Backend, read: Read, query: &SelectQuery) -> Option<Key> {
        let dialect = match backend {
            Backend::Sql(Dialect::Postgres) => 1,
            Backend::Sql(Dialect::MySql) => 2,
            Backend::Sql(Dialect::Sqlite) => 3,
            _ => return None,
        };
        let mut material = Vec::with_capacity(96);
        material.extend_from_slice(b"polyorm-cache/ir1\0");
        material.extend_from_slice(&[dialect, read as u8]);
        material.extend_from_slice(&schema_digest(query.schema));
        if !encode_select(query, &mut material) {
            return None;
        }
        let digest = Sha256::digest(&material);
        let mut key = [0; 16];
        key.copy_from_slice(&digest[..16]);
        Some(Key(key))
    }

    /// Lower-case hex, for the Redis key.
    pub(crate) fn hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut hex = String::with_capacity(32);
        for b in self.0 {
            hex.push(char::from(DIGITS[usize::from(b >> 4)]));
            hex.push(char::from(DIGITS[usize::from(b & 15)]));
        }
        hex
    }
}

/// What of a schema decides the statements of its selects, hashed (SHA-256, 128 bits): its
/// name, table, columns (names, types, nullability, precision, …) and keys, through their
/// `Debug` text. Not its indexes, foreign keys or checks (a SQL select does not read them;
/// an index predicate's `Debug` is a function's address, which differs between processes).
///
/// Computed once per schema and process, by the address of its `'static` schema (two
/// schemas at one address are one schema).
fn schema_digest(schema: &'static ModelSchema) -> [u8; 16] {
    type Seen = HashMap<usize, [u8; 16], BuildHasherDefault<DefaultHasher>>;
    static SEEN: RwLock<Seen> = RwLock::new(HashMap::with_hasher(BuildHasherDefault::new()));
    let address = std::ptr::from_ref(schema) as usize;
    if let Some(digest) = SEEN
        .read()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&address)
    {
        return *digest;
    }
    let ModelSchema {
        name,
        table,
        columns,
        primary_key,
        indexes: _,
        foreign_keys: _,
        checks: _,
        renamed_from,
        shard_key,
        soft_delete,
    } = schema;
    let text = format!(
        "{name:?} {table:?} {columns:?} {primary_key:?} {renamed_from:?} {shard_key:?} \
         {soft_delete:?}"
    );
    let mut digest = [0; 16];
    digest.copy_from_slice(&Sha256::digest(text.as_bytes())[..16]);
    SEEN.write()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(address, digest);
    digest
}
