//! `RawBody`: a parsed frame as the bytes it arrived in, with its current id beside them.
//! Serializing splices that id over the original one; the JSON tree is built only when read.

use std::ops::Range;
use std::sync::OnceLock;

use bytes::Bytes;
use serde_json::{Map, Value};

use super::byte_scan::{self, Member};
use super::envelope::{self, Envelope};
use super::one_line::{OneLine, SPLICE_INTO_PIECES};

/// A parsed frame's message, kept as bytes.
#[derive(Debug, Clone)]
pub(super) struct RawBody {
    pub bytes: OneLine,
    /// The current `id` and the byte range of the one in `bytes`.
    pub id: Option<(Value, Range<usize>)>,
    /// Whether `id` differs from the one in `bytes` (it was replaced).
    pub id_replaced: bool,
    pub method: Option<Value>,
    pub params: Option<Range<usize>>,
    /// The whole message as a tree (current id included), built on first read.
    pub tree: OnceLock<Map<String, Value>>,
    /// `params._meta.progressToken`, found on first read.
    pub progress_token: OnceLock<Option<Value>>,
}

impl RawBody {
    /// A parsed frame's bytes with what the envelope scan found in them.
    pub fn new(bytes: OneLine, envelope: Envelope) -> RawBody {
        RawBody {
            bytes,
            id: envelope.id,
            id_replaced: false,
            method: envelope.method,
            params: envelope.params,
            tree: OnceLock::new(),
            progress_token: OnceLock::new(),
        }
    }

    /// The whole message as a tree, current id included, built on first use.
    pub fn tree(&self) -> &Map<String, Value> {
        self.tree.get_or_init(|| self.build_tree())
    }

    /// The tree, for a frame that stops being raw.
    pub fn into_tree(mut self) -> Map<String, Value> {
        let cached = self.tree.take();
        cached.unwrap_or_else(|| self.build_tree())
    }

    fn build_tree(&self) -> Map<String, Value> {
        // These exact bytes passed the envelope scan, which validates all of the JSON with
        // the same parser and limits, as an object: parsing them again cannot fail.
        let mut map: Map<String, Value> =
            serde_json::from_slice(self.bytes.as_bytes()).unwrap_or_default();
        if let Some((id, _)) = self.id.as_ref().filter(|_| self.id_replaced) {
            map.insert("id".into(), id.clone());
        }
        map
    }

    /// `params._meta.progressToken`, found by two member scans (params, then `_meta`) that
    /// decode nothing but the token, so a request's arguments are never built into a tree.
    pub fn progress_token(&self) -> Option<&Value> {
        self.progress_token
            .get_or_init(|| {
                let bytes = self.bytes.as_bytes();
                let params = &bytes[self.params.clone()?];
                let meta = member(params, "_meta")?;
                let token = member(meta, "progressToken")?;
                serde_json::from_slice(token).ok()
            })
            .as_ref()
    }

    /// The message with the current id in place: its bytes themselves while the id is the
    /// original, pieces around the new id for a large message (no copy), and for a small one a
    /// copy with the new id written in.
    pub fn to_one_line(&self) -> OneLine {
        let Some((id, span)) = self.id.as_ref().filter(|_| self.id_replaced) else {
            return self.bytes.clone();
        };
        if self.bytes.len() < SPLICE_INTO_PIECES {
            return OneLine::compact(self.serialize(false));
        }
        let mut compact = Vec::with_capacity(32);
        write_value(&mut compact, id);
        self.bytes.splice(span.clone(), compact)
    }

    /// The bytes with the current id in place, plus `\n` when `newline`.
    pub fn serialize(&self, newline: bool) -> Bytes {
        let bytes = self.bytes.as_bytes();
        let Some((id, span)) = self.id.as_ref().filter(|_| self.id_replaced) else {
            if !newline {
                return bytes.clone();
            }
            let mut out = Vec::with_capacity(bytes.len() + 1);
            out.extend_from_slice(bytes);
            out.push(b'\n');
            return Bytes::from(out);
        };
        let mut out = Vec::with_capacity(bytes.len() + 32);
        out.extend_from_slice(&bytes[..span.start]);
        write_value(&mut out, id);
        out.extend_from_slice(&bytes[span.end..]);
        if newline {
            out.push(b'\n');
        }
        Bytes::from(out)
    }
}

/// The value of member `name` of the JSON object `object`, if it is one and has that member:
/// found by the byte scan, or by `serde_json` for what that scan leaves to it.
fn member<'a>(object: &'a [u8], name: &str) -> Option<&'a [u8]> {
    match byte_scan::member(object, name) {
        Member::Found(value) => Some(&object[value]),
        Member::Missing => None,
        Member::Unsure => {
            let text = std::str::from_utf8(object).ok()?;
            envelope::member(text, name).map(|raw| raw.get().as_bytes())
        }
    }
}

/// Writes `value` as compact JSON.
pub(super) fn write_value(out: &mut Vec<u8>, value: &(impl serde::Serialize + ?Sized)) {
    // Serializing a `Value` or a `Map` of them into memory cannot fail: keys are strings and
    // there is no user-defined `Serialize` impl in the tree.
    let _ = serde_json::to_writer(out, value);
}
