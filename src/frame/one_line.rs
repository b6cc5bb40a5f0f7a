//! `OneLine`: the bytes of one JSON message that contain no raw CR or LF, so that they can be
//! written as one stdin line or one SSE `data:` line without breaking the framing.
//!
//! JSON strings cannot hold a raw CR or LF (they must be escaped), so the only place one can
//! appear is the whitespace between tokens of pretty-printed JSON. Bytes with such whitespace
//! are refused here; the frame compacts them once by re-serializing instead.
//!
//! The stdin queue, client streams, the backlog and the SSE writer take only this type, so a
//! line break can reach neither framing by construction: the only ways in are a checked value,
//! the frame's compact serializer, a splice of those, and static bytes (checked in debug builds
//! and by tests).
//!
//! A large message whose id was replaced is kept as three pieces, the bytes before the id, the
//! new id and the bytes after it, and writers that can write pieces (the stdin writer's
//! vectored write, SSE chunks, a JSON body) write them one after another: a 10 MiB message is
//! never copied to change its id. Readers that need the bytes contiguous get them joined once.

use std::ops::{Deref, Range};
use std::sync::OnceLock;

use bytes::Bytes;

/// Single-line message bytes; only a checked value, the compact serializer or a splice of
/// those makes one.
#[derive(Debug, Clone)]
pub struct OneLine(Repr);

#[derive(Debug, Clone)]
enum Repr {
    /// One run of bytes.
    Whole(Bytes),
    /// A spliced message (boxed: the common case stays as small as `Bytes`).
    Spliced(Box<Spliced>),
}

/// A message as the pieces it was spliced from.
#[derive(Debug, Clone)]
struct Spliced {
    pieces: [Bytes; 3],
    /// The pieces joined, made for the first reader that needs one run of bytes.
    joined: OnceLock<Bytes>,
}

/// Messages at least this large are spliced into pieces; smaller ones are copied into one run
/// (cheaper than handling pieces for a few KiB).
pub(super) const SPLICE_INTO_PIECES: usize = 32 * 1024;

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
            None => Ok(OneLine(Repr::Whole(bytes))),
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
        OneLine(Repr::Whole(Bytes::from_static(bytes)))
    }

    /// Wraps the output of `serde_json`'s compact serializer, which never writes a raw CR or
    /// LF (it escapes them inside strings and writes no whitespace between tokens).
    pub(super) fn compact(serialized: impl Into<Bytes>) -> OneLine {
        OneLine(Repr::Whole(serialized.into()))
    }

    /// These bytes with `span` replaced by `compact`, the compact serialization of a value
    /// (which holds no line break, like any part of these bytes).
    pub(super) fn splice(&self, span: Range<usize>, compact: Vec<u8>) -> OneLine {
        let bytes = self.as_bytes();
        let pieces = [
            bytes.slice(..span.start),
            Bytes::from(compact),
            bytes.slice(span.end..),
        ];
        OneLine(Repr::Spliced(Box::new(Spliced {
            pieces,
            joined: OnceLock::new(),
        })))
    }

    /// The message's length in bytes.
    pub fn len(&self) -> usize {
        self.pieces().iter().map(Bytes::len).sum()
    }

    /// Whether the message is empty (only a test's literal can be).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The message as pieces to write one after another: one, or three for a spliced message.
    pub fn pieces(&self) -> &[Bytes] {
        match &self.0 {
            Repr::Whole(bytes) => std::slice::from_ref(bytes),
            Repr::Spliced(spliced) => &spliced.pieces,
        }
    }

    /// The bytes as one run (a spliced message's pieces are joined on first use).
    pub fn as_bytes(&self) -> &Bytes {
        match &self.0 {
            Repr::Whole(bytes) => bytes,
            Repr::Spliced(spliced) => spliced
                .joined
                .get_or_init(|| Bytes::from(spliced.pieces.concat())),
        }
    }

    /// The bytes as one run, owned.
    pub fn into_bytes(self) -> Bytes {
        match self.0 {
            Repr::Whole(bytes) => bytes,
            Repr::Spliced(spliced) => match spliced.joined.into_inner() {
                Some(joined) => joined,
                None => Bytes::from(spliced.pieces.concat()),
            },
        }
    }
}

impl Deref for OneLine {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for OneLine {
    /// Equal bytes, however they are held.
    fn eq(&self, other: &OneLine) -> bool {
        self.len() == other.len() && self.as_bytes() == other.as_bytes()
    }
}

impl Eq for OneLine {}

impl PartialEq<Bytes> for OneLine {
    fn eq(&self, other: &Bytes) -> bool {
        self.as_bytes() == other
    }
}

impl From<OneLine> for Bytes {
    fn from(line: OneLine) -> Bytes {
        line.into_bytes()
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
    fn a_splice_is_its_pieces_and_joins_only_when_read_as_one_run() {
        let original = OneLine::from_static(b"{\"id\":1234,\"x\":\"abc\"}");
        let spliced = original.splice(6..10, b"7".to_vec());
        let pieces: Vec<&[u8]> = spliced.pieces().iter().map(|piece| &piece[..]).collect();
        assert_eq!(pieces, vec![&b"{\"id\":"[..], b"7", b",\"x\":\"abc\"}"]);
        assert_eq!(spliced.len(), 18);
        // The pieces around the id are the original's bytes, not copies.
        assert_eq!(spliced.pieces()[0].as_ptr(), original.as_bytes().as_ptr());
        assert_eq!(spliced, OneLine::from_static(b"{\"id\":7,\"x\":\"abc\"}"));
        assert_eq!(&spliced[..], b"{\"id\":7,\"x\":\"abc\"}");
        assert_eq!(
            spliced.into_bytes(),
            Bytes::from_static(b"{\"id\":7,\"x\":\"abc\"}")
        );
    }

    #[test]
    #[should_panic(expected = "raw line break")]
    #[cfg(debug_assertions)]
    fn a_static_literal_with_a_line_break_is_caught_in_debug_builds() {
        let _ = OneLine::from_static(b"{\n}");
    }
}
