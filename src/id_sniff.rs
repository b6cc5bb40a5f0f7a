//! Recovering the top-level `id` of a JSON-RPC message the proxy could not use (not JSON, or
//! longer than `--max-message-bytes`), from whatever bytes of it are left: the whole line, or
//! its first and last few KiB. SDKs put `id` near one end (Python first, TypeScript after the
//! result), so one of the two ends usually holds it. Without the id, the request the line
//! answered would wait forever.

use serde_json::Value;

/// The top-level `id` found in `head` (read forwards from the message's start) or `tail` (the
/// message's last bytes), if either holds it whole.
pub fn top_level_id(head: &[u8], tail: &[u8]) -> Option<Value> {
    id_from_head(head).or_else(|| id_from_tail(tail))
}

/// Scans from the start of the message, tracking nesting, for the key `id` at depth one.
fn id_from_head(bytes: &[u8]) -> Option<Value> {
    let mut depth = 0usize;
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.checked_sub(1)?,
            b'"' => {
                let end = string_end(bytes, at)?;
                if depth == 1
                    && &bytes[at..=end] == b"\"id\""
                    && let Some(value) = value_after_colon(bytes, end + 1)
                {
                    return Some(value);
                }
                at = end;
            }
            _ => {}
        }
        at += 1;
    }
    None
}

/// Looks for `"id":` candidates from the end; a candidate counts if the rest of the message
/// after it closes exactly the top-level object.
fn id_from_tail(bytes: &[u8]) -> Option<Value> {
    let mut search_end = bytes.len();
    while let Some(start) = memchr::memmem::rfind(&bytes[..search_end], b"\"id\"") {
        search_end = start;
        let escaped = bytes[..start]
            .iter()
            .rev()
            .take_while(|&&b| b == b'\\')
            .count()
            % 2
            == 1;
        if escaped || !closes_top_level(&bytes[start..]) {
            continue;
        }
        if let Some(value) = value_after_colon(bytes, start + 4) {
            return Some(value);
        }
    }
    None
}

/// Whether `rest`, read from outside any string at depth one, ends the top-level object at
/// its last non-blank byte and not before.
fn closes_top_level(rest: &[u8]) -> bool {
    let last = match rest.iter().rposition(|b| !b.is_ascii_whitespace()) {
        Some(last) => last,
        None => return false,
    };
    let mut depth = 1usize;
    let mut at = 0;
    while at <= last {
        match rest[at] {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth -= 1;
                if depth == 0 {
                    return at == last;
                }
            }
            b'"' => match string_end(rest, at) {
                Some(end) => at = end,
                None => return false,
            },
            _ => {}
        }
        at += 1;
    }
    false
}

/// Index of the quote closing the string that opens at `open`.
fn string_end(bytes: &[u8], open: usize) -> Option<usize> {
    let mut at = open + 1;
    while at < bytes.len() {
        match bytes[at] {
            b'\\' => at += 2,
            b'"' => return Some(at),
            _ => at += 1,
        }
    }
    None
}

/// The string or number value after `: ` at `at`, parsed exactly.
fn value_after_colon(bytes: &[u8], at: usize) -> Option<Value> {
    let rest = &bytes[at..];
    let colon = rest.iter().position(|b| !b.is_ascii_whitespace())?;
    if rest[colon] != b':' {
        return None;
    }
    let after = &rest[colon + 1..];
    let start = after.iter().position(|b| !b.is_ascii_whitespace())?;
    let value = &after[start..];
    let end = if value.first() == Some(&b'"') {
        string_end(value, 0)? + 1
    } else {
        value
            .iter()
            .position(|b| !matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'))
            .unwrap_or(value.len())
    };
    match serde_json::from_slice::<Value>(&value[..end]).ok()? {
        id @ (Value::Number(_) | Value::String(_)) => Some(id),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_the_id_at_the_start_or_the_end() {
        let python = br#"{"jsonrpc":"2.0","id":42,"result":{"content":[{"id":7,"text":"\xff"#;
        assert_eq!(top_level_id(python, b""), Some(json!(42)));
        let typescript_tail = br#"xx"}],"meta":{"id":"inner"}},"jsonrpc":"2.0","id":"abc"}"#;
        assert_eq!(
            top_level_id(b"{\"result\":{\"a\":\"", typescript_tail),
            Some(json!("abc"))
        );
    }

    #[test]
    fn nested_ids_and_ids_inside_strings_do_not_count() {
        let nested = br#"{"result":{"id":5},"jsonrpc":"2.0"}"#;
        assert_eq!(top_level_id(nested, nested), None);
        let in_string = br#"{"result":"he said \"id\":9","x":1}"#;
        assert_eq!(top_level_id(in_string, in_string), None);
        let tail_nested = br#"tent","id":3}],"more":true}"#;
        assert_eq!(top_level_id(b"", tail_nested), None);
    }

    #[test]
    fn big_integer_ids_stay_exact() {
        let line = br#"{"id":123456789012345678901234567890,"result":{}}"#;
        assert_eq!(
            top_level_id(line, b"").map(|id| id.to_string()),
            Some("123456789012345678901234567890".to_string())
        );
    }

    #[test]
    fn garbage_yields_nothing() {
        assert_eq!(top_level_id(b"not json at all", b"\"id\":"), None);
        assert_eq!(top_level_id(b"}}}", b"{{{"), None);
        assert_eq!(top_level_id(b"{\"id\":{}}", b""), None);
    }
}
