//! The envelope scan on bytes: one pass over a JSON object that checks all of it as
//! `serde_json` would and notes what the envelope needs (the routed members, where `id` and
//! `params` lie), in a fraction of the time.
//!
//! A message is nearly all string contents (a tool's text, a file, base64), and this scan
//! crosses a string by jumping from one `"` or `\` to the next with `memchr` (vectorized),
//! checking the bytes in between for control characters in a loop the compiler vectorizes
//! too; UTF-8 is checked once for the whole object. `serde_json` walks the same bytes a word at
//! a time and, before this scan, a second pass looked for surrogate escapes and deep nesting,
//! which this one notices on the way.
//!
//! It only ever says yes for JSON that `serde_json` accepts, with the same envelope (the tests
//! hold it to that against the reference scan in `envelope.rs`). Anything it does not accept
//! goes to that reference scan, which decides and words the error: this scan never rejects.

use std::ops::Range;

use serde_json::Value;

use super::envelope::{Envelope, MAX_SCANNED_DEPTH};

/// What the byte scan made of an object.
#[derive(Debug)]
pub(super) enum Scanned {
    /// Valid JSON: the envelope.
    Envelope(Envelope),
    /// The tree must read it: an escaped UTF-16 surrogate (which only decoding checks) or
    /// nesting deeper than [`MAX_SCANNED_DEPTH`] (counting the top-level object).
    NeedsTree,
    /// Not accepted here: the reference scan decides.
    Unsure,
}

/// Why the scan stopped early.
enum Stop {
    NeedsTree,
    Unsure,
}

/// Scans `object` (its first byte `{`, no surrounding whitespace needed) in full.
pub(super) fn scan(object: &[u8]) -> Scanned {
    // Outside strings every valid byte is ASCII: checking the whole object at once covers the
    // UTF-8 of every string, which is what `serde_json` checks.
    if std::str::from_utf8(object).is_err() {
        return Scanned::Unsure;
    }
    let mut scanner = Scanner {
        bytes: object,
        at: 0,
    };
    match scanner.envelope() {
        Ok(envelope) => Scanned::Envelope(envelope),
        Err(Stop::NeedsTree) => Scanned::NeedsTree,
        Err(Stop::Unsure) => Scanned::Unsure,
    }
}

struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

/// The container a scanned value is inside.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Container {
    Object,
    Array,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn expect(&mut self, byte: u8) -> Result<(), Stop> {
        if self.peek() != Some(byte) {
            return Err(Stop::Unsure);
        }
        self.at += 1;
        Ok(())
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// The top-level object, member by member.
    fn envelope(&mut self) -> Result<Envelope, Stop> {
        let mut envelope = Envelope::default();
        self.skip_whitespace();
        self.expect(b'{')?;
        self.skip_whitespace();
        if self.peek() == Some(b'}') {
            self.at += 1;
        } else {
            loop {
                let name = self.member_name()?;
                let start = self.at;
                self.value()?;
                envelope.duplicate |= record(&mut envelope, name, self.bytes, start..self.at)?;
                self.skip_whitespace();
                match self.peek() {
                    Some(b',') => {
                        self.at += 1;
                        self.skip_whitespace();
                    }
                    Some(b'}') => {
                        self.at += 1;
                        break;
                    }
                    _ => return Err(Stop::Unsure),
                }
            }
        }
        self.skip_whitespace();
        if self.at != self.bytes.len() {
            return Err(Stop::Unsure);
        }
        Ok(envelope)
    }

    /// A member's name and its `:`, up to the value; returns the name as written (quoted).
    fn member_name(&mut self) -> Result<Range<usize>, Stop> {
        let start = self.at;
        self.string()?;
        let name = start..self.at;
        self.skip_whitespace();
        self.expect(b':')?;
        self.skip_whitespace();
        Ok(name)
    }

    /// One value, containers included, without recursion: the open containers are a stack of
    /// bits (`Object` = 1), so the depth check is the only limit.
    fn value(&mut self) -> Result<(), Stop> {
        let mut open: u128 = 0;
        let mut depth = 1; // the top-level object
        loop {
            // A value starts here.
            match self.peek() {
                Some(b'"') => self.string()?,
                Some(b'-' | b'0'..=b'9') => self.number()?,
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                Some(b'n') => self.literal(b"null")?,
                Some(opening @ (b'{' | b'[')) => {
                    self.at += 1;
                    depth += 1;
                    if depth > MAX_SCANNED_DEPTH {
                        return Err(Stop::NeedsTree);
                    }
                    let container = if opening == b'{' {
                        Container::Object
                    } else {
                        Container::Array
                    };
                    open = (open << 1) | u128::from(container == Container::Object);
                    self.skip_whitespace();
                    let closing = if opening == b'{' { b'}' } else { b']' };
                    if self.peek() == Some(closing) {
                        self.at += 1;
                        depth -= 1;
                        open >>= 1;
                    } else {
                        if container == Container::Object {
                            self.member_name()?;
                        }
                        continue;
                    }
                }
                _ => return Err(Stop::Unsure),
            }
            // After a value: close what ends here, or go on after a comma.
            loop {
                if depth == 1 {
                    return Ok(());
                }
                let inside = if open & 1 == 1 {
                    Container::Object
                } else {
                    Container::Array
                };
                self.skip_whitespace();
                match (self.peek(), inside) {
                    (Some(b','), _) => {
                        self.at += 1;
                        self.skip_whitespace();
                        if inside == Container::Object {
                            self.member_name()?;
                        }
                        break;
                    }
                    (Some(b'}'), Container::Object) | (Some(b']'), Container::Array) => {
                        self.at += 1;
                        depth -= 1;
                        open >>= 1;
                    }
                    _ => return Err(Stop::Unsure),
                }
            }
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Stop> {
        if !self.bytes[self.at..].starts_with(word) {
            return Err(Stop::Unsure);
        }
        self.at += word.len();
        Ok(())
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`; what follows is the caller's.
    fn number(&mut self) -> Result<(), Stop> {
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return Err(Stop::Unsure),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.some_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.some_digits()?;
        }
        Ok(())
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
    }

    fn some_digits(&mut self) -> Result<(), Stop> {
        let start = self.at;
        self.digits();
        if self.at == start {
            return Err(Stop::Unsure);
        }
        Ok(())
    }

    /// A string, from its opening quote to past its closing one.
    fn string(&mut self) -> Result<(), Stop> {
        self.expect(b'"')?;
        loop {
            let rest = &self.bytes[self.at..];
            // Escapes in text come every few bytes (quotes, newlines, backslashes): the next
            // few bytes are looked at one by one before a long stretch goes to `memchr`.
            let near = &rest[..rest.len().min(NEAR)];
            let special = match special_near(near) {
                Some(found) => found,
                None => {
                    let far = &rest[near.len()..];
                    let found = memchr::memchr2(b'"', b'\\', far).ok_or(Stop::Unsure)?;
                    if has_control_character(&far[..found]) {
                        return Err(Stop::Unsure);
                    }
                    near.len() + found
                }
            };
            self.at += special;
            match rest[special] {
                b'"' => {
                    self.at += 1;
                    return Ok(());
                }
                b'\\' => self.escape()?,
                _ => return Err(Stop::Unsure),
            }
        }
    }

    /// One escape, from its backslash.
    fn escape(&mut self) -> Result<(), Stop> {
        let escaped = self.bytes.get(self.at + 1).copied().unwrap_or(0);
        // A table, not a `match`: text mixes `\"`, `\\` and `\n` unpredictably, and one
        // well-predicted branch costs less than a jump table's mispredicted jumps.
        if SHORT_ESCAPE[usize::from(escaped)] {
            self.at += 2;
            return Ok(());
        }
        if escaped != b'u' {
            return Err(Stop::Unsure);
        }
        let hex = self
            .bytes
            .get(self.at + 2..self.at + 6)
            .ok_or(Stop::Unsure)?;
        if !hex.iter().all(u8::is_ascii_hexdigit) {
            return Err(Stop::Unsure);
        }
        // U+D800..U+DFFF: a surrogate, whose pairing only decoding checks.
        if matches!(hex[0], b'd' | b'D') && matches!(hex[1], b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F')
        {
            return Err(Stop::NeedsTree);
        }
        self.at += 6;
        Ok(())
    }
}

/// Bytes looked at a word at a time in a string before `memchr` takes over.
const NEAR: usize = 128;

/// The first byte of `near` that stops the walk through a string, looking at 8 bytes at once.
fn special_near(near: &[u8]) -> Option<usize> {
    let mut words = near.chunks_exact(8);
    for (index, chunk) in words.by_ref().enumerate() {
        let mut word = [0; 8];
        word.copy_from_slice(chunk);
        let found = stopping_bytes(u64::from_le_bytes(word));
        if found != 0 {
            return Some(8 * index + found.trailing_zeros() as usize / 8);
        }
    }
    let tail = words.remainder();
    let found = tail.iter().position(|&byte| IN_STRING[usize::from(byte)])?;
    Some(near.len() - tail.len() + found)
}

/// The high bit of each byte of `word` that is `"`, `\` or below U+0020, exactly (no carry
/// crosses a byte, so a match never marks its neighbour).
fn stopping_bytes(word: u64) -> u64 {
    const LOW_SEVEN: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let zero_bytes = |x: u64| !(((x & LOW_SEVEN) + LOW_SEVEN) | x | LOW_SEVEN);
    let quote = zero_bytes(word ^ u64::from_ne_bytes([b'"'; 8]));
    let backslash = zero_bytes(word ^ u64::from_ne_bytes([b'\\'; 8]));
    let control = zero_bytes(word & u64::from_ne_bytes([0xe0; 8]));
    quote | backslash | control
}

/// The bytes that stop the walk through a string: its end, an escape, and what JSON forbids
/// raw in strings (U+0000 to U+001F).
const IN_STRING: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 0x20 {
        table[byte] = true;
        byte += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

/// The bytes that may follow `\` in a two-byte escape.
const SHORT_ESCAPE: [bool; 256] = {
    let mut table = [false; 256];
    let escaped = b"\"\\/bfnrt";
    let mut index = 0;
    while index < escaped.len() {
        table[escaped[index] as usize] = true;
        index += 1;
    }
    table
};

/// Whether `bytes` hold a byte JSON forbids raw in strings (U+0000 to U+001F). Written without
/// an early exit so that it compiles to vector compares.
fn has_control_character(bytes: &[u8]) -> bool {
    bytes.iter().fold(false, |found, &byte| found | (byte < 0x20))
}

/// Notes a top-level member in the envelope; returns whether it repeats a routed member.
fn record(
    envelope: &mut Envelope,
    name: Range<usize>,
    bytes: &[u8],
    value: Range<usize>,
) -> Result<bool, Stop> {
    let quoted = &bytes[name];
    let inner = &quoted[1..quoted.len() - 1];
    let decoded;
    let name: &[u8] = if inner.contains(&b'\\') {
        // An escaped name (`"i\u0064"`) routes as what it decodes to, as the tree reads it.
        decoded = serde_json::from_slice::<String>(quoted).map_err(|_| Stop::Unsure)?;
        decoded.as_bytes()
    } else {
        inner
    };
    let decode = || serde_json::from_slice::<Value>(&bytes[value.clone()]).map_err(|_| Stop::Unsure);
    Ok(match name {
        b"jsonrpc" => envelope.jsonrpc.replace(decode()?).is_some(),
        b"id" => envelope.id.replace((decode()?, value)).is_some(),
        b"method" => envelope.method.replace(decode()?).is_some(),
        b"params" => envelope.params.replace(value).is_some(),
        b"result" => std::mem::replace(&mut envelope.has_result, true),
        b"error" => std::mem::replace(&mut envelope.has_error, true),
        _ => false,
    })
}

#[cfg(test)]
mod tests;
