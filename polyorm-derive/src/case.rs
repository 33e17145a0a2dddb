//! Case conversions for derived names: table names and column-constant names.

/// `UserAccount` -> `user_account`, `HTTPRequest` -> `http_request`, `user_id` -> `user_id`.
pub fn snake_case(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::with_capacity(name.len() + 4);
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev = i.checked_sub(1).map(|p| chars[p]);
            let next = chars.get(i + 1).copied();
            let boundary = match prev {
                None | Some('_') => false,
                Some(p) if p.is_lowercase() || p.is_numeric() => true,
                // The last capital of an acronym starts a new word: `HTTPRequest`.
                Some(p) if p.is_uppercase() => next.is_some_and(char::is_lowercase),
                Some(_) => false,
            };
            if boundary {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `user_id` -> `USER_ID`, `userId` -> `USER_ID`.
pub fn screaming_snake_case(name: &str) -> String {
    snake_case(name).to_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn struct_names_become_snake_case_without_pluralizing() {
        assert_eq!(snake_case("User"), "user");
        assert_eq!(snake_case("UserAccount"), "user_account");
        assert_eq!(snake_case("HTTPRequest"), "http_request");
        assert_eq!(snake_case("Order2Item"), "order2_item");
        assert_eq!(snake_case("already_snake"), "already_snake");
    }

    #[test]
    fn field_names_become_screaming_snake_case() {
        assert_eq!(screaming_snake_case("id"), "ID");
        assert_eq!(screaming_snake_case("user_id"), "USER_ID");
        assert_eq!(screaming_snake_case("userId"), "USER_ID");
        assert_eq!(screaming_snake_case("_hidden"), "_HIDDEN");
    }
}
