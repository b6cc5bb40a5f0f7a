//! `SessionIndex`: the concurrent map from session id to the session's actor, read by every
//! HTTP handler and written only by the `SessionRouter`.
//!
//! Handlers clone the `ActorRef` out and never hold a map guard across an `.await`.

use std::fmt;
use std::sync::Arc;

use dashmap::DashMap;
use ractor::ActorRef;
use tokio::sync::watch;

use crate::mailbox::MailboxBound;
use crate::session::SessionMsg;

/// A session id: at least 128 bits from the OS CSPRNG, as lowercase hex (visible ASCII).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionId(Arc<str>);

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

impl fmt::Display for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// What the index holds for one live session.
#[derive(Clone)]
pub struct SessionEntry {
    /// The session's supervisor, addressed directly by handlers (the hot path).
    pub actor: ActorRef<SessionMsg>,
    /// The bound of the session's mailbox: handlers reserve room before they send.
    pub inbox: MailboxBound,
}

/// All live sessions by id.
pub struct SessionIndex {
    /// Sharded map: lookups from many handler tasks never contend on one lock.
    sessions: DashMap<SessionId, SessionEntry>,
    /// Number of live sessions, watched by the shutdown drain.
    count: watch::Sender<usize>,
}

impl Default for SessionIndex {
    fn default() -> SessionIndex {
        SessionIndex {
            sessions: DashMap::new(),
            count: watch::Sender::new(0),
        }
    }
}

impl SessionIndex {
    /// Looks a session up, cloning its entry out of the map.
    pub fn get(&self, id: &SessionId) -> Option<SessionEntry> {
        self.sessions.get(id).map(|entry| entry.clone())
    }

    /// Completes when no session is left.
    pub async fn wait_empty(&self) {
        let mut count = self.count.subscribe();
        let _ = count.wait_for(|&n| n == 0).await;
    }

    /// Every live entry (for metrics and inspection).
    pub fn entries(&self) -> Vec<(SessionId, SessionEntry)> {
        self.sessions
            .iter()
            .map(|entry| (entry.key().clone(), entry.value().clone()))
            .collect()
    }

    /// Number of live sessions.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Whether there are no live sessions.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// Adds a session (router only).
    pub(crate) fn insert(&self, id: SessionId, entry: SessionEntry) {
        self.sessions.insert(id, entry);
        self.count.send_replace(self.sessions.len());
    }

    /// Removes a session (router only), returning its actor if it was there.
    pub(crate) fn remove(&self, id: &SessionId) -> Option<ActorRef<SessionMsg>> {
        let removed = self.sessions.remove(id).map(|(_, entry)| entry.actor);
        self.count.send_replace(self.sessions.len());
        removed
    }

    /// Ids and actors of every live session (router only, for draining).
    pub(crate) fn snapshot(&self) -> Vec<(SessionId, ActorRef<SessionMsg>)> {
        self.sessions
            .iter()
            .map(|entry| (entry.key().clone(), entry.actor.clone()))
            .collect()
    }
}

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
}
