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
//! Token layout: `[NAME "."] base64url(sealed)`, where `NAME` is the instance's
//! `--instance-id` (absent without one) and
//!
//! ```text
//! sealed = tag[16] ‖ boot id u64 ‖ expires_at_unix_ms u64 ‖ SHA-256(binding)[32] ‖ kind
//! kind = 0 ‖ parked u64
//!      | 1 ‖ generation u64 ‖ child id length u64 ‖ child id ‖ child state (the rest)
//! ```
//!
//! with integers big-endian and `tag` the first 16 bytes of HMAC-SHA256(key, [`NAME.`] ‖
//! everything after the tag). A `Parked` token is 73 bytes, 98 characters, plus the prefix.
//!
//! The prefix is in clear so that a load balancer can send the retry to the instance holding
//! its call (the call lives in that process only); the MAC covers it, so a state cannot be
//! passed off as another instance's, and a named instance refuses its own tokens stripped of
//! it. Neither an instance name nor base64url contains `.`, so the first `.` ends the name.
//!
//! Checks run cheapest-and-most-telling first. The prefix is read before anything else: a
//! state naming another instance can only be opened there, and the client (and the operator,
//! through the misroute count) hear exactly that. The boot id is checked before the MAC: a
//! token sealed by a previous run was sealed under a key this process never had, so its MAC
//! can only fail; reading the boot id first is what lets the client hear "proxy restarted"
//! rather than "tampered". A client that edits the prefix or the boot id gets those reasons
//! too, which is harmless: either way the token is refused.

#[cfg(test)]
mod tests;

mod binding;

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub use binding::Binding;

use crate::base64url;
use crate::session_id::{INSTANCE_SEPARATOR, InstanceId};

/// Longest token [`StateSealer::open`] decodes; longer input is refused before any decoding,
/// so a hostile client cannot make the proxy allocate in proportion to what it sends. A
/// wrapped passthrough state takes 4/3 of (81 bytes + child id + the child's state), plus the
/// instance prefix, so a child state near 12 KiB no longer fits: check the sealed token against
/// this before handing it out.
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

/// Why a `requestState` was refused. Every case means the same to the client: start the call
/// again without `requestState`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StateError {
    /// Not a token of this proxy's shape: bad encoding, wrong length, unknown kind, a prefix
    /// that is not an instance name.
    #[error(
        "requestState is not a token this proxy issued; start the call again without requestState"
    )]
    Malformed,
    /// Issued by the instance named in its prefix, which alone holds the call: the load
    /// balancer sent the retry to the wrong instance.
    #[error(
        "requestState was issued by proxy instance \"{0}\", which alone holds this call, and the retry reached another instance: the load balancer must send requests whose params.requestState starts with \"{0}.\" to instance {0} (see the hyper-mcp-proxy README, \"Running several instances\"); start the call again without requestState"
    )]
    AnotherInstance(InstanceId),
    /// The MAC does not match: the token was altered, or forged.
    #[error("requestState was altered or forged; start the call again without requestState")]
    Tampered,
    /// Sealed by a previous run of this instance (or by an instance without a name), whose key
    /// is gone.
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
    pub fn reason(&self) -> &'static str {
        match self {
            StateError::Malformed => "malformed",
            StateError::AnotherInstance(_) => "another instance",
            StateError::Tampered => "tampered",
            StateError::OtherBoot => "proxy restarted",
            StateError::Expired => "expired",
            StateError::Rebound => "bound to another request",
        }
    }

    /// The instance that issued the state, when the retry reached another one.
    pub fn issuer(&self) -> Option<&InstanceId> {
        match self {
            StateError::AnotherInstance(issuer) => Some(issuer),
            _ => None,
        }
    }
}

/// Seals and opens `requestState` tokens under a key drawn at boot and never stored.
#[derive(Clone)]
pub struct StateSealer {
    /// HMAC-SHA256 already keyed and fed this instance's prefix (`NAME.`, when named): its
    /// inner and outer pads are hashed once, and each token starts from a clone.
    mac: Hmac<Sha256>,
    boot: u64,
    /// `--instance-id`: the clear prefix of every token, which the MAC covers.
    instance: Option<InstanceId>,
}

impl std::fmt::Debug for StateSealer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("StateSealer")
            .field("boot", &self.boot)
            .field("instance", &self.instance.as_ref().map(InstanceId::as_str))
            .finish_non_exhaustive()
    }
}

impl StateSealer {
    /// A sealer with a fresh random key and boot id, for the instance `instance`
    /// (`--instance-id`; `None` seals unprefixed tokens).
    pub fn new(instance: Option<InstanceId>) -> Result<StateSealer, getrandom::Error> {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key)?;
        Ok(StateSealer::keyed(&key, getrandom::u64()?, instance))
    }

    /// An unnamed sealer with a chosen key and boot id, for deterministic tests.
    #[cfg(test)]
    pub fn with_key(key: [u8; 32], boot: u64) -> StateSealer {
        StateSealer::keyed(&key, boot, None)
    }

    /// A named sealer with a chosen key and boot id, for deterministic tests.
    #[cfg(test)]
    pub fn with_key_in(key: [u8; 32], boot: u64, instance: InstanceId) -> StateSealer {
        StateSealer::keyed(&key, boot, Some(instance))
    }

    fn keyed(key: &[u8; 32], boot: u64, instance: Option<InstanceId>) -> StateSealer {
        // HMAC pads a key shorter than the hash's 64-byte block with zeros (RFC 2104 §2), so
        // the zero-padded block is the same key, in the fixed-size form `KeyInit::new` takes.
        let mut block = hmac::digest::Key::<Hmac<Sha256>>::default();
        block[..key.len()].copy_from_slice(key);
        let mut mac = Hmac::new(&block);
        if let Some(name) = &instance {
            mac.update(name.as_str().as_bytes());
            mac.update(&[INSTANCE_SEPARATOR as u8]);
        }
        StateSealer {
            mac,
            boot,
            instance,
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
        let encoded = base64url::encode(&token);
        match &self.instance {
            None => encoded,
            Some(name) => format!("{name}{INSTANCE_SEPARATOR}{encoded}"),
        }
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
        let (prefixed, encoded) = match token.split_once(INSTANCE_SEPARATOR) {
            None => (false, token),
            Some((name, encoded)) => {
                let issuer = InstanceId::parse(name).map_err(|_| StateError::Malformed)?;
                if self.instance.as_ref() != Some(&issuer) {
                    return Err(StateError::AnotherInstance(issuer));
                }
                (true, encoded)
            }
        };
        let bytes = base64url::decode(encoded).ok_or(StateError::Malformed)?;
        // The shortest token there is: the fixed part and a kind byte.
        if bytes.len() <= TAG_LEN + HEADER_LEN {
            return Err(StateError::Malformed);
        }
        let (tag, payload) = bytes.split_at(TAG_LEN);
        let mut reader = Reader(payload);
        if reader.u64()? != self.boot {
            return Err(StateError::OtherBoot);
        }
        // A named instance puts its prefix on every token: this one was stripped of it. (The
        // MAC, keyed with the prefix, would accept it, so the prefix it covers is required.)
        if self.instance.is_some() && !prefixed {
            return Err(StateError::Tampered);
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
