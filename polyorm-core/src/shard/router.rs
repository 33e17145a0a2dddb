//! Routers: which shard holds a key. [`HashMod`] spreads keys evenly, [`Ranges`] keeps key
//! ranges together, [`Lookup`] places keys one by one (a directory); implement
//! [`ShardRouter`] for anything else.

use std::collections::HashMap;
use std::fmt;

use crate::value::Value;

/// A shard key's value, as routers see it: every integer width is one `Int` (a key bound as
/// `i32` and as `i64` routes alike), strings are `Text`, UUIDs and byte strings are `Bytes`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ShardKey {
    /// An integer key.
    Int(i64),
    /// A text key.
    Text(String),
    /// A byte-string key (UUIDs are their 16 bytes).
    Bytes(Vec<u8>),
}

impl ShardKey {
    /// The key a bound value stands for; `None` for values that are no key (NULL, floats,
    /// decimals, dates, JSON): keys are compared exactly, and these are not.
    pub fn from_value(value: &Value) -> Option<ShardKey> {
        Some(match value {
            Value::SmallInt(n) => ShardKey::Int(i64::from(*n)),
            Value::Int(n) => ShardKey::Int(i64::from(*n)),
            Value::BigInt(n) => ShardKey::Int(*n),
            Value::BigUnsigned(n) => ShardKey::Text(n.to_string()),
            Value::Text(s) => ShardKey::Text(s.clone()),
            Value::Bytes(b) => ShardKey::Bytes(b.clone()),
            #[cfg(feature = "uuid")]
            Value::Uuid(u) => ShardKey::Bytes(u.as_bytes().to_vec()),
            #[cfg(feature = "bson")]
            Value::ObjectId(o) => ShardKey::Bytes(o.bytes().to_vec()),
            _ => return None,
        })
    }

    /// The key as bytes for hashing: a type tag, then the value (integers big-endian), so that
    /// the placement never depends on the platform or the Rust version.
    fn hash_bytes(&self) -> impl Iterator<Item = u8> + '_ {
        let (tag, body): (u8, Box<dyn Iterator<Item = u8> + '_>) = match self {
            ShardKey::Int(n) => (b'i', Box::new(n.to_be_bytes().into_iter())),
            ShardKey::Text(s) => (b't', Box::new(s.bytes())),
            ShardKey::Bytes(b) => (b'b', Box::new(b.iter().copied())),
        };
        std::iter::once(tag).chain(body)
    }
}

impl fmt::Display for ShardKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShardKey::Int(n) => write!(f, "{n}"),
            ShardKey::Text(s) => write!(f, "{s:?}"),
            ShardKey::Bytes(b) => {
                f.write_str("0x")?;
                b.iter().try_for_each(|byte| write!(f, "{byte:02x}"))
            }
        }
    }
}

macro_rules! int_keys {
    ($($t:ty),*) => {$(
        impl From<$t> for ShardKey {
            fn from(n: $t) -> Self {
                ShardKey::Int(i64::from(n))
            }
        }
    )*};
}
int_keys!(i8, i16, i32, i64, u8, u16, u32);

impl From<&str> for ShardKey {
    fn from(s: &str) -> Self {
        ShardKey::Text(s.to_owned())
    }
}

impl From<String> for ShardKey {
    fn from(s: String) -> Self {
        ShardKey::Text(s)
    }
}

impl From<&String> for ShardKey {
    fn from(s: &String) -> Self {
        ShardKey::Text(s.clone())
    }
}

impl From<Vec<u8>> for ShardKey {
    fn from(b: Vec<u8>) -> Self {
        ShardKey::Bytes(b)
    }
}

#[cfg(feature = "uuid")]
impl From<::uuid::Uuid> for ShardKey {
    fn from(u: ::uuid::Uuid) -> Self {
        ShardKey::Bytes(u.as_bytes().to_vec())
    }
}

/// Maps a shard key to the shard that holds it. Routers must be pure: the same key always
/// gives the same shard (rows are found where they were written).
///
/// ```
/// use polyorm_core::shard::{ShardKey, ShardRouter};
///
/// /// Even tenants on shard 0, odd ones on shard 1.
/// struct Parity;
///
/// impl ShardRouter for Parity {
///     fn shard_for(&self, key: &ShardKey, _shards: usize) -> Result<usize, String> {
///         match key {
///             ShardKey::Int(n) => Ok(n.rem_euclid(2) as usize),
///             other => Err(format!("tenant ids are integers, not {other}")),
///         }
///     }
/// }
/// ```
pub trait ShardRouter: Send + Sync + 'static {
    /// The position (in the order shards were added) of the shard holding `key`, out of
    /// `shards`; `Err` says why the key has no shard and what to do about it.
    fn shard_for(&self, key: &ShardKey, shards: usize) -> Result<usize, String>;
}

/// Hash modulo: shard `fnv1a(key) % n`, an even spread of any keys (FNV-1a 64 over a
/// platform-independent encoding of the key, so placement is stable across builds). Adding a
/// shard moves most keys: plan the shard count up front, or use [`Ranges`] / [`Lookup`].
#[derive(Debug, Clone, Copy, Default)]
pub struct HashMod;

impl ShardRouter for HashMod {
    fn shard_for(&self, key: &ShardKey, shards: usize) -> Result<usize, String> {
        const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
        const PRIME: u64 = 0x0000_0100_0000_01b3;
        let hash = key
            .hash_bytes()
            .fold(OFFSET, |h, byte| (h ^ u64::from(byte)).wrapping_mul(PRIME));
        let n = u64::try_from(shards.max(1)).unwrap_or(u64::MAX);
        Ok(usize::try_from(hash % n).unwrap_or(0))
    }
}

/// Key ranges: `Ranges::new().from(0, 0).from(1_000_000, 1)` puts keys `0..1_000_000` on shard
/// 0 and `1_000_000..` on shard 1. Each range runs from its start to the next start; a key
/// below the first start, or of another kind than the starts (text against integers), has no
/// shard.
#[derive(Debug, Clone, Default)]
pub struct Ranges {
    starts: Vec<(ShardKey, usize)>,
}

impl Ranges {
    /// No ranges yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Keys from `start` (inclusive) to the next range's start go to shard `shard`.
    #[allow(clippy::should_implement_trait)]
    pub fn from(mut self, start: impl Into<ShardKey>, shard: usize) -> Self {
        let start = start.into();
        let at = self.starts.partition_point(|(s, _)| *s < start);
        self.starts.insert(at, (start, shard));
        self
    }
}

impl ShardRouter for Ranges {
    fn shard_for(&self, key: &ShardKey, _shards: usize) -> Result<usize, String> {
        let same_kind = |s: &ShardKey| std::mem::discriminant(s) == std::mem::discriminant(key);
        if !self.starts.iter().all(|(s, _)| same_kind(s)) {
            return Err(
                "the ranges start at keys of another kind (integer, text or bytes); \
                        route keys of one kind"
                    .to_owned(),
            );
        }
        let at = self.starts.partition_point(|(s, _)| s <= key);
        match at.checked_sub(1) {
            Some(i) => Ok(self.starts[i].1),
            None => Err(match self.starts.first() {
                Some((first, _)) => format!(
                    "it is below the first range, which starts at {first}; add a range \
                     (`Ranges::from`) that covers it"
                ),
                None => "the router has no range; add them with `Ranges::from`".to_owned(),
            }),
        }
    }
}

/// A directory: each key placed explicitly (`Lookup::new().key("acme", 1)`), with an optional
/// shard for every other key. Fill it from your own table of tenants at startup.
#[derive(Debug, Clone, Default)]
pub struct Lookup {
    keys: HashMap<ShardKey, usize>,
    default: Option<usize>,
}

impl Lookup {
    /// An empty directory with no default.
    pub fn new() -> Self {
        Self::default()
    }

    /// Places `key` on shard `shard`.
    pub fn key(mut self, key: impl Into<ShardKey>, shard: usize) -> Self {
        self.keys.insert(key.into(), shard);
        self
    }

    /// The shard of every key not placed with [`key`](Lookup::key).
    pub fn default_shard(mut self, shard: usize) -> Self {
        self.default = Some(shard);
        self
    }
}

impl ShardRouter for Lookup {
    fn shard_for(&self, key: &ShardKey, _shards: usize) -> Result<usize, String> {
        self.keys.get(key).copied().or(self.default).ok_or_else(|| {
            "the lookup table does not place this key and has no default; add it \
             (`Lookup::key`) or set `Lookup::default_shard`"
                .to_owned()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_widths_route_alike_and_hash_mod_spreads_keys() {
        let of = |v: Value| {
            HashMod
                .shard_for(&ShardKey::from_value(&v).unwrap(), 3)
                .unwrap()
        };
        assert_eq!(of(Value::Int(42)), of(Value::BigInt(42)));
        assert_eq!(of(Value::SmallInt(7)), of(Value::BigInt(7)));
        let mut counts = [0; 3];
        for n in 0..3000_i64 {
            counts[HashMod.shard_for(&ShardKey::Int(n), 3).unwrap()] += 1;
        }
        assert!(counts.iter().all(|&c| c > 800), "{counts:?}");
    }

    #[test]
    fn ranges_run_from_each_start_to_the_next() {
        let r = Ranges::new().from(1000, 1).from(0, 0).from(2000, 2);
        let at = |n: i64| r.shard_for(&ShardKey::Int(n), 3);
        assert_eq!(at(0), Ok(0));
        assert_eq!(at(999), Ok(0));
        assert_eq!(at(1000), Ok(1));
        assert_eq!(at(5000), Ok(2));
        assert!(at(-1).unwrap_err().contains("below the first range"));
        assert!(r.shard_for(&ShardKey::from("a"), 3).is_err());
    }

    #[test]
    fn lookup_places_listed_keys_and_the_rest_on_the_default() {
        let l = Lookup::new().key("acme", 2).key(7, 1);
        assert_eq!(l.shard_for(&"acme".into(), 3), Ok(2));
        assert_eq!(l.shard_for(&7.into(), 3), Ok(1));
        assert!(l.shard_for(&"other".into(), 3).is_err());
        assert_eq!(l.default_shard(0).shard_for(&"other".into(), 3), Ok(0));
    }
}
