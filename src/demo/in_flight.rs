//! Bookkeeping for client requests being handled right now: the registry that
//! lets `notifications/cancelled` (or shutdown) stop a handler before it
//! answers, and the tracker that lets shutdown wait for every request task.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::Value;
use tokio::sync::{mpsc, oneshot};

use super::lock;

/// Handlers in flight, keyed by a private ticket number so that two requests
/// reusing one id never disturb each other's bookkeeping.
#[derive(Default)]
pub struct InFlightRequests {
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    next_ticket: u64,
    by_ticket: HashMap<u64, Entry>,
}

struct Entry {
    id_key: String,
    cancel: oneshot::Sender<()>,
}

/// Handed to the task handling one request.
pub struct Ticket {
    pub number: u64,
    /// Completes when the request is cancelled.
    pub cancelled: oneshot::Receiver<()>,
}

/// Request ids compare by their JSON text, so `1` and `"1"` stay distinct.
fn id_key(id: &Value) -> String {
    id.to_string()
}

impl InFlightRequests {
    pub fn register(&self, id: &Value) -> Ticket {
        let (cancel, cancelled) = oneshot::channel();
        let mut entries = lock(&self.entries);
        entries.next_ticket += 1;
        let number = entries.next_ticket;
        let id_key = id_key(id);
        entries.by_ticket.insert(number, Entry { id_key, cancel });
        Ticket { number, cancelled }
    }

    /// Forgets a request whose handler has finished.
    pub fn finish(&self, ticket_number: u64) {
        lock(&self.entries).by_ticket.remove(&ticket_number);
    }

    /// Cancels every in-flight request with this id; returns how many there were.
    pub fn cancel(&self, id: &Value) -> usize {
        let key = id_key(id);
        let mut entries = lock(&self.entries);
        let tickets: Vec<u64> = entries
            .by_ticket
            .iter()
            .filter(|(_, entry)| entry.id_key == key)
            .map(|(ticket, _)| *ticket)
            .collect();
        for ticket in &tickets {
            if let Some(entry) = entries.by_ticket.remove(ticket) {
                // The handler may have just finished; then nobody listens.
                let _ = entry.cancel.send(());
            }
        }
        tickets.len()
    }

    /// Cancels everything in flight; returns how many requests that was.
    pub fn cancel_all(&self) -> usize {
        let drained: Vec<Entry> = lock(&self.entries)
            .by_ticket
            .drain()
            .map(|(_, entry)| entry)
            .collect();
        let count = drained.len();
        for entry in drained {
            let _ = entry.cancel.send(());
        }
        count
    }
}

/// Lets shutdown wait until every spawned request task has ended: each task
/// holds a [`TaskToken`], and [`TaskTracker::wait_for_all`] returns once the
/// last token is dropped (however its task ended).
pub struct TaskTracker {
    alive: mpsc::Sender<()>,
    all_done: mpsc::Receiver<()>,
}

pub struct TaskToken {
    _alive: mpsc::Sender<()>,
}

impl TaskTracker {
    pub fn new() -> Self {
        let (alive, all_done) = mpsc::channel(1);
        Self { alive, all_done }
    }

    pub fn token(&self) -> TaskToken {
        TaskToken {
            _alive: self.alive.clone(),
        }
    }

    pub async fn wait_for_all(self) {
        let Self {
            alive,
            mut all_done,
        } = self;
        drop(alive);
        // Nothing is ever sent; `recv` returns `None` once every sender is gone.
        while all_done.recv().await.is_some() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn cancel_matches_ids_by_json_text() {
        let requests = InFlightRequests::default();
        let mut numeric = requests.register(&json!(1));
        let mut textual = requests.register(&json!("1"));
        assert_eq!(requests.cancel(&json!(1)), 1);
        assert_eq!(numeric.cancelled.try_recv(), Ok(()));
        assert!(textual.cancelled.try_recv().is_err());
        assert_eq!(requests.cancel(&json!(1)), 0, "already cancelled");
    }

    #[test]
    fn finished_requests_can_no_longer_be_cancelled() {
        let requests = InFlightRequests::default();
        let first = requests.register(&json!(5));
        let mut second = requests.register(&json!(5));
        requests.finish(first.number);
        assert_eq!(requests.cancel(&json!(5)), 1);
        assert_eq!(second.cancelled.try_recv(), Ok(()));
        requests.register(&json!(6));
        assert_eq!(requests.cancel_all(), 1);
    }

    #[tokio::test]
    async fn tracker_waits_for_every_token() {
        let tracker = TaskTracker::new();
        let token = tracker.token();
        let (finished_sender, mut finished) = oneshot::channel();
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            let _ = finished_sender.send(());
            drop(token);
        });
        tracker.wait_for_all().await;
        assert_eq!(finished.try_recv(), Ok(()));
    }
}
