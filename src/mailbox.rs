//! `MailboxBound`: a bound and a depth gauge for an actor's mailbox.
//!
//! ractor mailboxes are unbounded and expose no depth. Every message that can arrive in bulk
//! (client requests and notifications, child frames, stdin writes) carries a
//! [`MailboxPermit`]; the permit is released when the actor has taken the message, so the
//! number of permits out is the mailbox depth. Senders that must not wait (HTTP handlers, the
//! session writing to its child) use [`MailboxBound::try_reserve`] and refuse work when full;
//! the child's stdout pump uses [`MailboxBound::reserve`] and so pushes back on the child.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The bound of one actor's mailbox.
#[derive(Debug, Clone)]
pub struct MailboxBound {
    /// One permit per message that may wait in the mailbox.
    permits: Arc<Semaphore>,
    /// Total permits, to compute the depth.
    capacity: usize,
}

/// Proof that a message has room in a mailbox; dropping it frees the room.
#[derive(Debug)]
pub struct MailboxPermit(#[allow(dead_code)] OwnedSemaphorePermit);

impl MailboxBound {
    /// A mailbox bound of `capacity` messages.
    pub fn new(capacity: usize) -> MailboxBound {
        let capacity = capacity.clamp(1, Semaphore::MAX_PERMITS);
        MailboxBound {
            permits: Arc::new(Semaphore::new(capacity)),
            capacity,
        }
    }

    /// Room for one message, if there is some now.
    pub fn try_reserve(&self) -> Option<MailboxPermit> {
        self.permits
            .clone()
            .try_acquire_owned()
            .ok()
            .map(MailboxPermit)
    }

    /// Room for one message, waiting for it if needed; `None` if the bound was closed.
    pub async fn reserve(&self) -> Option<MailboxPermit> {
        self.permits
            .clone()
            .acquire_owned()
            .await
            .ok()
            .map(MailboxPermit)
    }

    /// Messages currently waiting (or being handled).
    pub fn depth(&self) -> usize {
        self.capacity - self.permits.available_permits()
    }

    #[cfg(test)]
    pub fn capacity(&self) -> usize {
        self.capacity
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn permits_bound_and_measure_the_depth() {
        let bound = MailboxBound::new(2);
        let a = bound.try_reserve().unwrap();
        let _b = bound.reserve().await.unwrap();
        assert_eq!(bound.depth(), 2);
        assert!(bound.try_reserve().is_none());
        drop(a);
        assert_eq!(bound.depth(), 1);
        assert!(bound.try_reserve().is_some());
        assert_eq!(bound.capacity(), 2);
    }
}
