//! `Binding`: the request a `requestState` token is issued for (method, tool or prompt name or
//! resource uri, and a digest of the arguments in canonical JSON), which its retry must repeat
//! exactly.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// The request a token is issued for; a retry must match it exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Binding {
    /// The JSON-RPC method (`tools/call`, `prompts/get`, `resources/read`).
    pub method: String,
    /// The tool or prompt name (`params.name`), or the resource uri (`params.uri`).
    pub name: Option<String>,
    /// SHA-256 of the canonical JSON of `params.arguments` (`null` when absent).
    pub arguments_digest: [u8; 32],
}

impl Binding {
    /// The binding of a request. The arguments are hashed in canonical form (object keys
    /// sorted at every depth, no whitespace, strings re-escaped), so a client that
    /// re-serializes the same arguments in another key order or spelling still matches.
    /// Numbers keep their digits as sent: `1` and `1.0` are different arguments.
    pub fn of(method: &str, params: Option<&Value>) -> Binding {
        let name_field = if method == "resources/read" {
            "uri"
        } else {
            "name"
        };
        let name = params
            .and_then(|params| params.get(name_field))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let arguments = params
            .and_then(|params| params.get("arguments"))
            .unwrap_or(&Value::Null);
        let mut hasher = HashWriter(Sha256::new());
        write_canonical(arguments, &mut hasher);
        Binding {
            method: method.to_owned(),
            name,
            arguments_digest: hasher.0.finalize().into(),
        }
    }

    /// One digest of method, name and arguments, each length-prefixed so that no two
    /// bindings hash the same bytes.
    pub(super) fn digest(&self) -> [u8; 32] {
        let mut hasher = Sha256::new();
        hasher.update((self.method.len() as u64).to_be_bytes());
        hasher.update(self.method.as_bytes());
        match &self.name {
            None => hasher.update([0]),
            Some(name) => {
                hasher.update([1]);
                hasher.update((name.len() as u64).to_be_bytes());
                hasher.update(name.as_bytes());
            }
        }
        hasher.update(self.arguments_digest);
        hasher.finalize().into()
    }
}

/// Feeds serialized JSON straight into a hash, so canonical arguments are never built as a
/// string.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Writes `value` as canonical JSON: object keys in byte order at every depth, no whitespace.
/// The depth is bounded by `serde_json`'s parser (128 levels), which built the value.
fn write_canonical(value: &Value, out: &mut HashWriter) {
    match value {
        Value::Array(items) => {
            out.0.update(b"[");
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.0.update(b",");
                }
                write_canonical(item, out);
            }
            out.0.update(b"]");
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_unstable_by(|left, right| left.0.cmp(right.0));
            out.0.update(b"{");
            for (index, (key, item)) in entries.into_iter().enumerate() {
                if index > 0 {
                    out.0.update(b",");
                }
                write_json(key.as_str(), out);
                out.0.update(b":");
                write_canonical(item, out);
            }
            out.0.update(b"}");
        }
        scalar => write_json(scalar, out),
    }
}

/// Writes a key or a scalar as `serde_json` does: numbers keep their digits as sent (under
/// `arbitrary_precision`), strings are re-escaped (so `"\u0041"` and `"A"` hash alike).
fn write_json<T: serde::Serialize + ?Sized>(value: &T, out: &mut HashWriter) {
    // Writing into a hash cannot fail, and serializing a `Value` fails only on a map key that
    // is not a string, which a `Value` cannot hold.
    let _ = serde_json::to_writer(out, value);
}
