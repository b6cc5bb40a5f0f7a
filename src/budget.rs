//! Byte budgets: how much message data the proxy may hold queued, per session and over all
//! sessions, in each direction (`--max-session-buffer-bytes`, `--max-buffer-bytes`).
//!
//! A [`Charge`] is taken when message bytes enter a queue and travels with them (session
//! mailbox, restart queue, stdin queue; child frames on their way to a client stream, the
//! stream channels, the backlog); dropping it, when the bytes are delivered, gives the room
//! back. Each direction has its own budgets, so data stuck in one direction (a server that
//! stops reading stdin) can never starve the other (that server's answers): a shared budget
//! would let a client's unread requests block the very answers that would let it drain.
//!
//! Client→server data over budget is refused at once (the HTTP side answers 429 or 503);
//! server→client data waits for room (the child's stdout is then not read, which pushes back
//! on the child), or, on a stream, detaches a client that does not read.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Which budget refused a charge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverBudget {
    /// `--max-session-buffer-bytes`: this session holds too much.
    Session,
    /// `--max-buffer-bytes`: all sessions together hold too much.
    Global,
}

/// The budgets shared by every session, one per direction.
#[derive(Debug, Clone)]
pub struct GlobalBudgets {
    to_child: Arc<Semaphore>,
    to_client: Arc<Semaphore>,
    capacity: usize,
}

impl GlobalBudgets {
    pub fn new(capacity: usize) -> GlobalBudgets {
        let capacity = capacity.clamp(1, Semaphore::MAX_PERMITS);
        GlobalBudgets {
            to_child: Arc::new(Semaphore::new(capacity)),
            to_client: Arc::new(Semaphore::new(capacity)),
            capacity,
        }
    }

    /// A new session's budgets of `per_session` bytes per direction, nested in these.
    pub fn session(&self, per_session: usize) -> SessionBudgets {
        let per_session = per_session.clamp(1, Semaphore::MAX_PERMITS);
        let direction = |global: &Arc<Semaphore>| Budget {
            session: Arc::new(Semaphore::new(per_session)),
            global: global.clone(),
            session_capacity: per_session,
        };
        SessionBudgets {
            to_child: direction(&self.to_child),
            to_client: direction(&self.to_client),
        }
    }

    /// Bytes held now, client→server and server→client, over all sessions.
    pub fn held(&self) -> (usize, usize) {
        (
            self.capacity - self.to_child.available_permits(),
            self.capacity - self.to_client.available_permits(),
        )
    }
}

/// One session's budgets.
#[derive(Debug, Clone)]
pub struct SessionBudgets {
    /// Client→server: the mailbox, the restart queue, the stdin queue.
    pub to_child: Budget,
    /// Server→client: child frames before the session routes them, stream channels, backlog.
    pub to_client: Budget,
}

/// A session's budget in one direction, nested in the global one.
#[derive(Debug, Clone)]
pub struct Budget {
    session: Arc<Semaphore>,
    global: Arc<Semaphore>,
    session_capacity: usize,
}

/// Bytes held against a budget until dropped.
#[derive(Debug)]
pub struct Charge {
    _session: OwnedSemaphorePermit,
    _global: OwnedSemaphorePermit,
}

impl Budget {
    /// Charges `bytes` now, or says which budget is exhausted.
    pub fn try_charge(&self, bytes: usize) -> Result<Charge, OverBudget> {
        let units = units(bytes);
        let session = self
            .session
            .clone()
            .try_acquire_many_owned(units)
            .map_err(|_| OverBudget::Session)?;
        let global = self
            .global
            .clone()
            .try_acquire_many_owned(units)
            .map_err(|_| OverBudget::Global)?;
        Ok(Charge {
            _session: session,
            _global: global,
        })
    }

    /// Charges `bytes`, waiting for room. Every waiter takes the session budget before the
    /// global one, so two waiters can never hold one each and wait for the other.
    pub async fn charge(&self, bytes: usize) -> Option<Charge> {
        let units = units(bytes);
        let session = self.session.clone().acquire_many_owned(units).await.ok()?;
        let global = self.global.clone().acquire_many_owned(units).await.ok()?;
        Some(Charge {
            _session: session,
            _global: global,
        })
    }

    /// Bytes this session holds now in this direction.
    pub fn held(&self) -> usize {
        self.session_capacity - self.session.available_permits()
    }
}

/// Semaphore units for `bytes`: one per byte, capped where a charge can no longer fit a
/// budget anyway (configuration keeps every message under the session budget).
fn units(bytes: usize) -> u32 {
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn charges_nest_and_are_released_on_drop() {
        let global = GlobalBudgets::new(100);
        let a = global.session(60);
        let b = global.session(60);
        let first = a.to_child.try_charge(50).unwrap();
        assert_eq!(a.to_child.try_charge(20).unwrap_err(), OverBudget::Session);
        let second = b.to_child.try_charge(40).unwrap();
        assert_eq!(b.to_child.try_charge(20).unwrap_err(), OverBudget::Global);
        assert_eq!(global.held(), (90, 0));
        // The other direction is untouched.
        let answer = a.to_client.try_charge(60).unwrap();
        assert_eq!(global.held(), (90, 60));
        drop((first, second, answer));
        assert_eq!(global.held(), (0, 0));
        assert_eq!(a.to_child.held(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiting_charge_gets_room_when_bytes_are_delivered() {
        let global = GlobalBudgets::new(100);
        let session = global.session(100);
        let held = session.to_client.try_charge(80).unwrap();
        let waiter = {
            let budget = session.to_client.clone();
            tokio::spawn(async move { budget.charge(50).await.is_some() })
        };
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(held);
        assert!(waiter.await.unwrap());
    }
}
