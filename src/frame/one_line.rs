//! `OneLine`: the bytes of one JSON message that contain no raw CR or LF, so that they can be
//! written as one stdin line or one SSE `data:` line without breaking the framing.
//!
//! JSON strings cannot hold a raw CR or LF (they must be escaped), so the only place one can
//! appear is the whitespace between tokens of pretty-printed JSON. Bytes with such whitespace
//! are refused here; the frame compacts them once by re-serializing instead.
//!
//! The stdin queue, client streams, the backlog and the SSE writer take only this type, so a
//! line break can reach neither framing by construction: the only ways in are a checked value,
//! the frame's compact serializer, and static bytes (checked in debug builds and by tests).

use std::ops::Deref;

use bytes::Bytes;

/// Single-line message bytes; only a checked value or the compact serializer makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneLine(Bytes);

/// Whether `bytes` hold a raw CR or LF.
const fn has_line_break(bytes: &[u8]) -> bool {
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'\n' || bytes[at] == b'\r' {
            return true;
        }
        at += 1;
    }
    false
}

impl OneLine {
    /// Accepts `bytes` when they hold no raw CR or LF; gives them back otherwise.
    pub fn check(bytes: Bytes) -> Result<OneLine, Bytes> {
        match memchr::memchr2(b'\n', b'\r', &bytes) {
            None => Ok(OneLine(bytes)),
            Some(_) => Err(bytes),
        }
    }

    /// Static bytes the program itself spells out (a literal JSON message or a test's).
    /// A literal with a line break is a programming error, caught in debug builds (every
    /// test run) instead of costing a scan on each use.
    pub const fn from_static(bytes: &'static [u8]) -> OneLine {
        debug_assert!(
            !has_line_break(bytes),
            "a OneLine literal holds a raw line break"
        );
        OneLine(Bytes::from_static(bytes))
    }

    /// Wraps the output of `serde_json`'s compact serializer, which never writes a raw CR or
    /// LF (it escapes them inside strings and writes no whitespace between tokens).
    pub(super) fn compact(serialized: impl Into<Bytes>) -> OneLine {
        OneLine(serialized.into())
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// The bytes, owned.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl Deref for OneLine {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl PartialEq<Bytes> for OneLine {
    fn eq(&self, other: &Bytes) -> bool {
        self.0 == other
    }
}

impl From<OneLine> for Bytes {
    fn from(line: OneLine) -> Bytes {
        line.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_raw_line_breaks_and_accepts_escaped_ones() {
        assert_eq!(
            OneLine::check(Bytes::from_static(b"{\"a\":\"x\\ny\"}")).map(OneLine::into_bytes),
            Ok(Bytes::from_static(b"{\"a\":\"x\\ny\"}"))
        );
        assert_eq!(
            OneLine::check(Bytes::from_static(b"{\n\"a\":1}")),
            Err(Bytes::from_static(b"{\n\"a\":1}"))
        );
        assert_eq!(
            OneLine::check(Bytes::from_static(b"{\"a\":1}\r")),
            Err(Bytes::from_static(b"{\"a\":1}\r"))
        );
    }

    #[test]
    fn static_literals_are_single_line_and_read_as_their_bytes() {
        const LITERAL: OneLine = OneLine::from_static(b"{\"a\":1}");
        assert_eq!(&LITERAL[..], b"{\"a\":1}");
        assert_eq!(LITERAL.len(), 7);
        assert_eq!(Bytes::from(LITERAL), Bytes::from_static(b"{\"a\":1}"));
        assert!(has_line_break(b"{}\n"));
        assert!(has_line_break(b"\r{}"));
        assert!(!has_line_break(b"{\"a\":\"\\n\"}"));
    }

    #[test]
    #[should_panic(expected = "raw line break")]
    #[cfg(debug_assertions)]
    fn a_static_literal_with_a_line_break_is_caught_in_debug_builds() {
        let _ = OneLine::from_static(b"{\n}");
    }
}
