//! The envelope scan on bytes: one pass over a JSON object that checks all of it as
//! `serde_json` would and notes what the envelope needs (the routed members, where `id` and
//! `params` lie), in a fraction of the time.
//!
//! A message is nearly all string contents (a tool's text, a file, base64), which this scan
//! crosses with vectorized searches (`string.rs`); UTF-8 is checked once for the whole object.
//! `serde_json` walks the same bytes a word at a time and, before this scan, a second pass
//! looked for surrogate escapes and deep nesting, which this one notices on the way.
//!
//! It only ever says yes for JSON that `serde_json` accepts, with the same envelope (the tests
//! hold it to that against the reference scan in `envelope.rs`). Anything it does not accept
//! goes to that reference scan, which decides and words the error: this scan never rejects.

use std::ops::Range;

use serde_json::Value;

use super::envelope::{Envelope, MAX_SCANNED_DEPTH};

mod string;

/// What the byte scan made of an object.
// Returned once per message and unpacked at once: boxing the envelope would cost an
// allocation per message to save a move.
#[allow(clippy::large_enum_variant)]
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
    let mut envelope = Envelope::default();
    let scanned = scanner.members(|name, value| {
        envelope.duplicate |= record(&mut envelope, name, object, value)?;
        Ok(())
    });
    match scanned {
        Ok(()) => Scanned::Envelope(envelope),
        Err(Stop::NeedsTree) => Scanned::NeedsTree,
        Err(Stop::Unsure) => Scanned::Unsure,
    }
}

/// What [`member`] found.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Member {
    /// Where the member's (last) value lies in the object.
    Found(Range<usize>),
    /// The object has no such member.
    Missing,
    /// The scan did not accept the bytes as an object: the caller asks `serde_json`.
    Unsure,
}

/// Where the last value of member `name` lies in `object`. Meant for objects already checked
/// (a parsed frame's `params`): nothing but the members' names is decoded.
pub(super) fn member(object: &[u8], name: &str) -> Member {
    if object.first() != Some(&b'{') {
        // An array, a string, a number: no members.
        return Member::Missing;
    }
    let mut scanner = Scanner {
        bytes: object,
        at: 0,
    };
    let mut found = None;
    let scanned = scanner.members(|member, value| {
        if decoded_name(&object[member])?.as_ref() == name.as_bytes() {
            found = Some(value);
        }
        Ok(())
    });
    match (scanned, found) {
        (Ok(()), Some(value)) => Member::Found(value),
        (Ok(()), None) => Member::Missing,
        (Err(_), _) => Member::Unsure,
    }
}

/// A member's name without its quotes, decoded when it holds escapes.
fn decoded_name(quoted: &[u8]) -> Result<std::borrow::Cow<'_, [u8]>, Stop> {
    let inner = &quoted[1..quoted.len() - 1];
    if !inner.contains(&b'\\') {
        return Ok(std::borrow::Cow::Borrowed(inner));
    }
    // An escaped name (`"i\u0064"`) is the name it decodes to, as the tree reads it.
    let decoded = serde_json::from_slice::<String>(quoted).map_err(|_| Stop::Unsure)?;
    Ok(std::borrow::Cow::Owned(decoded.into_bytes()))
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

    /// The whole input as one object, handing each member's name (as written, quoted) and
    /// value range to `visit`.
    fn members(
        &mut self,
        mut visit: impl FnMut(Range<usize>, Range<usize>) -> Result<(), Stop>,
    ) -> Result<(), Stop> {
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
                visit(name, start..self.at)?;
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
        Ok(())
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
}

/// Notes a top-level member in the envelope; returns whether it repeats a routed member.
fn record(
    envelope: &mut Envelope,
    name: Range<usize>,
    bytes: &[u8],
    value: Range<usize>,
) -> Result<bool, Stop> {
    let name = decoded_name(&bytes[name])?;
    let decode =
        || serde_json::from_slice::<Value>(&bytes[value.clone()]).map_err(|_| Stop::Unsure);
    Ok(match name.as_ref() {
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
