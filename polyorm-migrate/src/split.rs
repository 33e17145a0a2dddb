//! Splits a migration file into statements with the lexical rules of its dialect.
//!
//! A `;` ends a statement only outside string literals, quoted identifiers, comments, and the
//! bodies of routines:
//! - PostgreSQL: `'…'` (`''`), `E'…'` (backslash escapes), `"…"`, dollar quotes `$$…$$` and
//!   `$tag$…$tag$` (function and `DO` bodies), `--` and nested `/* */` comments, and the
//!   `BEGIN ATOMIC … END` body of a SQL-standard function or procedure;
//! - MySQL/MariaDB: `'…'` and `"…"` (backslash escapes), `` `…` ``, `--␠`, `#` and `/* */`
//!   comments (`/*! … */` is kept: the server runs it), the `BEGIN … END` bodies of
//!   procedures, functions, triggers and events (with their `IF`, `CASE`, `LOOP`, `WHILE` and
//!   `REPEAT` blocks) and MariaDB's `BEGIN NOT ATOMIC … END`; the `mysql` client's `DELIMITER`
//!   lines work too;
//! - SQLite: `'…'`, `"…"`, `` `…` ``, `[…]`, `--` and `/* */` comments, and the
//!   `BEGIN … END` body of `CREATE TRIGGER` (with its `CASE … END` expressions).
//!
//! Comments are dropped (except MySQL's executable `/*! */`), everything else is kept verbatim.

use polyorm_core::Dialect;

/// The statements of `text`, without their terminators, comments and empty statements.
pub fn split_statements(text: &str, dialect: Dialect) -> Vec<String> {
    Splitter::new(text, dialect).run()
}

struct Splitter<'a> {
    chars: Vec<char>,
    i: usize,
    dialect: Dialect,
    out: Vec<String>,
    cur: String,
    /// Uppercased words of the current statement (up to a few: enough to classify it).
    head: Vec<String>,
    /// Whether the current statement has a routine body (`BEGIN … END` blocks).
    routine: bool,
    depth: u32,
    /// The last word was `END` (its `IF`/`LOOP`/… closes, not opens, a block).
    after_end: bool,
    /// The previous significant token (an uppercased word, or the character): MySQL's `IF`
    /// and `REPEAT` open a block where a statement starts, elsewhere they are functions
    /// (`IF(a, b, c)`) or clauses (`DROP TABLE IF EXISTS`).
    prev: String,
    /// The `mysql` client's statement terminator (`;` unless a `DELIMITER` line changed it).
    delimiter: String,
    _text: &'a str,
}

impl<'a> Splitter<'a> {
    fn new(text: &'a str, dialect: Dialect) -> Self {
        Splitter {
            chars: text.chars().collect(),
            i: 0,
            dialect,
            out: Vec::new(),
            cur: String::new(),
            head: Vec::new(),
            routine: false,
            depth: 0,
            after_end: false,
            prev: String::new(),
            delimiter: ";".to_owned(),
            _text: text,
        }
    }

    fn peek(&self, k: usize) -> Option<char> {
        self.chars.get(self.i + k).copied()
    }

    fn starts_with(&self, s: &str) -> bool {
        s.chars().enumerate().all(|(k, c)| self.peek(k) == Some(c))
    }

    fn finish(&mut self) {
        let s = self.cur.trim();
        if !s.is_empty() {
            self.out.push(s.to_owned());
        }
        self.cur.clear();
        self.head.clear();
        self.routine = false;
        self.depth = 0;
        self.after_end = false;
        self.prev.clear();
    }

    fn run(mut self) -> Vec<String> {
        let mysql = self.dialect == Dialect::MySql;
        while self.i < self.chars.len() {
            let c = self.chars[self.i];
            if mysql && self.cur.trim().is_empty() && self.delimiter_line() {
                continue;
            }
            if self.delimiter != ";" && self.starts_with(&self.delimiter.clone()) {
                self.i += self.delimiter.chars().count();
                self.finish();
                continue;
            }
            match c {
                '\'' => self.quoted('\'', self.backslashes()),
                '"' => {
                    let esc = mysql;
                    self.quoted('"', esc)
                }
                '`' if self.dialect != Dialect::Postgres => self.quoted('`', false),
                '[' if self.dialect == Dialect::Sqlite => self.quoted(']', false),
                '$' if self.dialect == Dialect::Postgres && self.dollar_quote() => {}
                '-' if self.peek(1) == Some('-')
                    && (!mysql || self.peek(2).is_none_or(|c| c.is_whitespace())) =>
                {
                    self.line_comment()
                }
                '#' if mysql => self.line_comment(),
                '/' if self.peek(1) == Some('*') => self.block_comment(),
                ';' if self.delimiter == ";" => {
                    self.token_other(';');
                    if self.depth == 0 {
                        self.i += 1;
                        self.finish();
                    } else {
                        self.cur.push(';');
                        self.i += 1;
                    }
                }
                c if c.is_alphabetic() || c == '_' => self.word(),
                c => {
                    if !c.is_whitespace() {
                        self.token_other(c);
                    }
                    self.cur.push(c);
                    self.i += 1;
                }
            }
        }
        self.finish();
        self.out
    }

    /// Whether a `'…'` literal starting here takes backslash escapes.
    fn backslashes(&self) -> bool {
        match self.dialect {
            Dialect::MySql => true,
            // `E'…'`: the `E` was pushed as (the end of) a word just before.
            Dialect::Postgres => {
                let prev = self.cur.chars().last();
                let before = self.cur.chars().rev().nth(1);
                matches!(prev, Some('E' | 'e'))
                    && before.is_none_or(|b| !(b.is_alphanumeric() || b == '_'))
            }
            Dialect::Sqlite => false,
        }
    }

    fn quoted(&mut self, close: char, backslash: bool) {
        self.token_other('q');
        self.cur.push(self.chars[self.i]);
        self.i += 1;
        while self.i < self.chars.len() {
            let c = self.chars[self.i];
            self.cur.push(c);
            self.i += 1;
            if backslash && c == '\\' {
                if let Some(&n) = self.chars.get(self.i) {
                    self.cur.push(n);
                    self.i += 1;
                }
                continue;
            }
            if c == close {
                // A doubled quote is one quote character.
                if self.chars.get(self.i) == Some(&close) && close != ']' {
                    self.cur.push(close);
                    self.i += 1;
                    continue;
                }
                return;
            }
        }
    }

    /// A PostgreSQL dollar quote (`$$` or `$tag$`) starting here, copied whole.
    fn dollar_quote(&mut self) -> bool {
        if self
            .cur
            .chars()
            .last()
            .is_some_and(|p| p.is_alphanumeric() || p == '_' || p == '$')
        {
            return false; // part of an identifier (`a$b`)
        }
        let mut k = 1;
        while let Some(c) = self.peek(k) {
            if c == '$' {
                break;
            }
            let ok = if k == 1 {
                c.is_alphabetic() || c == '_'
            } else {
                c.is_alphanumeric() || c == '_'
            };
            if !ok {
                return false; // `$1`: a parameter
            }
            k += 1;
        }
        if self.peek(k) != Some('$') {
            return false;
        }
        let tag: String = self.chars[self.i..=self.i + k].iter().collect();
        self.token_other('q');
        self.cur.push_str(&tag);
        self.i += k + 1;
        while self.i < self.chars.len() {
            if self.starts_with(&tag) {
                self.cur.push_str(&tag);
                self.i += tag.chars().count();
                return true;
            }
            self.cur.push(self.chars[self.i]);
            self.i += 1;
        }
        true
    }

    fn line_comment(&mut self) {
        while self.i < self.chars.len() && self.chars[self.i] != '\n' {
            self.i += 1;
        }
    }

    fn block_comment(&mut self) {
        let keep = self.dialect == Dialect::MySql && self.peek(2) == Some('!');
        let nested = self.dialect == Dialect::Postgres;
        let start = self.i;
        let mut level = 0;
        while self.i < self.chars.len() {
            if self.starts_with("/*") && (level == 0 || nested) {
                level += 1;
                self.i += 2;
            } else if self.starts_with("*/") {
                level -= 1;
                self.i += 2;
                if level == 0 {
                    break;
                }
            } else {
                self.i += 1;
            }
        }
        if keep {
            let text: String = self.chars[start..self.i].iter().collect();
            self.token_other('q');
            self.cur.push_str(&text);
        } else {
            self.cur.push(' ');
        }
    }

    /// A `DELIMITER x` line of the `mysql` client at a statement's start: consumed.
    fn delimiter_line(&mut self) -> bool {
        let rest: String = self.chars[self.i..].iter().take(10).collect();
        let at_line_start = self.i == 0 || self.chars[self.i - 1] == '\n';
        if !at_line_start || !rest.to_ascii_uppercase().starts_with("DELIMITER ") {
            return false;
        }
        let mut end = self.i;
        while end < self.chars.len() && self.chars[end] != '\n' {
            end += 1;
        }
        let line: String = self.chars[self.i + 10..end].iter().collect();
        let delim = line.trim();
        if delim.is_empty() {
            return false;
        }
        self.delimiter = delim.to_owned();
        self.i = end;
        self.cur.clear();
        true
    }

    /// A token that is not a word.
    fn token_other(&mut self, c: char) {
        self.after_end = false;
        self.prev = c.to_string();
    }

    fn word(&mut self) {
        let start = self.i;
        while self
            .peek(0)
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$')
        {
            self.i += 1;
        }
        let text: String = self.chars[start..self.i].iter().collect();
        self.cur.push_str(&text);
        let upper = text.to_ascii_uppercase();
        if self.head.len() < 8 {
            self.head.push(upper.clone());
            self.classify();
        }
        if !self.routine {
            return;
        }
        let mysql = self.dialect == Dialect::MySql;
        let prev = std::mem::replace(&mut self.prev, upper.clone());
        if self.after_end {
            self.after_end = false;
            if matches!(upper.as_str(), "IF" | "LOOP" | "WHILE" | "REPEAT" | "CASE") {
                return; // `END IF`: the closing of the block `END` closed
            }
        }
        let statement_start = matches!(
            prev.as_str(),
            ";" | ":" | "BEGIN" | "ATOMIC" | "THEN" | "ELSE" | "DO" | "LOOP" | "REPEAT"
        );
        match upper.as_str() {
            "BEGIN" | "CASE" => self.depth += 1,
            "END" if self.depth > 0 => {
                self.depth -= 1;
                self.after_end = true;
            }
            "IF" | "REPEAT" if mysql && statement_start => self.depth += 1,
            "LOOP" | "WHILE" if mysql => self.depth += 1,
            _ => {}
        }
    }

    /// Whether the statement read so far is one with a routine body.
    fn classify(&mut self) {
        if self.routine {
            return;
        }
        let h = &self.head;
        let routine_kinds: &[&str] = match self.dialect {
            Dialect::Postgres => &["FUNCTION", "PROCEDURE"],
            Dialect::MySql => &["FUNCTION", "PROCEDURE", "TRIGGER", "EVENT"],
            Dialect::Sqlite => &["TRIGGER"],
        };
        let create = h.first().is_some_and(|w| w == "CREATE");
        let anonymous =
            self.dialect == Dialect::MySql && h.len() == 2 && h[0] == "BEGIN" && h[1] == "NOT";
        if anonymous {
            // MariaDB's `BEGIN NOT ATOMIC … END` (a plain `BEGIN;` starts a transaction).
            self.routine = true;
            self.depth = 1;
            return;
        }
        // `CREATE [OR REPLACE] [DEFINER = …] [TEMP] TRIGGER …`, not `CREATE TABLE … (event …)`.
        let other_object = h.iter().any(|w| {
            matches!(
                w.as_str(),
                "TABLE" | "VIEW" | "INDEX" | "SEQUENCE" | "SCHEMA" | "DATABASE" | "TYPE" | "DOMAIN"
            )
        });
        if create
            && !other_object
            && h.last()
                .is_some_and(|w| routine_kinds.contains(&w.as_str()))
        {
            self.routine = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str, d: Dialect) -> Vec<String> {
        split_statements(text, d)
    }

    #[test]
    fn plain_statements_quotes_and_comments() {
        let text = "CREATE TABLE a (x text DEFAULT 'a;b'); -- c;d\nINSERT INTO \"we;ird\" VALUES ('it''s; ok') /* x; y */;\n\n";
        for d in Dialect::ALL {
            assert_eq!(
                split(text, d),
                [
                    "CREATE TABLE a (x text DEFAULT 'a;b')",
                    "INSERT INTO \"we;ird\" VALUES ('it''s; ok')"
                ],
                "{d}"
            );
        }
    }

    #[test]
    fn postgres_dollar_quotes_and_atomic_bodies() {
        let text = "CREATE FUNCTION f() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  NEW.x := 1; -- ;\n  RETURN NEW;\nEND\n$$;\n\
                    DO $body$ BEGIN PERFORM 1; END $body$;\n\
                    CREATE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); SELECT CASE WHEN 1 = 1 THEN 2 END; END;\n\
                    SELECT $1, E'a\\';b', 'c'";
        let got = split(text, Dialect::Postgres);
        assert_eq!(got.len(), 4, "{got:#?}");
        assert!(got[0].ends_with("END\n$$"), "{}", got[0]);
        assert!(got[1].starts_with("DO $body$") && got[1].ends_with("$body$"));
        assert!(got[2].ends_with("END; END"), "{}", got[2]);
        assert_eq!(got[3], "SELECT $1, E'a\\';b', 'c'");
    }

    #[test]
    fn sqlite_trigger_bodies() {
        let text = "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  UPDATE a SET x = CASE WHEN NEW.y > 0 THEN 1 ELSE 0 END;\n  INSERT INTO log VALUES ('a;');\nEND;\nCREATE TABLE [b;c] (x);";
        let got = split(text, Dialect::Sqlite);
        assert_eq!(got.len(), 2, "{got:#?}");
        assert!(got[0].ends_with("VALUES ('a;');\nEND"));
        assert_eq!(got[1], "CREATE TABLE [b;c] (x)");
    }

    #[test]
    fn mysql_routines_blocks_and_delimiter() {
        let text = "CREATE PROCEDURE p(IN n INT)\nBEGIN\n  DECLARE i INT DEFAULT 0;\n  IF n > 0 THEN SET i = IF(n > 5, 5, n); END IF;\n  w: WHILE i > 0 DO SET i = i - 1; END WHILE w;\n  REPEAT SET i = i + 1; UNTIL i > 3 END REPEAT;\n  SELECT REPEAT('a', 2), CASE WHEN i THEN 1 END;\n  DROP TABLE IF EXISTS tmp;\nEND;\n\
                    CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.x = 1; # c;\n\
                    INSERT INTO t VALUES ('a\\';b', \"c;\");\n\
                    DELIMITER //\nCREATE FUNCTION f() RETURNS INT DETERMINISTIC BEGIN RETURN 1; END//\nDELIMITER ;\nSELECT 1;\n\
                    BEGIN NOT ATOMIC IF NOT 1 THEN SELECT 1; END IF; END;\nBEGIN;\nCOMMIT;";
        let got = split(text, Dialect::MySql);
        assert_eq!(got.len(), 8, "{got:#?}");
        assert!(
            got[0].ends_with("DROP TABLE IF EXISTS tmp;\nEND"),
            "{}",
            got[0]
        );
        assert_eq!(
            got[1],
            "CREATE TRIGGER tr BEFORE INSERT ON t FOR EACH ROW SET NEW.x = 1"
        );
        assert_eq!(got[2], "INSERT INTO t VALUES ('a\\';b', \"c;\")");
        assert_eq!(
            got[3],
            "CREATE FUNCTION f() RETURNS INT DETERMINISTIC BEGIN RETURN 1; END"
        );
        assert_eq!(got[4], "SELECT 1");
        assert_eq!(
            got[5],
            "BEGIN NOT ATOMIC IF NOT 1 THEN SELECT 1; END IF; END"
        );
        assert_eq!(got[6..], ["BEGIN", "COMMIT"]);
    }
}
