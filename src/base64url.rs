//! Unpadded base64url (RFC 4648 §5), the alphabet of `requestState` tokens: the demo
//! server's plain ones and the proxy's sealed ones (`modern/request_state.rs`). The crate has
//! no base64 dependency and needs only these two small functions.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Encodes `bytes` without `=` padding.
pub fn encode(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let group = chunk.iter().enumerate().fold(0u32, |group, (index, byte)| {
            group | u32::from(*byte) << (16 - 8 * index)
        });
        // A chunk of n bytes carries n * 8 bits, which n + 1 six-bit digits cover.
        for digit in 0..=chunk.len() {
            let sextet = (group >> (18 - 6 * digit)) & 0x3f;
            text.push(char::from(ALPHABET[sextet as usize]));
        }
    }
    text
}

/// Decodes unpadded base64url; `None` for any character outside the alphabet, a length no
/// encoding produces, or set bits beyond the last whole byte (so each byte string has exactly
/// one accepted spelling).
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let mut bytes = Vec::with_capacity(text.len() * 3 / 4);
    for chunk in text.as_bytes().chunks(4) {
        if chunk.len() == 1 {
            return None;
        }
        let mut group = 0u32;
        for (index, character) in chunk.iter().enumerate() {
            group |= sextet(*character)? << (18 - 6 * index);
        }
        let whole_bytes = chunk.len() - 1;
        let leftover_bits = group & (0x00ff_ffff >> (8 * whole_bytes));
        if leftover_bits != 0 {
            return None;
        }
        for index in 0..whole_bytes {
            // The mask keeps one byte, so the cast cannot truncate.
            bytes.push(((group >> (16 - 8 * index)) & 0xff) as u8);
        }
    }
    Some(bytes)
}

fn sextet(character: u8) -> Option<u32> {
    let value = match character {
        b'A'..=b'Z' => character - b'A',
        b'a'..=b'z' => character - b'a' + 26,
        b'0'..=b'9' => character - b'0' + 52,
        b'-' => 62,
        b'_' => 63,
        _ => return None,
    };
    Some(u32::from(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_rfc_4648_test_vectors_without_padding() {
        let vectors = [
            ("", ""),
            ("f", "Zg"),
            ("fo", "Zm8"),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg"),
            ("fooba", "Zm9vYmE"),
            ("foobar", "Zm9vYmFy"),
        ];
        for (plain, encoded) in vectors {
            assert_eq!(encode(plain.as_bytes()), encoded);
            assert_eq!(decode(encoded), Some(plain.as_bytes().to_vec()));
        }
    }

    #[test]
    fn uses_the_url_safe_alphabet_and_round_trips_every_byte() {
        assert_eq!(encode(&[0xfb, 0xff, 0xbf]), "-_-_");
        let all: Vec<u8> = (0..=255).collect();
        for length in 0..all.len() {
            assert_eq!(
                decode(&encode(&all[..length])),
                Some(all[..length].to_vec())
            );
        }
    }

    #[test]
    fn rejects_foreign_characters_impossible_lengths_and_stray_bits() {
        assert_eq!(decode("Zm9v+"), None);
        assert_eq!(decode("Zm9v/"), None);
        assert_eq!(decode("Zg=="), None);
        assert_eq!(decode("Zm9vY"), None);
        assert_eq!(decode("Zh"), None, "`h` sets bits beyond the one byte");
    }
}
