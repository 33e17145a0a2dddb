//! SQL `LIKE` patterns → anchored regular expressions for `$regex`.
//!
//! The output is valid, with the same meaning, in PCRE (MongoDB) and in Python's `re` (the
//! nx-27017 test server): only constructs both read alike are emitted.

use crate::error::{Error, Result};

/// Anchors the end of the subject: "no character follows". `$` would also match before a
/// final newline (so `like("abc")` would match `"abc\n"`), and the end-of-subject escapes
/// differ between PCRE (`\z`) and Python (`\Z`); a negative lookahead means the same in both.
const END: &str = r"(?![\s\S])";

/// Escapes `text` so that, inside a regular expression, it matches exactly itself.
///
/// ASCII letters and digits, and every non-ASCII character, stay as they are; ASCII
/// punctuation and space are preceded by `\` (which makes any non-alphanumeric character
/// literal in PCRE and in Python); ASCII control characters, NUL included, become `\xHH`
/// (MongoDB rejects a pattern with an embedded NUL byte).
pub fn escape_regex(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for ch in text.chars() {
        push_literal(&mut out, ch);
    }
    out
}

fn push_literal(out: &mut String, ch: char) {
    if ch.is_ascii_alphanumeric() || !ch.is_ascii() {
        out.push(ch);
    } else if ch.is_ascii_control() {
        out.push_str(&format!("\\x{:02X}", u32::from(ch)));
    } else {
        out.push('\\');
        out.push(ch);
    }
}

/// Translates a SQL `LIKE` pattern (`%` any run, `_` one character, `\` escapes the next
/// character) into an anchored regular expression for `$regex`.
///
/// `^` + translation + an end anchor that no character may follow; `%` → `.*` (a run of `%`
/// gives one `.*`), `_` → `.`, `\x` → `x` literally, every other character through
/// [`escape_regex`]. Use it with `$options` containing `s`, so that `%` and `_` match
/// newlines as in SQL. A pattern ending in a lone `\` is an [`Error::InvalidQuery`], as on
/// PostgreSQL.
pub fn like_to_regex(pattern: &str) -> Result<String> {
    translate(pattern, false)
}

/// [`like_to_regex`] for `ilike`: every ASCII letter becomes a class of both its cases
/// (`a` → `[aA]`), so that, as on every SQL dialect, only `A`-`Z` fold; the regex `i` option
/// would also fold accented letters (`É`/`é`).
pub fn ilike_to_regex(pattern: &str) -> Result<String> {
    translate(pattern, true)
}

fn translate(pattern: &str, fold_ascii: bool) -> Result<String> {
    let push_literal = |out: &mut String, ch: char| {
        if fold_ascii && ch.is_ascii_alphabetic() {
            out.push('[');
            out.push(ch.to_ascii_lowercase());
            out.push(ch.to_ascii_uppercase());
            out.push(']');
        } else {
            push_literal(out, ch);
        }
    };
    let mut out = String::with_capacity(pattern.len() * 2 + 1 + END.len());
    out.push('^');
    let mut chars = pattern.chars();
    let mut after_any = false;
    while let Some(ch) = chars.next() {
        match ch {
            '%' if after_any => continue,
            '%' => {
                out.push_str(".*");
                after_any = true;
                continue;
            }
            '_' => out.push('.'),
            '\\' => match chars.next() {
                Some(escaped) => push_literal(&mut out, escaped),
                None => {
                    return Err(Error::InvalidQuery(format!(
                        "LIKE pattern {pattern:?} ends with the escape character `\\`; write `\\\\` for a literal backslash (or use `contains`/`starts_with`/`ends_with`)"
                    )));
                }
            },
            other => push_literal(&mut out, other),
        }
        after_any = false;
    }
    out.push_str(END);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_translate_and_everything_else_is_literal() {
        assert_eq!(like_to_regex("A%").unwrap(), r"^A.*(?![\s\S])");
        assert_eq!(like_to_regex("_L").unwrap(), r"^.L(?![\s\S])");
        assert_eq!(like_to_regex("%%a%%%").unwrap(), r"^.*a.*(?![\s\S])");
        assert_eq!(
            like_to_regex(r"50\%\_off\\").unwrap(),
            r"^50\%\_off\\(?![\s\S])"
        );
        assert_eq!(like_to_regex("a.b*c").unwrap(), r"^a\.b\*c(?![\s\S])");
        assert_eq!(
            like_to_regex("\0\n\u{7f}").unwrap(),
            r"^\x00\x0A\x7F(?![\s\S])"
        );
        assert_eq!(like_to_regex("é 你").unwrap(), r"^é\ 你(?![\s\S])");
        assert!(like_to_regex("abc\\").is_err());
    }

    #[test]
    fn every_ascii_punctuation_character_is_escaped() {
        for ch in (0u8..0x80)
            .map(char::from)
            .filter(char::is_ascii_punctuation)
        {
            assert_eq!(escape_regex(&ch.to_string()), format!("\\{ch}"));
        }
        assert_eq!(escape_regex("abcXYZ019"), "abcXYZ019");
    }
}
