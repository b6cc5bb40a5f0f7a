//! `SessionIndex`: the concurrent map from session id to the session's actor, read by every
//! HTTP handler and written only by the `SessionRouter`; and the count of sessions that are
//! listed or still stopping, which `--max-sessions` and the shutdown drain go by.
//!
//! Handlers clone the entry out and never hold a map guard across an `.await`.

use std::sync::Arc;

use dashmap::DashMap;
use ractor::ActorRef;
use tokio::sync::watch;

use crate::budget::SessionBudgets;
use crate::mailbox::MailboxBound;
use crate::protocol::{SessionKind, SessionMsg};
use crate::session_id::SessionId;
use crate::session_stats::SessionStats;
use crate::stream::StreamNumbers;

/// What the index holds for one live session.
#[derive(Clone)]
pub struct SessionEntry {
    /// Addressed directly by handlers: the hot path does not go through the router.
    pub actor: ActorRef<SessionMsg>,
    /// Handlers reserve room in the session's mailbox before they send.
    pub inbox: MailboxBound,
    pub stats: Arc<SessionStats>,
    /// Handlers charge a request's bytes before they send it.
    pub budgets: SessionBudgets,
    /// Numbers the session's streams (SSE event ids are per session).
    pub streams: Arc<StreamNumbers>,
    /// A client's session, or one the modern leg pools.
    pub kind: SessionKind,
}

impl SessionEntry {
    /// Whether the session can still take messages (it has not begun to end).
    pub fn is_open(&self) -> bool {
        !self.stats.is_closing()
    }
}

/// All live sessions by id.
pub struct SessionIndex {
    /// Sharded: lookups from many handler tasks never contend on one lock.
    sessions: DashMap<SessionId, SessionEntry>,
    /// Sessions unlisted but whose actor (and child) has not stopped yet.
    stopping: std::sync::atomic::AtomicUsize,
    /// Listed plus stopping sessions, watched by the shutdown drain.
    count: watch::Sender<usize>,
}

impl Default for SessionIndex {
    fn default() -> SessionIndex {
        SessionIndex {
            sessions: DashMap::new(),
            stopping: std::sync::atomic::AtomicUsize::new(0),
            count: watch::Sender::new(0),
        }
    }
}

impl SessionIndex {
    /// Looks an open client session up by the id a client sent. Pooled sessions are never
    /// found this way: their ids are the proxy's, and a client naming one gets 404.
    pub fn get(&self, id: &str) -> Option<SessionEntry> {
        self.sessions
            .get(id)
            .map(|entry| entry.clone())
            .filter(|entry| entry.is_open() && entry.kind == SessionKind::Client)
    }

    /// Looks an open pooled session up (the modern leg's own).
    pub fn get_pooled(&self, id: &SessionId) -> Option<SessionEntry> {
        self.sessions
            .get(id)
            .map(|entry| entry.clone())
            .filter(|entry| entry.is_open() && entry.kind.is_pooled())
    }

    /// Completes when no session is listed or stopping.
    pub async fn wait_empty(&self) {
        let mut count = self.count.subscribe();
        let _ = count.wait_for(|&n| n == 0).await;
    }

    /// Every listed entry (for metrics and inspection).
    pub fn entries(&self) -> Vec<(SessionId, SessionEntry)> {
        self.sessions
            .iter()
            .map(|entry| (entry.key().clone(), entry.value().clone()))
            .collect()
    }

    /// Listed sessions.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// Listed sessions plus those still stopping: the processes `--max-sessions` bounds.
    pub fn occupied(&self) -> usize {
        self.sessions.len() + self.stopping.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Adds a session (router only).
    pub(crate) fn insert(&self, id: SessionId, entry: SessionEntry) {
        self.sessions.insert(id, entry);
        self.publish_count();
    }

    /// Unlists a session that begins to stop (router only); it still counts until
    /// [`SessionIndex::stopped`].
    pub(crate) fn unlist(&self, id: &SessionId) -> Option<SessionEntry> {
        let removed = self.sessions.remove(id).map(|(_, entry)| entry);
        if removed.is_some() {
            self.stopping
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        self.publish_count();
        removed
    }

    /// A session unlisted by [`SessionIndex::unlist`] has stopped (router only).
    pub(crate) fn stopped(&self) {
        let _ = self.stopping.fetch_update(
            std::sync::atomic::Ordering::Relaxed,
            std::sync::atomic::Ordering::Relaxed,
            |n| n.checked_sub(1),
        );
        self.publish_count();
    }

    fn publish_count(&self) {
        self.count.send_replace(self.occupied());
    }
}
