//! Multi-host URLs (`postgres://h1:5432,h2:5433/app?target_session_attrs=read-write`): one
//! URL per host, and what `target_session_attrs` asks of the topology.

use crate::error::{Error, Result};

/// What `target_session_attrs` asks of the nodes a multi-host URL names (libpq's values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SessionAttrs {
    /// `any`, `read-write`, `primary`, `prefer-standby` (or none): writes go to the primary
    /// (found among the hosts), reads to a replica when one is healthy, else the primary.
    Default,
    /// `read-only`, `standby`: reads go to replicas only, never to the primary.
    StandbyOnly,
}

/// Splits a URL with several hosts into one URL per host (the same user, database and
/// parameters, less `target_session_attrs`), and reads `target_session_attrs`.
pub(super) fn split_hosts(url: &str) -> Result<(Vec<String>, SessionAttrs)> {
    let (scheme, rest) = url.split_once("://").ok_or_else(|| {
        Error::Config(format!(
            "`{}` is not a URL; write `postgres://user@host1:5432,host2:5432/app`",
            crate::exec::redact_url(url)
        ))
    })?;
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let (user_info, hosts) = match authority.rfind('@') {
        Some(at) => (&authority[..=at], &authority[at + 1..]),
        None => ("", authority),
    };
    let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
    let mut attrs = SessionAttrs::Default;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("target_session_attrs", value)) => {
                attrs = match value {
                    "any" | "read-write" | "primary" | "prefer-standby" => SessionAttrs::Default,
                    "read-only" | "standby" => SessionAttrs::StandbyOnly,
                    other => {
                        return Err(Error::Config(format!(
                            "target_session_attrs={other} is not one of any, read-write, \
                             primary, read-only, standby, prefer-standby"
                        )));
                    }
                }
            }
            _ => kept.push(pair),
        }
    }
    let query = if kept.is_empty() {
        String::new()
    } else {
        format!("?{}", kept.join("&"))
    };
    let urls: Vec<String> = hosts
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(|host| format!("{scheme}://{user_info}{host}{path}{query}"))
        .collect();
    if urls.is_empty() {
        return Err(Error::Config(format!(
            "`{}` names no host",
            crate::exec::redact_url(url)
        )));
    }
    Ok((urls, attrs))
}

#[cfg(test)]
mod tests {
    use super::{SessionAttrs, split_hosts};

    #[test]
    fn a_multi_host_url_becomes_one_url_per_host() {
        let (urls, attrs) = split_hosts(
            "postgres://app:pw@h1:5432,h2:5433/app?sslmode=disable&target_session_attrs=read-write",
        )
        .unwrap();
        assert_eq!(
            urls,
            [
                "postgres://app:pw@h1:5432/app?sslmode=disable",
                "postgres://app:pw@h2:5433/app?sslmode=disable"
            ]
        );
        assert_eq!(attrs, SessionAttrs::Default);
        let (urls, attrs) =
            split_hosts("postgresql://h1,h2/app?target_session_attrs=standby").unwrap();
        assert_eq!(urls, ["postgresql://h1/app", "postgresql://h2/app"]);
        assert_eq!(attrs, SessionAttrs::StandbyOnly);
        assert!(split_hosts("postgres://h1/app?target_session_attrs=sometimes").is_err());
        assert!(split_hosts("not a url").is_err());
    }
}
