//! `SessionId`: the `Mcp-Session-Id` a session is known by. Minted from the OS CSPRNG (128
//! bits, lowercase hex, so always visible ASCII as the transport requires); parsed from the
//! header in one place.
//!
//! The id is the only credential a client holds, so it is never logged: logs carry
//! [`SessionId::log_id`], its first 8 hex digits (enough to find it in `/sessions`), and the
//! `Debug` form shows only that prefix too. There is no `Display`, so `%id` cannot leak it.
//!
//! With `--instance-id NAME` ids are `NAME.<hex>`: a load balancer can route on the prefix,
//! and an instance recognizes an id minted by another one ([`misrouted`]).

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

/// A session id.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(Arc<str>);

/// Hex digits of an id that logs show.
const LOGGED_DIGITS: usize = 8;

impl SessionId {
    /// Mints a fresh id from the OS random source, without an instance prefix.
    #[cfg(test)]
    pub fn mint() -> Result<SessionId, getrandom::Error> {
        SessionId::mint_in(None)
    }

    /// Mints a fresh id from the OS random source: `NAME.<hex>` on an instance named `NAME`.
    pub fn mint_in(instance: Option<&InstanceId>) -> Result<SessionId, getrandom::Error> {
        let mut bytes = [0u8; 16];
        getrandom::fill(&mut bytes)?;
        let prefix = instance.map_or(0, |name| name.as_str().len() + 1);
        let mut text = String::with_capacity(prefix + 32);
        if let Some(name) = instance {
            text.push_str(name.as_str());
            text.push(INSTANCE_SEPARATOR);
        }
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

    /// The instance that minted this id, if it was minted with `--instance-id`.
    pub fn instance(&self) -> Option<&str> {
        instance_of(&self.0)
    }
}

/// Between the instance name and the random part of a session id. Not a valid character of
/// an instance name, so the first one ends the name.
pub const INSTANCE_SEPARATOR: char = '.';

/// Longest accepted `--instance-id` (it is repeated in every session id).
pub const MAX_INSTANCE_ID_LEN: usize = 63;

/// The name of one proxy instance (`--instance-id`): ASCII letters, digits and `-`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InstanceId(Arc<str>);

/// Why a name cannot be an instance id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidInstanceId {
    /// An empty name.
    #[error("must not be empty (use letters, digits and '-', e.g. proxy-1)")]
    Empty,
    /// A name longer than [`MAX_INSTANCE_ID_LEN`].
    #[error("is {0} characters long; at most {MAX_INSTANCE_ID_LEN} are allowed")]
    TooLong(usize),
    /// A character other than an ASCII letter, digit or `-`.
    #[error(
        "contains {0:?}; only ASCII letters, digits and '-' are allowed (the name prefixes every session id, followed by '.')"
    )]
    Character(char),
}

impl InstanceId {
    /// Checks a name given to `--instance-id`.
    pub fn parse(name: &str) -> Result<InstanceId, InvalidInstanceId> {
        if name.is_empty() {
            return Err(InvalidInstanceId::Empty);
        }
        if let Some(bad) = name.chars().find(|c| !is_instance_char(*c)) {
            return Err(InvalidInstanceId::Character(bad));
        }
        if name.len() > MAX_INSTANCE_ID_LEN {
            return Err(InvalidInstanceId::TooLong(name.len()));
        }
        Ok(InstanceId(Arc::from(name)))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_instance_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '-'
}

/// The instance a session id (as received in the header) names: the part before the first
/// `.`, when that part is a well-formed instance name. `None` for an unprefixed id.
pub fn instance_of(id: &str) -> Option<&str> {
    let (name, rest) = id.split_once(INSTANCE_SEPARATOR)?;
    (!rest.is_empty() && InstanceId::parse(name).is_ok()).then_some(name)
}

/// The other instance a session id belongs to, when the request reached the wrong instance:
/// the id names an instance and it is not this one (`own`; an instance without a name mints
/// unprefixed ids, so every prefixed id is another's). `None` for this instance's own ids
/// and for unprefixed ids, which cannot tell where they came from.
pub fn misrouted<'a>(id: &'a str, own: Option<&InstanceId>) -> Option<&'a str> {
    let named = instance_of(id)?;
    match own {
        Some(own) if own.as_str() == named => None,
        _ => Some(named),
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
        // The instance prefix is logged on its own (`instance`); the digits identify.
        let random = match self.instance() {
            Some(instance) => &self.0[instance.len() + 1..],
            None => &self.0,
        };
        let end = random
            .char_indices()
            .nth(LOGGED_DIGITS)
            .map_or(random.len(), |(at, _)| at);
        &random[..end]
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
    fn ids_minted_on_a_named_instance_carry_its_prefix() {
        let name = InstanceId::parse("proxy-1").unwrap();
        let a = SessionId::mint_in(Some(&name)).unwrap();
        let b = SessionId::mint_in(Some(&name)).unwrap();
        let (prefix, random) = a.as_str().split_once('.').unwrap();
        assert_eq!(prefix, "proxy-1");
        assert_eq!(random.len(), 32);
        assert!(random.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(a.instance(), Some("proxy-1"));
        assert_ne!(a, b);
        let plain = SessionId::mint_in(None).unwrap();
        assert_eq!(plain.as_str().len(), 32);
        assert_eq!(plain.instance(), None);
        assert!(!plain.as_str().contains('.'));
    }

    #[test]
    fn instance_names_are_letters_digits_and_dashes() {
        for good in ["a", "proxy-1", "EU-west-3", "0", "-"] {
            assert_eq!(InstanceId::parse(good).unwrap().as_str(), good);
        }
        assert_eq!(InstanceId::parse(""), Err(InvalidInstanceId::Empty));
        for (bad, c) in [
            ("a.b", '.'),
            ("a_b", '_'),
            ("a b", ' '),
            ("é", 'é'),
            ("a/b", '/'),
        ] {
            assert_eq!(
                InstanceId::parse(bad),
                Err(InvalidInstanceId::Character(c)),
                "{bad}"
            );
        }
        let long = "x".repeat(MAX_INSTANCE_ID_LEN + 1);
        assert_eq!(
            InstanceId::parse(&long),
            Err(InvalidInstanceId::TooLong(MAX_INSTANCE_ID_LEN + 1))
        );
        assert!(InstanceId::parse(&long[1..]).is_ok());
        let message = InstanceId::parse("a.b").unwrap_err().to_string();
        assert!(message.contains("letters, digits and '-'"), "{message}");
    }

    #[test]
    fn the_instance_of_a_header_id_is_its_well_formed_prefix() {
        assert_eq!(instance_of("b.0123abcd"), Some("b"));
        assert_eq!(instance_of("proxy-2.x.y"), Some("proxy-2"));
        assert_eq!(instance_of("0123abcd"), None);
        assert_eq!(instance_of(".0123"), None);
        assert_eq!(instance_of("b."), None);
        assert_eq!(instance_of("a_b.0123"), None);
    }

    #[test]
    fn an_id_of_another_instance_is_misrouted() {
        let a = InstanceId::parse("a").unwrap();
        let own = SessionId::mint_in(Some(&a)).unwrap();
        assert_eq!(misrouted(own.as_str(), Some(&a)), None);
        assert_eq!(misrouted("b.0123abcd", Some(&a)), Some("b"));
        assert_eq!(misrouted("ab.0123abcd", Some(&a)), Some("ab"));
        // Unprefixed ids cannot tell where they came from.
        assert_eq!(misrouted("0123abcd", Some(&a)), None);
        assert_eq!(misrouted("0123abcd", None), None);
        // An unnamed instance mints unprefixed ids: a prefixed one is another's.
        assert_eq!(misrouted("b.0123abcd", None), Some("b"));
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
