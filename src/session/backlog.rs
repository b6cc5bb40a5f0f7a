//! Messages from the child that no client stream could take yet, kept (bounded, with an age
//! limit) until the client opens its GET stream.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use crate::budget::Charge;
use crate::frame::OneLine;

/// One waiting message.
#[derive(Debug)]
pub struct Parked {
    pub payload: OneLine,
    /// For a server→client request: its outbound id, so an expired one can be answered.
    pub server_request: Option<u64>,
    pub since: Instant,
    /// Held against the session's server→client budget while it waits.
    pub charge: Charge,
}

/// Bounded FIFO of parked messages.
#[derive(Debug)]
pub struct Backlog {
    /// Oldest first.
    items: VecDeque<Parked>,
    /// Most messages kept; parking one more evicts the oldest.
    capacity: usize,
}

impl Backlog {
    /// A backlog of at most `capacity` messages.
    pub fn new(capacity: usize) -> Backlog {
        Backlog {
            items: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Parks a message; returns the message evicted to make room, if any.
    pub fn park(
        &mut self,
        payload: OneLine,
        server_request: Option<u64>,
        charge: Charge,
    ) -> Option<Parked> {
        let evicted = (self.items.len() == self.capacity)
            .then(|| self.items.pop_front())
            .flatten();
        self.items.push_back(Parked {
            payload,
            server_request,
            since: Instant::now(),
            charge,
        });
        evicted
    }

    /// Takes every parked message, oldest first.
    pub fn take_all(&mut self) -> VecDeque<Parked> {
        std::mem::take(&mut self.items)
    }

    /// Removes and returns the messages parked for longer than `max_age`.
    pub fn expire(&mut self, max_age: Duration) -> Vec<Parked> {
        let now = Instant::now();
        let mut expired = Vec::new();
        while let Some(front) = self.items.front() {
            if now.duration_since(front.since) < max_age {
                break;
            }
            if let Some(item) = self.items.pop_front() {
                expired.push(item);
            }
        }
        expired
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::budget::GlobalBudgets;
    use bytes::Bytes;

    fn charge() -> Charge {
        GlobalBudgets::new(1 << 20)
            .session(1 << 20)
            .to_client
            .try_charge(1)
            .unwrap()
    }

    #[test]
    fn evicts_the_oldest_when_full() {
        let mut backlog = Backlog::new(2);
        assert!(
            backlog
                .park(OneLine::from_static(b"1"), Some(1), charge())
                .is_none()
        );
        assert!(
            backlog
                .park(OneLine::from_static(b"2"), None, charge())
                .is_none()
        );
        let evicted = backlog
            .park(OneLine::from_static(b"3"), None, charge())
            .unwrap();
        assert_eq!(evicted.server_request, Some(1));
        let rest: Vec<_> = backlog.take_all().into_iter().map(|p| p.payload).collect();
        assert_eq!(
            rest,
            vec![Bytes::from_static(b"2"), Bytes::from_static(b"3")]
        );
    }

    #[tokio::test(start_paused = true)]
    async fn expires_by_age() {
        let mut backlog = Backlog::new(8);
        backlog.park(OneLine::from_static(b"old"), Some(5), charge());
        tokio::time::advance(Duration::from_secs(10)).await;
        backlog.park(OneLine::from_static(b"new"), None, charge());
        let expired = backlog.expire(Duration::from_secs(5));
        assert_eq!(expired.len(), 1);
        assert_eq!(expired[0].server_request, Some(5));
        assert!(!backlog.is_empty());
    }
}
