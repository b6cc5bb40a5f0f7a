//! `ChangeFeed`: where change notifications of the translated pool's children meet the open
//! listen streams. Every pooled child hands the feed what it sends outside a request; a list
//! change is global state (any child may notice it), so it goes to every stream that opted in,
//! tagged with that stream's subscription id.
//!
//! Bursts are coalesced per list: the first change goes out at once, further ones within
//! [`COALESCE_WINDOW`] are folded into one that goes out when the window closes (so the last
//! change is never lost, and N children noticing the same change cost one notification).
//!
//! A stream's queue is bounded: a stream that cannot take an event (its client stopped
//! reading) is dropped from the feed, and its body ends abruptly, so the client knows it
//! missed something and listens again.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::mpsc;

use super::filter::{Change, Filter, ListKind, list_changed, tagged};
use crate::frame::Frame;

/// Changes of one list closer together than this are sent as one.
pub const COALESCE_WINDOW: Duration = Duration::from_millis(50);

/// The fan-out of change notifications to listen streams (cheap to clone).
#[derive(Clone, Default)]
pub struct ChangeFeed(Arc<Mutex<Registry>>);

#[derive(Default)]
struct Registry {
    next_key: u64,
    /// By registration order, so every stream sees changes in the same order.
    streams: BTreeMap<u64, Subscriber>,
    /// Per list (`ListKind::ALL` order).
    windows: [Window; 3],
}

struct Subscriber {
    subscription_id: Value,
    honoured: Filter,
    events: mpsc::Sender<Bytes>,
}

/// The coalescing state of one list.
#[derive(Default, Clone, Copy)]
struct Window {
    /// A change went out less than a window ago.
    open: bool,
    /// Changes came while open: one goes out when the window closes.
    folded: bool,
}

/// A stream's place in the feed; unregisters it when dropped.
pub struct Registration {
    feed: ChangeFeed,
    key: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.feed.registry().streams.remove(&self.key);
    }
}

impl ChangeFeed {
    /// Hands the feed a notification a pooled child sent outside any request. Returns whether
    /// it was a change notification (taken), as opposed to something else (left to the caller).
    pub fn publish(&self, notification: &Frame) -> bool {
        let Some(change) = Change::of(notification) else {
            return false;
        };
        match change {
            Change::List(kind) => self.list_changed(kind),
            Change::Updated(_) => {
                let mut registry = self.registry();
                registry.deliver(&change, |id| tagged(notification, id));
            }
        }
        true
    }

    /// Tells every stream that opted in that each list may have changed (their server was
    /// replaced or restarted): clients refetch.
    pub fn refetch(&self) {
        for kind in ListKind::ALL {
            self.list_changed(kind);
        }
    }

    /// Streams in the feed.
    pub fn len(&self) -> usize {
        self.registry().streams.len()
    }

    /// Adds a stream that carries what `honoured` names, tagged `subscription_id`, to `events`.
    pub fn register(
        &self,
        subscription_id: Value,
        honoured: Filter,
        events: mpsc::Sender<Bytes>,
    ) -> Registration {
        let mut registry = self.registry();
        registry.next_key += 1;
        let key = registry.next_key;
        registry.streams.insert(
            key,
            Subscriber {
                subscription_id,
                honoured,
                events,
            },
        );
        Registration {
            feed: self.clone(),
            key,
        }
    }

    fn list_changed(&self, kind: ListKind) {
        let mut registry = self.registry();
        let window = &mut registry.windows[kind.index()];
        if window.open {
            window.folded = true;
            return;
        }
        window.open = true;
        registry.deliver(&Change::List(kind), |id| list_changed(kind, id));
        drop(registry);
        let feed = self.clone();
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(COALESCE_WINDOW).await;
                let mut registry = feed.registry();
                let window = &mut registry.windows[kind.index()];
                if !window.folded {
                    window.open = false;
                    return;
                }
                window.folded = false;
                registry.deliver(&Change::List(kind), |id| list_changed(kind, id));
            }
        });
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        // Every critical section leaves the registry consistent (inserts, removes, flags).
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Registry {
    /// Queues `change` (as `frame_for` the stream's id builds it) on every stream that wants
    /// it, dropping the streams that cannot take it.
    fn deliver(&mut self, change: &Change, frame_for: impl Fn(&Value) -> Frame) {
        self.streams.retain(|_, stream| {
            if !stream.honoured.wants(change) {
                return true;
            }
            let event = frame_for(&stream.subscription_id).to_bytes();
            match stream.events.try_send(event) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    tracing::warn!(subscription = %stream.subscription_id, "a listen stream's client is not reading its events; ending the stream (it should listen again)");
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(notifications: &str) -> Filter {
        let params: Value =
            serde_json::from_str(&format!(r#"{{"notifications":{notifications}}}"#)).unwrap();
        let everything: Value = serde_json::from_str(
            r#"{"tools":{"listChanged":true},"prompts":{"listChanged":true},"resources":{"subscribe":true,"listChanged":true}}"#,
        )
        .unwrap();
        Filter::requested(Some(&params), 8).honoured_by(Some(&everything))
    }

    fn frame(text: &str) -> Frame {
        Frame::parse(text.as_bytes()).unwrap()
    }

    fn text(bytes: Bytes) -> String {
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    const TOOLS: &str = r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed"}"#;

    #[tokio::test(start_paused = true)]
    async fn changes_reach_exactly_the_streams_that_asked_tagged_with_their_id() {
        let feed = ChangeFeed::default();
        let (tx_a, mut rx_a) = mpsc::channel(8);
        let (tx_b, mut rx_b) = mpsc::channel(8);
        let _a = feed.register(
            Value::from("a"),
            filter(r#"{"toolsListChanged":true}"#),
            tx_a,
        );
        let _b = feed.register(
            Value::from(2),
            filter(r#"{"promptsListChanged":true,"resourceSubscriptions":["u://1"]}"#),
            tx_b,
        );
        assert!(feed.publish(&frame(TOOLS)));
        assert!(feed.publish(&frame(
            r#"{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"u://1"}}"#
        )));
        assert!(feed.publish(&frame(
            r#"{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"u://2"}}"#
        )));
        assert!(!feed.publish(&frame(
            r#"{"jsonrpc":"2.0","method":"notifications/message","params":{}}"#
        )));
        assert_eq!(
            text(rx_a.try_recv().unwrap()),
            r#"{"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"_meta":{"io.modelcontextprotocol/subscriptionId":"a"}}}"#
        );
        assert!(rx_a.try_recv().is_err());
        assert_eq!(
            text(rx_b.try_recv().unwrap()),
            r#"{"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"u://1","_meta":{"io.modelcontextprotocol/subscriptionId":2}}}"#
        );
        assert!(rx_b.try_recv().is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_is_one_change_now_and_one_when_the_window_closes() {
        let feed = ChangeFeed::default();
        let (tx, mut rx) = mpsc::channel(8);
        let _stream = feed.register(Value::from(1), filter(r#"{"toolsListChanged":true}"#), tx);
        for _ in 0..5 {
            feed.publish(&frame(TOOLS));
        }
        assert!(rx.try_recv().is_ok());
        assert!(rx.try_recv().is_err());
        tokio::time::sleep(COALESCE_WINDOW + Duration::from_millis(1)).await;
        assert!(rx.try_recv().is_ok(), "the folded changes go out as one");
        assert!(rx.try_recv().is_err());
        // The window closes after a quiet one: the next change goes out at once.
        tokio::time::sleep(COALESCE_WINDOW * 2).await;
        feed.publish(&frame(TOOLS));
        assert!(rx.try_recv().is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_that_cannot_keep_up_is_dropped_and_a_dropped_registration_leaves() {
        let feed = ChangeFeed::default();
        let (tx, mut rx) = mpsc::channel(1);
        let _slow = feed.register(Value::from(1), filter(r#"{"toolsListChanged":true}"#), tx);
        let (tx, _rx_gone) = mpsc::channel(8);
        let gone = feed.register(Value::from(2), filter(r#"{"toolsListChanged":true}"#), tx);
        feed.refetch();
        assert_eq!(feed.len(), 2);
        tokio::time::sleep(COALESCE_WINDOW * 3).await;
        feed.refetch();
        assert_eq!(feed.len(), 1, "the full stream left the feed");
        assert!(rx.try_recv().is_ok());
        assert!(
            rx.recv().await.is_none(),
            "its queue ends after what it holds"
        );
        drop(gone);
        assert_eq!(feed.len(), 0);
    }
}
