//! Crossing a JSON string fast, checking it as `serde_json` does: its end, its escapes, and
//! no raw control characters (its UTF-8 is checked once for the whole object).
//!
//! The walk looks for the next byte that stops it (`"`, `\\` or a control character) a word
//! of 8 bytes at a time for the first bytes, since escapes in text often come close together,
//! then hands a long stretch to `memchr` (vectorized) and checks the stretch for control
//! characters in a loop the compiler vectorizes too.

use super::{Scanner, Stop};

impl Scanner<'_> {
    /// A string, from its opening quote to past its closing one.
    pub(super) fn string(&mut self) -> Result<(), Stop> {
        self.expect(b'"')?;
        loop {
            let rest = &self.bytes[self.at..];
            // Escapes in text come every few bytes (quotes, newlines, backslashes): the next
            // bytes are looked at a word at a time before a long stretch goes to `memchr`.
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
        if matches!(hex[0], b'd' | b'D')
            && matches!(hex[1], b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F')
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
    bytes
        .iter()
        .fold(false, |found, &byte| found | (byte < 0x20))
}
