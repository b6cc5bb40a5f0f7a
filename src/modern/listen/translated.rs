//! `TranslatedListen`: a listen stream the proxy serves itself for a legacy-only server: its
//! events come from the change feed, and it holds its place in the feed, the resources it
//! follows and its place under the cap on listens until its body is dropped.

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, mpsc};

use super::body::{ListenSource, SourceStep};
use super::fanout::Registration;
use super::keeper::SubscriptionKeeper;

/// One translated listen stream.
pub struct TranslatedListen {
    /// Tagged change notifications, queued by the feed.
    events: mpsc::Receiver<Bytes>,
    /// The result that ends the stream gracefully.
    closing: Bytes,
    _holds: Holds,
}

/// What a stream holds while it is open.
pub struct Holds {
    _registration: Registration,
    keeper: SubscriptionKeeper,
    /// Resources followed for this stream (let go when it ends).
    followed: Vec<String>,
    _slot: OwnedSemaphorePermit,
}

impl Holds {
    pub fn new(
        registration: Registration,
        keeper: SubscriptionKeeper,
        followed: Vec<String>,
        slot: OwnedSemaphorePermit,
    ) -> Holds {
        Holds {
            _registration: registration,
            keeper,
            followed,
            _slot: slot,
        }
    }
}

impl TranslatedListen {
    pub fn new(events: mpsc::Receiver<Bytes>, closing: Bytes, holds: Holds) -> TranslatedListen {
        TranslatedListen {
            events,
            closing,
            _holds: holds,
        }
    }
}

impl Drop for Holds {
    fn drop(&mut self) {
        self.keeper.unfollow(std::mem::take(&mut self.followed));
    }
}

impl ListenSource for TranslatedListen {
    async fn next(&mut self) -> SourceStep {
        match self.events.recv().await {
            Some(event) => SourceStep::Event(event),
            // The feed dropped the stream: its client did not keep up.
            None => SourceStep::Lost,
        }
    }

    fn close(&mut self) -> Vec<Bytes> {
        let mut closing = Vec::new();
        while let Ok(event) = self.events.try_recv() {
            closing.push(event);
        }
        closing.push(self.closing.clone());
        closing
    }
}
