//! The envelope scan: one pass over a JSON object that validates all of it but decodes only
//! the members the proxy routes on (`jsonrpc`, `id`, `method`) and notes where `id` and
//! `params` lie in the bytes, so a frame can be forwarded by splicing instead of rebuilding.
//!
//! Every member value is read as a borrowed [`RawValue`]: `serde_json` checks its syntax
//! without building anything, and the slice it returns points into the input, which gives the
//! member's byte range.

use std::fmt;
use std::ops::Range;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

/// What the scan learned about one top-level object.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Envelope {
    /// `jsonrpc`, decoded.
    pub jsonrpc: Option<Value>,
    /// `id`, decoded, and its byte range.
    pub id: Option<(Value, Range<usize>)>,
    /// `method`, decoded.
    pub method: Option<Value>,
    /// Byte range of `params`.
    pub params: Option<Range<usize>>,
    /// Whether `result` is present.
    pub has_result: bool,
    /// Whether `error` is present.
    pub has_error: bool,
    /// A routed member appears twice: the tree keeps the last one in the first one's place,
    /// which a splice cannot reproduce, so such a frame is built as a tree.
    pub duplicate: bool,
}

/// Scans `object` (whose first byte is `{`, no surrounding whitespace) in full.
pub(super) fn scan(object: &[u8]) -> Result<Envelope, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(object);
    let envelope = deserializer.deserialize_map(EnvelopeVisitor { base: object })?;
    deserializer.end()?;
    Ok(envelope)
}

/// The last value of member `name` in the JSON object `object`, or `None` when `object` is not
/// an object or has no such member. Members other than `name` are checked, not decoded.
pub(super) fn member<'a>(object: &'a str, name: &str) -> Option<&'a RawValue> {
    if !object.starts_with('{') {
        return None;
    }
    let mut deserializer = serde_json::Deserializer::from_str(object);
    deserializer
        .deserialize_map(MemberVisitor { name })
        .ok()
        .flatten()
}

/// Nesting the scan accepts; `serde_json` refuses to build a tree deeper than 127 levels.
pub(super) const MAX_SCANNED_DEPTH: usize = 100;

/// Whether `object` holds JSON the scan would accept but the tree would not be built from:
/// `\u` escapes of UTF-16 surrogates (a lone one is refused only when a string is decoded)
/// or nesting near `serde_json`'s recursion limit (checking syntax does not count depth).
/// Such a message takes the tree path, which accepts and refuses exactly as before.
pub(super) fn needs_tree(object: &[u8]) -> bool {
    let surrogate = memchr::memmem::find_iter(object, b"\\u").any(|at| {
        matches!(object.get(at + 2), Some(b'd' | b'D'))
            && matches!(
                object.get(at + 3),
                Some(b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F')
            )
    });
    surrogate || nests_deeper_than(object, MAX_SCANNED_DEPTH)
}

/// Whether brackets outside strings nest more than `limit` deep.
fn nests_deeper_than(object: &[u8], limit: usize) -> bool {
    // Cheap bound first: fewer opening brackets than the limit cannot nest deeper.
    let openings = object
        .iter()
        .filter(|&&byte| byte == b'{' || byte == b'[')
        .count();
    if openings <= limit {
        return false;
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for &byte in object {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

/// The members the envelope scan tells apart.
enum Key {
    Jsonrpc,
    Id,
    Method,
    Params,
    Result,
    Error,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Key, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = Key;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a member name")
    }

    // Unescaped names arrive borrowed from the input, escaped ones from a scratch buffer;
    // either way nothing is allocated.
    fn visit_str<E: de::Error>(self, name: &str) -> Result<Key, E> {
        Ok(match name {
            "jsonrpc" => Key::Jsonrpc,
            "id" => Key::Id,
            "method" => Key::Method,
            "params" => Key::Params,
            "result" => Key::Result,
            "error" => Key::Error,
            _ => Key::Other,
        })
    }
}

struct EnvelopeVisitor<'a> {
    base: &'a [u8],
}

impl<'de> Visitor<'de> for EnvelopeVisitor<'de> {
    type Value = Envelope;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Envelope, A::Error> {
        let mut envelope = Envelope::default();
        let decode = |raw: &RawValue| serde_json::from_str::<Value>(raw.get());
        while let Some(key) = map.next_key::<Key>()? {
            let raw: &'de RawValue = map.next_value()?;
            let span = span_of(self.base, raw);
            let seen = match key {
                Key::Jsonrpc => envelope
                    .jsonrpc
                    .replace(decode(raw).map_err(de::Error::custom)?)
                    .is_some(),
                Key::Id => envelope
                    .id
                    .replace((decode(raw).map_err(de::Error::custom)?, span))
                    .is_some(),
                Key::Method => envelope
                    .method
                    .replace(decode(raw).map_err(de::Error::custom)?)
                    .is_some(),
                Key::Params => envelope.params.replace(span).is_some(),
                Key::Result => std::mem::replace(&mut envelope.has_result, true),
                Key::Error => std::mem::replace(&mut envelope.has_error, true),
                Key::Other => false,
            };
            envelope.duplicate |= seen;
        }
        Ok(envelope)
    }
}

/// Where `raw`, borrowed from `base`, lies in it.
fn span_of(base: &[u8], raw: &RawValue) -> Range<usize> {
    // A borrowed `RawValue` is a subslice of the input the deserializer reads.
    let start = (raw.get().as_ptr() as usize).saturating_sub(base.as_ptr() as usize);
    start..start + raw.get().len()
}

struct MemberVisitor<'n> {
    name: &'n str,
}

/// A member name compared with the one sought.
struct IsName<'n>(&'n str);

impl<'de> DeserializeSeed<'de> for IsName<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for IsName<'_> {
    type Value = bool;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<bool, E> {
        Ok(name == self.0)
    }
}

impl<'de> Visitor<'de> for MemberVisitor<'_> {
    type Value = Option<&'de RawValue>;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(is_name) = map.next_key_seed(IsName(self.name))? {
            if is_name {
                found = Some(map.next_value::<&'de RawValue>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_the_routed_members_and_their_ranges() {
        let text = br#"{"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"a":[1]},"x":0}"#;
        let envelope = scan(text).unwrap();
        assert_eq!(envelope.jsonrpc, Some(json!("2.0")));
        let (id, span) = envelope.id.unwrap();
        assert_eq!((id, &text[span]), (json!(12), &b"12"[..]));
        assert_eq!(envelope.method, Some(json!("tools/call")));
        assert_eq!(&text[envelope.params.unwrap()], br#"{"a":[1]}"#);
        assert!(!envelope.has_result && !envelope.has_error && !envelope.duplicate);
    }

    #[test]
    fn notices_duplicates_and_escaped_names() {
        let envelope = scan(br#"{"i\u0064":1,"id":2}"#).unwrap();
        assert!(envelope.duplicate);
        assert_eq!(envelope.id.map(|(id, _)| id), Some(json!(2)));
    }

    #[test]
    fn rejects_invalid_json_anywhere() {
        assert!(scan(br#"{"id":1,"x":[1,}"#).is_err());
        assert!(scan(br#"{"id":1} x"#).is_err());
    }

    #[test]
    fn surrogate_escapes_and_deep_nesting_need_the_tree() {
        assert!(needs_tree(br#"{"s":"\ud83d\ude00"}"#));
        assert!(needs_tree(br#"{"s":"\uDC00"}"#));
        assert!(!needs_tree(br#"{"s":"\u00e9","t":"\uD7FF"}"#));
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(101), "]".repeat(101));
        assert!(needs_tree(deep.as_bytes()));
        let quoted = format!("{{\"a\":\"{}\"}}", "[".repeat(200));
        assert!(!needs_tree(quoted.as_bytes()));
        let shallow = format!("{{\"a\":[{}]}}", "[1],".repeat(200).trim_end_matches(','));
        assert!(!needs_tree(shallow.as_bytes()));
    }

    #[test]
    fn member_reads_one_member_of_an_object() {
        let object = r#"{"a":{"b":1},"_meta":{"progressToken":"t"},"z":2}"#;
        let meta = member(object, "_meta").unwrap();
        assert_eq!(
            member(meta.get(), "progressToken").map(RawValue::get),
            Some(r#""t""#)
        );
        assert_eq!(member("[1]", "_meta").map(RawValue::get), None);
        assert_eq!(member(object, "missing").map(RawValue::get), None);
    }
}
