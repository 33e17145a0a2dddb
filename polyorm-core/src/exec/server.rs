//! [`ServerInfo`]: where a [`Db`](super::Db) connects, read from its connect URL, for the
//! `server.address`, `server.port` and `db.namespace` of OpenTelemetry's conventions.

/// The server and database a [`Db`](super::Db) connects to, as its URL names them (no
/// credentials): [`Db::server`](super::Db::server).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerInfo {
    /// The host (the first of a MongoDB seed list); `None` for SQLite.
    pub address: Option<String>,
    /// The port, when the URL names one.
    pub port: Option<u16>,
    /// The database: its name (PostgreSQL, MySQL, MongoDB), or the SQLite file
    /// (`:memory:` for an in-memory database).
    pub namespace: Option<String>,
}

impl ServerInfo {
    /// Reads `url` (`scheme://[user[:password]@]host[:port][,host2…]/database[?…]`, or
    /// `sqlite:path`); the password is never kept.
    pub fn from_url(url: &str) -> ServerInfo {
        let (scheme, rest) = url.split_once(':').unwrap_or((url, ""));
        if scheme == "sqlite" {
            let path = rest.trim_start_matches("//");
            let path = path.split('?').next().unwrap_or_default();
            return ServerInfo {
                address: None,
                port: None,
                namespace: (!path.is_empty()).then(|| path.to_owned()),
            };
        }
        let rest = rest.trim_start_matches("//");
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let hosts = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        let first = hosts.split(',').next().unwrap_or_default();
        let (address, port) = match first.rsplit_once(':') {
            // An IPv6 literal keeps its colons inside brackets.
            Some((host, port)) if !port.contains(']') => (host, port.parse().ok()),
            _ => (first, None),
        };
        let database = path.split('?').next().unwrap_or_default();
        ServerInfo {
            address: (!address.is_empty()).then(|| address.to_owned()),
            port,
            namespace: (!database.is_empty()).then(|| database.to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(address: Option<&str>, port: Option<u16>, namespace: Option<&str>) -> ServerInfo {
        ServerInfo {
            address: address.map(str::to_owned),
            port,
            namespace: namespace.map(str::to_owned),
        }
    }

    #[test]
    fn urls_give_their_host_port_and_database_without_credentials() {
        assert_eq!(
            ServerInfo::from_url("postgres://app:secret@db.internal:5433/shop?sslmode=require"),
            info(Some("db.internal"), Some(5433), Some("shop"))
        );
        assert_eq!(
            ServerInfo::from_url("mysql://root@127.0.0.1/test"),
            info(Some("127.0.0.1"), None, Some("test"))
        );
        assert_eq!(
            ServerInfo::from_url("mongodb://a:1,b:2/app?replicaSet=rs"),
            info(Some("a"), Some(1), Some("app"))
        );
        assert_eq!(
            ServerInfo::from_url("postgres://[::1]:5432/x"),
            info(Some("[::1]"), Some(5432), Some("x"))
        );
        assert_eq!(
            ServerInfo::from_url("sqlite::memory:"),
            info(None, None, Some(":memory:"))
        );
        assert_eq!(
            ServerInfo::from_url("sqlite://data/app.db?mode=rwc"),
            info(None, None, Some("data/app.db"))
        );
    }
}
