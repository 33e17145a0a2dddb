//! Global transaction ids: unique, recognisable as ours (so recovery touches no one else's
//! prepared transactions) and safe to write into SQL text (the commands of the prepared phase
//! take no bound parameters, so every character is checked here).
//!
//! A distributed transaction's id is `orm2pc:<coordinator>:<unique>`; branch `i` of it is
//! `<id>:<i>` on PostgreSQL (one `gid`) and the XA id (`'<id>'`, `'<i>'`, [`FORMAT_ID`]) on
//! MySQL/MariaDB.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::error::{Error, Result};

/// The prefix of every id this crate gives a distributed transaction.
const PREFIX: &str = "orm2pc";
/// The XA format id of our branches ("ORM2" in ASCII); `XA RECOVER` lists it beside each id.
pub(crate) const FORMAT_ID: i64 = 0x4F52_4D32;
/// Longest coordinator name: MySQL allows 64 bytes of global id, and the unique part takes
/// up to 32.
const MAX_NAME: usize = 24;

/// Checks a coordinator or participant name: 1 to 24 ASCII letters, digits, `_` or `-`.
pub(crate) fn check_name(what: &str, name: &str) -> Result<()> {
    let valid = !name.is_empty()
        && name.len() <= MAX_NAME
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(Error::Config(format!(
            "invalid {what} name `{name}`: use 1 to {MAX_NAME} ASCII letters, digits, `_` or `-` \
             (it becomes part of the transaction ids the databases store)"
        )))
    }
}

/// The prefix of the ids of `coordinator`'s transactions (`orm2pc:<coordinator>:`).
pub(crate) fn coordinator_prefix(coordinator: &str) -> String {
    format!("{PREFIX}:{coordinator}:")
}

/// A new transaction id for `coordinator`: unique across processes and restarts (the clock in
/// microseconds, the process id and a counter).
pub(crate) fn new_transaction_id(coordinator: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!(
        "{}{micros:x}.{:x}.{n:x}",
        coordinator_prefix(coordinator),
        std::process::id()
    )
}

/// The PostgreSQL `gid` of branch `index` of transaction `id`.
pub(crate) fn postgres_gid(id: &str, index: usize) -> String {
    format!("{id}:{index}")
}

/// The MySQL/MariaDB XA id of branch `index` of transaction `id`, as XA statements write it.
pub(crate) fn xa_xid(id: &str, index: usize) -> String {
    format!("'{id}','{index}',{FORMAT_ID}")
}

/// The transaction id of a PostgreSQL `gid` of `coordinator`, if it is one of ours.
pub(crate) fn transaction_of_gid<'g>(gid: &'g str, coordinator: &str) -> Option<&'g str> {
    let (id, index) = gid.rsplit_once(':')?;
    (is_ours(id, coordinator) && index.parse::<usize>().is_ok()).then_some(id)
}

/// Whether `id` is a transaction id of `coordinator` (and so safe to write into SQL text).
pub(crate) fn is_ours(id: &str, coordinator: &str) -> bool {
    id.strip_prefix(&coordinator_prefix(coordinator))
        .is_some_and(|unique| {
            !unique.is_empty() && unique.bytes().all(|b| b.is_ascii_hexdigit() || b == b'.')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_fit_mysql_and_are_recognised_as_ours_only() {
        let name = "a".repeat(MAX_NAME);
        let a = new_transaction_id(&name);
        let b = new_transaction_id(&name);
        assert_ne!(a, b);
        assert!(a.len() <= 64, "{a} is {} bytes", a.len());
        assert!(is_ours(&a, &name));
        assert!(!is_ours(&a, "other"));
        let gid = postgres_gid(&a, 3);
        assert_eq!(transaction_of_gid(&gid, &name), Some(a.as_str()));
        assert_eq!(transaction_of_gid("someone_elses_gid", &name), None);
        assert_eq!(transaction_of_gid(&format!("{a}'; DROP x:1"), &name), None);
    }

    #[test]
    fn names_that_could_break_the_sql_text_are_refused() {
        for bad in [
            "",
            "has space",
            "quo'te",
            "colon:",
            &"x".repeat(MAX_NAME + 1),
        ] {
            assert!(check_name("coordinator", bad).is_err(), "{bad:?}");
        }
        check_name("coordinator", "orders-eu_1").unwrap();
    }
}
