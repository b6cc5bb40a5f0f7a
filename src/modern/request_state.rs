//! Sealed `requestState` tokens for the modern leg's multi-round-trip requests (MRTR).
//!
//! The proxy answers a 2026-07-28 `tools/call`, `prompts/get` or `resources/read` with an
//! `InputRequiredResult` whose `requestState` the client echoes byte for byte on its retry.
//! The client controls what it echoes, so the token carries a MAC under a key that lives only
//! in this process: a token is accepted only if this very boot of the proxy sealed it, it has
//! not expired, and the retry is the request it was issued for (same method, same name or uri,
//! same arguments). Sealing protects integrity only: the payload is readable by the client,
//! which already knows everything in it (its own request, and a passthrough child's state that
//! the child sent it in plain).
//!
//! Token layout, base64url of:
//!
//! ```text
//! tag[16] ‖ boot id u64 ‖ expires_at_unix_ms u64 ‖ SHA-256(binding)[32] ‖ kind
//! kind = 0 ‖ parked u64
//!      | 1 ‖ generation u64 ‖ child id length u64 ‖ child id ‖ child state (the rest)
//! ```
//!
//! with integers big-endian and `tag` the first 16 bytes of HMAC-SHA256(key, everything after
//! the tag). A `Parked` token is 73 bytes, 98 characters.
//!
//! The boot id is checked before the MAC: a token sealed by a previous run (or another
//! instance) was sealed under a key this process never had, so its MAC can only fail; reading
//! the boot id first is what lets the client hear "proxy restarted" rather than "tampered".
//! A client that edits the boot id gets that reason too, which is harmless: either way the
//! token is refused.

#[cfg(test)]
mod tests;

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::base64url;

/// Longest token [`StateSealer::open`] decodes; longer input is refused before any decoding,
/// so a hostile client cannot make the proxy allocate in proportion to what it sends. A
/// wrapped passthrough state takes 4/3 of (81 bytes + child id + the child's state), so a child
/// state near 12 KiB no longer fits: check the sealed token against this before handing it out.
pub const MAX_TOKEN_LEN: usize = 16 * 1024;

/// Bytes of the HMAC-SHA256 tag kept in a token (the leftmost half, as RFC 2104 §5 allows).
const TAG_LEN: usize = 16;
/// Boot id, expiry and binding digest: the fixed part of the payload before the kind.
const HEADER_LEN: usize = 8 + 8 + 32;
const KIND_PARKED: u8 = 0;
const KIND_CHILD: u8 = 1;

/// What a `requestState` token stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateKind {
    /// A call the proxy parked while a translated legacy child waits for the client's input.
    Parked {
        /// The parked call's entry in the proxy's table.
        parked: u64,
    },
    /// A passthrough child's own `requestState`, wrapped so the retry returns to that child
    /// (the SDKs seal their state per process; another child could not open it).
    Child {
        /// The pooled session id of the child that issued `state`.
        child: String,
        /// Which incarnation of that child: a restarted child has forgotten the call.
        generation: u64,
        /// The child's `requestState`, byte for byte.
        state: String,
    },
}

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
    fn digest(&self) -> [u8; 32] {
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

/// Why a `requestState` was refused. Every case means the same to the client: start the call
/// again without `requestState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// Not a token of this proxy's shape: bad encoding, wrong length, unknown kind.
    #[error(
        "requestState is not a token this proxy issued; start the call again without requestState"
    )]
    Malformed,
    /// The MAC does not match: the token was altered, or forged.
    #[error("requestState was altered or forged; start the call again without requestState")]
    Tampered,
    /// Sealed by a previous run of the proxy or by another instance, whose key is gone.
    #[error(
        "requestState was issued before the proxy restarted (or by another instance); start the call again without requestState"
    )]
    OtherBoot,
    /// Past its expiry: the proxy has given up on the call.
    #[error("requestState has expired; start the call again without requestState")]
    Expired,
    /// Issued for another method, name, uri or arguments.
    #[error(
        "requestState is bound to another request (method, name or arguments differ); retry with the original method and params, or start the call again without requestState"
    )]
    Rebound,
}

impl StateError {
    /// The short machine-readable reason, for `error.data.reason`.
    pub fn reason(self) -> &'static str {
        match self {
            StateError::Malformed => "malformed",
            StateError::Tampered => "tampered",
            StateError::OtherBoot => "proxy restarted",
            StateError::Expired => "expired",
            StateError::Rebound => "bound to another request",
        }
    }
}

/// Seals and opens `requestState` tokens under a key drawn at boot and never stored.
#[derive(Clone)]
pub struct StateSealer {
    /// HMAC-SHA256 already keyed: its inner and outer pads are hashed once, and each token
    /// starts from a clone.
    mac: Hmac<Sha256>,
    boot: u64,
}

impl std::fmt::Debug for StateSealer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("StateSealer")
            .field("boot", &self.boot)
            .finish_non_exhaustive()
    }
}

impl StateSealer {
    /// A sealer with a fresh random key and boot id.
    pub fn new() -> Result<StateSealer, getrandom::Error> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)?;
        Ok(StateSealer::keyed(&key, getrandom::u64()?))
    }

    /// A sealer with a chosen key and boot id, for deterministic tests.
    #[cfg(test)]
    pub fn with_key(key: [u8; 32], boot: u64) -> StateSealer {
        StateSealer::keyed(&key, boot)
    }

    fn keyed(key: &[u8; 32], boot: u64) -> StateSealer {
        // HMAC pads a key shorter than the hash's 64-byte block with zeros (RFC 2104 §2), so
        // the zero-padded block is the same key, in the fixed-size form `KeyInit::new` takes.
        let mut block = hmac::digest::Key::<Hmac<Sha256>>::default();
        block[..key.len()].copy_from_slice(key);
        StateSealer {
            mac: Hmac::new(&block),
            boot,
        }
    }

    /// Seals `kind` for the request `binding`, valid until `expires_at_unix_ms` inclusive.
    pub fn seal(&self, kind: &StateKind, binding: &Binding, expires_at_unix_ms: u64) -> String {
        let mut token = vec![0u8; TAG_LEN];
        token.extend_from_slice(&self.boot.to_be_bytes());
        token.extend_from_slice(&expires_at_unix_ms.to_be_bytes());
        token.extend_from_slice(&binding.digest());
        match kind {
            StateKind::Parked { parked } => {
                token.push(KIND_PARKED);
                token.extend_from_slice(&parked.to_be_bytes());
            }
            StateKind::Child {
                child,
                generation,
                state,
            } => {
                token.push(KIND_CHILD);
                token.extend_from_slice(&generation.to_be_bytes());
                token.extend_from_slice(&(child.len() as u64).to_be_bytes());
                token.extend_from_slice(child.as_bytes());
                token.extend_from_slice(state.as_bytes());
            }
        }
        let tag = self
            .mac
            .clone()
            .chain_update(&token[TAG_LEN..])
            .finalize()
            .into_bytes();
        token[..TAG_LEN].copy_from_slice(&tag[..TAG_LEN]);
        base64url::encode(&token)
    }

    /// Opens a token echoed by a retry of the request `binding`, at `now_unix_ms`.
    pub fn open(
        &self,
        token: &str,
        binding: &Binding,
        now_unix_ms: u64,
    ) -> Result<StateKind, StateError> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(StateError::Malformed);
        }
        let bytes = base64url::decode(token).ok_or(StateError::Malformed)?;
        // The shortest token there is: the fixed part and a kind byte.
        if bytes.len() <= TAG_LEN + HEADER_LEN {
            return Err(StateError::Malformed);
        }
        let (tag, payload) = bytes.split_at(TAG_LEN);
        let mut reader = Reader(payload);
        if reader.u64()? != self.boot {
            return Err(StateError::OtherBoot);
        }
        self.mac
            .clone()
            .chain_update(payload)
            .verify_truncated_left(tag)
            .map_err(|_| StateError::Tampered)?;
        let expires_at = reader.u64()?;
        let bound_to = reader.take(32)?;
        let kind = match reader.take(1)? {
            [KIND_PARKED] => StateKind::Parked {
                parked: reader.u64()?,
            },
            [KIND_CHILD] => {
                let generation = reader.u64()?;
                let child_len =
                    usize::try_from(reader.u64()?).map_err(|_| StateError::Malformed)?;
                let child = reader.text(child_len)?;
                let state = reader.text(reader.0.len())?;
                StateKind::Child {
                    child,
                    generation,
                    state,
                }
            }
            _ => return Err(StateError::Malformed),
        };
        if !reader.0.is_empty() {
            return Err(StateError::Malformed);
        }
        if now_unix_ms > expires_at {
            return Err(StateError::Expired);
        }
        if bound_to != binding.digest() {
            return Err(StateError::Rebound);
        }
        Ok(kind)
    }
}

/// Milliseconds since the Unix epoch by the wall clock (0 before 1970), the time base of
/// token expiry: unlike `Instant`, it means the same in every process that reads a token.
pub fn unix_ms_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| {
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)
        })
}

/// Reads a payload front to back; running short means the token is malformed.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, count: usize) -> Result<&'a [u8], StateError> {
        if count > self.0.len() {
            return Err(StateError::Malformed);
        }
        let (taken, rest) = self.0.split_at(count);
        self.0 = rest;
        Ok(taken)
    }

    fn u64(&mut self) -> Result<u64, StateError> {
        let bytes = self.take(8)?;
        let array = <[u8; 8]>::try_from(bytes).map_err(|_| StateError::Malformed)?;
        Ok(u64::from_be_bytes(array))
    }

    fn text(&mut self, count: usize) -> Result<String, StateError> {
        let bytes = self.take(count)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| StateError::Malformed)
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
