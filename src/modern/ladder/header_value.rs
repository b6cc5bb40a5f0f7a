//! Decoding of header values sent in the `=?base64?…?=` sentinel form (2026-07-28 Streamable
//! HTTP "Value Encoding"): a client wraps an `Mcp-Name` or `Mcp-Param-*` value that is not plain
//! visible ASCII (or that looks like the sentinel itself) as the base64 of its UTF-8 bytes.

/// Marks a value as base64-encoded; case-sensitive, as the spec requires.
const PREFIX: &str = "=?base64?";
/// Ends a base64-encoded value.
const SUFFIX: &str = "?=";

/// The value a header stands for: the value itself, or the decoded payload of a sentinel.
/// `None` for a malformed sentinel (bad or non-canonical base64, or bytes that are not UTF-8),
/// so that a corrupt header never matches a body value by accident. Canonical means what an
/// encoder emits: padded, no stray bits; the reference (`decode_header_value`) re-encodes to
/// check the same thing.
pub fn decode_header_value(raw: &str) -> Option<String> {
    let Some(payload) = raw
        .strip_prefix(PREFIX)
        .and_then(|rest| rest.strip_suffix(SUFFIX))
    else {
        return Some(raw.to_owned());
    };
    String::from_utf8(decode_canonical_base64(payload)?).ok()
}

/// Standard-alphabet base64 with `=` padding, refusing every non-canonical spelling: the
/// padding must be exactly what the length calls for, and the rest is the base64url decoder's
/// (`crate::base64url`) once the two alphabets' differing characters are swapped.
fn decode_canonical_base64(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(4) {
        return None;
    }
    let unpadded = text.trim_end_matches('=');
    if text.len() - unpadded.len() != (4 - unpadded.len() % 4) % 4 || unpadded.contains(['-', '_'])
    {
        return None;
    }
    let url_alphabet: String = unpadded
        .chars()
        .map(|character| match character {
            '+' => '-',
            '/' => '_',
            other => other,
        })
        .collect();
    crate::base64url::decode(&url_alphabet)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_the_spec_examples_and_refuses_malformed_sentinels() {
        let rows: [(&str, Option<&str>); 17] = [
            // Not a sentinel: the value itself.
            ("echo", Some("echo")),
            ("", Some("")),
            ("=?base64?=", Some("=?base64?=")),
            ("=?BASE64?ZWNobw==?=", Some("=?BASE64?ZWNobw==?=")),
            // The spec's "Value Encoding" table.
            ("=?base64?SGVsbG8sIOS4lueVjA==?=", Some("Hello, 世界")),
            ("=?base64?IHBhZGRlZCA=?=", Some(" padded ")),
            ("=?base64?bGluZTEKbGluZTI=?=", Some("line1\nline2")),
            (
                "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=",
                Some("=?base64?literal?="),
            ),
            ("=?base64?ZWNobw==?=", Some("echo")),
            ("=?base64??=", Some("")),
            // Malformed: bad alphabet, missing padding, stray bits, misplaced padding, bad UTF-8.
            ("=?base64?%%%%?=", None),
            ("=?base64?ZWNobw?=", None),
            ("=?base64?ZWNobx==?=", None),
            ("=?base64?ZW=obw==?=", None),
            ("=?base64?ZWNo====?=", None),
            ("=?base64?ZW==ZWNo?=", None),
            ("=?base64?/w==?=", None),
        ];
        for (raw, expected) in rows {
            assert_eq!(decode_header_value(raw).as_deref(), expected, "{raw}");
        }
    }
}
