//! `SessionId`: the `Mcp-Session-Id` a session is known by. Minted from the OS CSPRNG (128
//! bits, lowercase hex, so always visible ASCII as the transport requires); parsed from the
//! header in one place.
//!
//! The id is the only credential a client holds, so it is never logged: logs carry
//! [`SessionId::log_id`], its first 8 hex digits (enough to find it in `/sessions`), and the
//! `Debug` form shows only that prefix too. There is no `Display`, so `%id` cannot leak it.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

/// A session id.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(Arc<str>);

/// Hex digits of an id that logs show.
const LOGGED_DIGITS: usize = 8;

impl SessionId {
    /// Mints a fresh id from the OS random source.
    pub fn mint() -> Result<SessionId, getrandom::Error> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes)?;
        let mut text = String::with_capacity(32);
        for byte in bytes {
            text.push(char::from(HEX[usize::from(byte >> 4)]));
            text.push(char::from(HEX[usize::from(byte & 0x0f)]));
        }
        Ok(SessionId(Arc::from(text)))
    }

    /// Wraps an id received from a client (only ever used as a lookup key).
    pub fn from_header(text: &str) -> SessionId {
        SessionId(Arc::from(text))
    }

    /// The id as sent in `Mcp-Session-Id`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for SessionId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl SessionId {
    /// What logs show of the id: its first 8 characters (the whole id if shorter; ids minted
    /// here are 32).
    pub fn log_id(&self) -> &str {
        let end = self
            .0
            .char_indices()
            .nth(LOGGED_DIGITS)
            .map_or(self.0.len(), |(at, _)| at);
        &self.0[..end]
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionId({}…)", self.log_id())
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// A session's `Mcp-Session-Id` header, read once for every method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionHeader<'a> {
    /// No header.
    Absent,
    /// A header that is not visible ASCII: no session can have it.
    Invalid,
    /// A well-formed header value.
    Present(&'a str),
}

impl<'a> SessionHeader<'a> {
    /// Reads the header from a request's headers.
    pub fn read(headers: &'a axum::http::HeaderMap) -> SessionHeader<'a> {
        match headers.get(SESSION_HEADER) {
            None => SessionHeader::Absent,
            Some(value) => match value.to_str() {
                Ok(text) if !text.is_empty() => SessionHeader::Present(text),
                _ => SessionHeader::Invalid,
            },
        }
    }
}

/// The session id header.
pub const SESSION_HEADER: &str = "mcp-session-id";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_ids_are_128_bit_hex_and_distinct() {
        let a = SessionId::mint().unwrap();
        let b = SessionId::mint().unwrap();
        assert_eq!(a.as_str().len(), 32);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn logs_see_only_a_prefix() {
        let id = SessionId::mint().unwrap();
        assert_eq!(id.log_id(), &id.as_str()[..8]);
        assert!(!format!("{id:?}").contains(id.as_str()));
        assert_eq!(SessionId::from_header("abc").log_id(), "abc");
    }

    #[test]
    fn the_header_is_absent_invalid_or_present() {
        let mut headers = axum::http::HeaderMap::new();
        assert_eq!(SessionHeader::read(&headers), SessionHeader::Absent);
        headers.insert(
            SESSION_HEADER,
            axum::http::HeaderValue::from_bytes(b"\xff").unwrap(),
        );
        assert_eq!(SessionHeader::read(&headers), SessionHeader::Invalid);
        headers.insert(SESSION_HEADER, axum::http::HeaderValue::from_static("abc"));
        assert_eq!(SessionHeader::read(&headers), SessionHeader::Present("abc"));
    }
}
