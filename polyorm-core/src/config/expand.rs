//! `${NAME}` in a configuration value, replaced by the environment variable `NAME`, so that a
//! password stays out of the committed `orm.toml` (`url = "postgres://app:${DB_PASSWORD}@db/app"`).
//!
//! Only the braced form is expanded and `$$` writes one `$`: a bare `$` is kept as it is, since
//! URLs and passwords may hold one (shell-style `$NAME` expansion would change them silently).

/// Why a value could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpandError {
    /// `${NAME}` names a variable that is not set (or not valid UTF-8).
    Unset(String),
    /// `${` without its `}`, or a name that is not `[A-Za-z_][A-Za-z0-9_]*`.
    Syntax(String),
}

impl std::fmt::Display for ExpandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExpandError::Unset(name) => write!(
                f,
                "`${{{name}}}` names the environment variable `{name}`, which is not set: \
                 export it, or write the value in the file"
            ),
            ExpandError::Syntax(what) => write!(
                f,
                "{what}: write `${{NAME}}` (letters, digits, `_`) for an environment variable \
                 and `$$` for a literal `$`"
            ),
        }
    }
}

/// `text` with every `${NAME}` replaced by `lookup(NAME)` and `$$` by `$`.
pub(crate) fn expand(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, ExpandError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(braced) = after.strip_prefix('{') {
            let end = braced.find('}').ok_or_else(|| {
                ExpandError::Syntax(format!("`${{` at byte {at} has no closing `}}`"))
            })?;
            let name = &braced[..end];
            if !is_variable_name(name) {
                return Err(ExpandError::Syntax(format!(
                    "`${{{name}}}` is not an environment variable name"
                )));
            }
            out.push_str(&lookup(name).ok_or_else(|| ExpandError::Unset(name.to_owned()))?);
            rest = &braced[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

fn is_variable_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "DB_PASSWORD" => Some("s3cr$t".to_owned()),
            "HOST" => Some("db.internal".to_owned()),
            _ => None,
        }
    }

    #[test]
    fn braced_variables_are_replaced_and_their_values_are_not_expanded_again() {
        assert_eq!(
            expand("postgres://app:${DB_PASSWORD}@${HOST}/app", env).unwrap(),
            "postgres://app:s3cr$t@db.internal/app"
        );
    }

    #[test]
    fn a_bare_dollar_is_kept_and_a_double_dollar_is_one_dollar() {
        assert_eq!(expand("pa$word $$HOME $", env).unwrap(), "pa$word $HOME $");
    }

    #[test]
    fn an_unset_variable_is_named() {
        assert_eq!(
            expand("postgres://${MISSING}/x", env),
            Err(ExpandError::Unset("MISSING".to_owned()))
        );
        assert!(
            ExpandError::Unset("MISSING".to_owned())
                .to_string()
                .contains("`MISSING`, which is not set")
        );
    }

    #[test]
    fn an_unclosed_or_invalid_reference_is_a_syntax_error() {
        assert!(matches!(
            expand("x${HOST", env),
            Err(ExpandError::Syntax(_))
        ));
        assert!(matches!(expand("x${1A}", env), Err(ExpandError::Syntax(_))));
        assert!(matches!(expand("x${}", env), Err(ExpandError::Syntax(_))));
    }
}
