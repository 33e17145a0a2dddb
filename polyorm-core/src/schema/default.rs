//! Compile-time checks of text defaults (`#[orm(default = "...")]`) against the column's type:
//! JSON text for JSON, digits for decimals, an ISO-8601 date for dates (the types that take no
//! text at all, such as UUIDs, are refused by the `DefaultLiteral` trait instead). The derive evaluates
//! [`text_default_error`] in a `const`, so a bad literal fails the build.

use super::ColumnType;

/// Why `text` cannot be the default of a `ty` column, or `None` when it can.
pub const fn text_default_error(ty: ColumnType, text: &str) -> Option<&'static str> {
    match ty {
        ColumnType::Json if !is_json(text.as_bytes()) => Some(
            "`default` of a JSON field must be JSON text, e.g. `default = \"{}\"` or \
             `default = \"[]\"`",
        ),
        ColumnType::Decimal if !is_decimal_text(text) => Some(
            "`default` of a `Decimal` field must be digits with an optional sign and point, \
             e.g. `default = \"0.00\"`",
        ),
        ColumnType::Date if !is_date(text.as_bytes()) => Some(
            "`default` of a date field must be an ISO-8601 date `YYYY-MM-DD`, e.g. \
             `default = \"2024-01-31\"`, or `default = now()`",
        ),
        _ => None,
    }
}

/// Whether `text` is a decimal number: `-?digits(.digits)?`.
pub const fn is_decimal_text(text: &str) -> bool {
    let b = text.as_bytes();
    matches!(decimal_prefix(b, 0), Some(end) if end == b.len())
}

/// The end of `-?digits(.digits)?` starting at `i` in `b`, or `None` when no such number
/// starts there (shared by decimal defaults and JSON numbers).
const fn decimal_prefix(b: &[u8], mut i: usize) -> Option<usize> {
    if i < b.len() && b[i] == b'-' {
        i += 1;
    }
    let start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i == start {
        return None;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        let frac = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == frac {
            return None;
        }
    }
    Some(i)
}

/// Whether `b` is `YYYY-MM-DD` with a month 01-12 and a day 01-31.
const fn is_date(b: &[u8]) -> bool {
    if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
        return false;
    }
    let mut i = 0;
    while i < 10 {
        if i != 4 && i != 7 && !b[i].is_ascii_digit() {
            return false;
        }
        i += 1;
    }
    let month = (b[5] - b'0') * 10 + (b[6] - b'0');
    let day = (b[8] - b'0') * 10 + (b[9] - b'0');
    month >= 1 && month <= 12 && day >= 1 && day <= 31
}

/// Whether `b` is one JSON value (RFC 8259), surrounded by optional whitespace.
const fn is_json(b: &[u8]) -> bool {
    match json_value(b, skip_ws(b, 0)) {
        Some(end) => skip_ws(b, end) == b.len(),
        None => false,
    }
}

const fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while i < b.len() && matches!(b[i], b' ' | b'\t' | b'\n' | b'\r') {
        i += 1;
    }
    i
}

/// The end of the JSON value starting at `i`, or `None`.
const fn json_value(b: &[u8], i: usize) -> Option<usize> {
    if i >= b.len() {
        return None;
    }
    match b[i] {
        b'{' => json_container(b, i + 1, b'}', true),
        b'[' => json_container(b, i + 1, b']', false),
        b'"' => json_string(b, i),
        b't' => json_word(b, i, b"true"),
        b'f' => json_word(b, i, b"false"),
        b'n' => json_word(b, i, b"null"),
        _ => json_number(b, i),
    }
}

/// The end of an object (`keyed`) or array whose first member starts at `i`.
const fn json_container(b: &[u8], i: usize, close: u8, keyed: bool) -> Option<usize> {
    let mut i = skip_ws(b, i);
    if i < b.len() && b[i] == close {
        return Some(i + 1);
    }
    loop {
        if keyed {
            i = match json_string(b, i) {
                Some(end) => skip_ws(b, end),
                None => return None,
            };
            if i >= b.len() || b[i] != b':' {
                return None;
            }
            i = skip_ws(b, i + 1);
        }
        i = match json_value(b, i) {
            Some(end) => skip_ws(b, end),
            None => return None,
        };
        if i >= b.len() {
            return None;
        }
        if b[i] == close {
            return Some(i + 1);
        }
        if b[i] != b',' {
            return None;
        }
        i = skip_ws(b, i + 1);
    }
}

const fn json_string(b: &[u8], i: usize) -> Option<usize> {
    if i >= b.len() || b[i] != b'"' {
        return None;
    }
    let mut i = i + 1;
    while i < b.len() {
        match b[i] {
            b'"' => return Some(i + 1),
            b'\\' => i += 2,
            0..=0x1f => return None,
            _ => i += 1,
        }
    }
    None
}

const fn json_word(b: &[u8], i: usize, word: &[u8]) -> Option<usize> {
    if i + word.len() > b.len() {
        return None;
    }
    let mut k = 0;
    while k < word.len() {
        if b[i + k] != word[k] {
            return None;
        }
        k += 1;
    }
    Some(i + word.len())
}

const fn json_number(b: &[u8], i: usize) -> Option<usize> {
    let Some(mut i) = decimal_prefix(b, i) else {
        return None;
    };
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let exp = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == exp {
            return None;
        }
    }
    Some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_defaults_must_be_json_text() {
        for ok in [
            "{}",
            "[]",
            " {\"a\": [1, -2.5e3, true, null, \"x\\\"y\"]} ",
            "0",
            "\"s\"",
        ] {
            assert_eq!(text_default_error(ColumnType::Json, ok), None, "{ok}");
        }
        for bad in ["", "{", "{a: 1}", "[1,]", "tru", "{} {}", "'x'", "01x"] {
            assert!(text_default_error(ColumnType::Json, bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn date_and_decimal_defaults_are_checked() {
        assert_eq!(text_default_error(ColumnType::Date, "2024-01-31"), None);
        for bad in ["2024-1-31", "2024-13-01", "2024-01-00", "today"] {
            assert!(text_default_error(ColumnType::Date, bad).is_some(), "{bad}");
        }
        assert_eq!(text_default_error(ColumnType::Decimal, "-0.50"), None);
        assert!(text_default_error(ColumnType::Decimal, "1e3").is_some());
        assert_eq!(text_default_error(ColumnType::Text, "anything"), None);
    }

    #[test]
    fn decimal_text_is_digits_with_an_optional_sign_and_point() {
        for ok in ["0", "-1", "12.50", "007.0"] {
            assert!(is_decimal_text(ok), "{ok}");
        }
        for bad in ["", "-", "1.", ".5", "1e3", "1,5", "1.2.3", "'1'"] {
            assert!(!is_decimal_text(bad), "{bad}");
        }
    }
}
