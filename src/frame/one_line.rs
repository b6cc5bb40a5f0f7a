//! `OneLine`: the bytes of one JSON message that contain no raw CR or LF, so that they can be
//! written as one stdin line or one SSE `data:` line without breaking the framing.
//!
//! JSON strings cannot hold a raw CR or LF (they must be escaped), so the only place one can
//! appear is the whitespace between tokens of pretty-printed JSON. Bytes with such whitespace
//! are refused here; the frame compacts them once by re-serializing instead.

use bytes::Bytes;

/// Single-line message bytes; only a checked value or the compact serializer makes one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneLine(Bytes);

impl OneLine {
    /// Accepts `bytes` when they hold no raw CR or LF; gives them back otherwise.
    pub fn check(bytes: Bytes) -> Result<OneLine, Bytes> {
        match memchr::memchr2(b'\n', b'\r', &bytes) {
            None => Ok(OneLine(bytes)),
            Some(_) => Err(bytes),
        }
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
}
