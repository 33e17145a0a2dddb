//! Database credentials: a [`Secret`] that never prints, [`Credentials`] (user + password),
//! and the [`CredentialProvider`] a pool asks for each new connection, so that a rotated
//! password is used without restarting (a secrets manager, a Vault agent's file, a Docker
//! secret: [`PasswordFile`]).

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;

use crate::error::{Error, Result};

/// A password (or other secret): its `Debug` is `Secret(***)`, it has no `Display`, and its
/// text is only reachable through [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps `text`.
    pub fn new(text: impl Into<String>) -> Secret {
        Secret(text.into())
    }

    /// The secret's text, for the one place that sends it to the server.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl From<String> for Secret {
    fn from(text: String) -> Secret {
        Secret(text)
    }
}

impl From<&str> for Secret {
    fn from(text: &str) -> Secret {
        Secret(text.to_owned())
    }
}

/// A user name and its password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credentials {
    /// The user to log in as.
    pub user: String,
    /// Its password.
    pub password: Secret,
}

impl Credentials {
    /// `user` with `password`.
    pub fn new(user: impl Into<String>, password: impl Into<Secret>) -> Credentials {
        Credentials {
            user: user.into(),
            password: password.into(),
        }
    }
}

/// The future a [`CredentialProvider`] returns.
pub type CredentialsFuture<'a> = Pin<Box<dyn Future<Output = Result<Credentials>> + Send + 'a>>;

/// Where a pool gets the credentials of each new connection: called before every connection
/// is opened (and again, after a short pause, when the server refused the login, in case the
/// password was rotated in between), so a rotated password is used by the next connection
/// without a restart. Connections already open keep working: servers check the password at
/// login only.
///
/// An error it returns fails the query that needed the connection; keep the call cheap (cache
/// what a secrets manager returned and refresh it in the background when it is slow).
///
/// ```
/// use polyorm_core::credentials::{CredentialProvider, Credentials, CredentialsFuture};
///
/// struct FromVault; // e.g. reads a lease renewed by a background task
/// impl CredentialProvider for FromVault {
///     fn credentials(&self) -> CredentialsFuture<'_> {
///         Box::pin(async { Ok(Credentials::new("app", "current-password")) })
///     }
/// }
/// ```
pub trait CredentialProvider: Send + Sync + 'static {
    /// The credentials to log in with now.
    fn credentials(&self) -> CredentialsFuture<'_>;
}

impl CredentialProvider for Credentials {
    fn credentials(&self) -> CredentialsFuture<'_> {
        Box::pin(async move { Ok(self.clone()) })
    }
}

/// A user whose password is read from a file for each new connection: a Docker or
/// Kubernetes secret, or a file a Vault agent rewrites when it rotates the password. One
/// trailing newline is ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordFile {
    user: String,
    path: PathBuf,
}

impl PasswordFile {
    /// `user`, with the password in the file at `path`.
    pub fn new(user: impl Into<String>, path: impl Into<PathBuf>) -> PasswordFile {
        PasswordFile {
            user: user.into(),
            path: path.into(),
        }
    }
}

impl CredentialProvider for PasswordFile {
    fn credentials(&self) -> CredentialsFuture<'_> {
        Box::pin(async move {
            let password = read_secret_file(&self.path, "password")?;
            Ok(Credentials::new(self.user.clone(), password))
        })
    }
}

/// The text of a secret file with one trailing newline removed; an error names the file and
/// what it was for, never its contents.
pub(crate) fn read_secret_file(path: &std::path::Path, what: &str) -> Result<Secret> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::Config(format!(
            "cannot read the {what} file `{}`: {e}; check the path and that this process may \
             read it",
            path.display()
        ))
    })?;
    let text = text
        .strip_suffix('\n')
        .map(|t| t.strip_suffix('\r').unwrap_or(t))
        .unwrap_or(&text);
    Ok(Secret::new(text))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_never_prints_its_text() {
        let credentials = Credentials::new("app", "hunter2-secret");
        let debug = format!("{credentials:?} {:#?}", credentials);
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(
            debug.contains("app") && debug.contains("Secret(***)"),
            "{debug}"
        );
        assert_eq!(credentials.password.expose(), "hunter2-secret");
    }

    #[tokio::test]
    async fn a_password_file_is_read_again_for_each_connection() {
        let path = std::env::temp_dir().join(format!("orm-pw-{}", std::process::id()));
        std::fs::write(&path, "first\n").unwrap();
        let provider = PasswordFile::new("app", &path);
        assert_eq!(
            provider.credentials().await.unwrap().password.expose(),
            "first"
        );
        std::fs::write(&path, "second").unwrap();
        assert_eq!(
            provider.credentials().await.unwrap().password.expose(),
            "second"
        );
        std::fs::remove_file(&path).unwrap();
        let err = provider.credentials().await.unwrap_err().to_string();
        assert!(err.contains("cannot read the password file"), "{err}");
    }
}
