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

/// Standard-alphabet base64 with `=` padding, refusing every non-canonical spelling.
fn decode_canonical_base64(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return None;
    }
    let groups = bytes.len() / 4;
    let mut out = Vec::with_capacity(groups * 3);
    for (index, chunk) in bytes.chunks_exact(4).enumerate() {
        let padding = chunk.iter().rev().take_while(|&&byte| byte == b'=').count();
        if padding > 2 || (padding > 0 && index + 1 != groups) {
            return None;
        }
        let mut group: u32 = 0;
        for &byte in &chunk[..4 - padding] {
            group = (group << 6) | sextet(byte)?;
        }
        group <<= 6 * padding;
        // A padded group carries bits below its last kept byte; an encoder leaves them zero.
        let stray_bits = (1u32 << (8 * padding)) - 1;
        if group & stray_bits != 0 {
            return None;
        }
        out.extend_from_slice(&group.to_be_bytes()[1..4 - padding]);
    }
    Some(out)
}

/// The 6-bit value of one base64 character.
fn sextet(byte: u8) -> Option<u32> {
    let value = match byte {
        b'A'..=b'Z' => byte - b'A',
        b'a'..=b'z' => byte - b'a' + 26,
        b'0'..=b'9' => byte - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    };
    Some(u32::from(value))
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
