//! Client streams: the bounded channels that carry already-serialized messages from a session
//! to one HTTP response (a POST's answer stream or the standalone GET stream), and the small
//! replay ring that lets a client resume a stream with `Last-Event-ID`. Messages travel as
//! [`OneLine`]s, so each is one SSE `data:` line as it is.
//!
//! Streams are numbered per session ([`StreamNumbers`]): an SSE event id tells a client nothing
//! about other sessions' traffic. A stream may reserve its first sequence number for the
//! priming event the HTTP side sends when it opens an SSE response (2025-11-25 transport: an
//! event with an id and empty data, so the client can resume even before the first message).
//!
//! A session never awaits a client: it uses `try_send`, and a full or closed channel detaches
//! that stream instead of blocking the session. The session keeps a detached stream's ring, so
//! a client that reconnects with the id of the last event it saw gets what followed.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

use crate::budget::{Budget, Charge};
use crate::frame::OneLine;

/// Events kept per stream for replay.
const RING_EVENTS: usize = 32;
/// Payload bytes kept per stream for replay (the newest event is always kept).
const RING_BYTES: usize = 1024 * 1024;

/// An SSE event id: `"{stream}/{seq}"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventId {
    /// The stream's number within its session.
    pub stream: u64,
    /// Position in the stream, from 1.
    pub seq: u64,
}

impl EventId {
    /// Parses a `Last-Event-ID` header value.
    pub fn parse(text: &str) -> Option<EventId> {
        let (stream, seq) = text.trim().split_once('/')?;
        Some(EventId {
            stream: stream.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.stream, self.seq)
    }
}

/// One message on its way to a client.
#[derive(Debug)]
pub struct StreamEvent {
    /// The serialized JSON-RPC message.
    pub payload: OneLine,
    /// How this event ends the stream, if it does: the answer to the stream's request.
    pub end: StreamEnd,
    /// Its SSE event id.
    pub id: EventId,
    /// Held against the session's server→client budget until the HTTP side takes the event.
    pub charge: Option<Charge>,
}

/// An event kept for replay. The ring is bounded by its own caps (events and bytes per
/// stream, streams and bytes per session), not charged to the byte budgets: kept answers must
/// never hold up live traffic.
#[derive(Debug, Clone)]
struct Kept {
    payload: OneLine,
    end: StreamEnd,
    id: EventId,
}

/// Whether an event is the last one of a request stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamEnd {
    /// More may follow.
    Open,
    /// The request's successful answer.
    Result,
    /// The request's error answer.
    Error,
    /// The proxy refused the request (a limit, or shutdown): the HTTP answer carries this
    /// status (429 or 503) and the payload as a JSON-RPC error body.
    Refused(u16),
}

/// The number of a session's first stream, the one that carries its `initialize` (opened before
/// the session exists).
pub const INITIALIZE_STREAM: u64 = 1;

/// Numbers the streams of one session: [`INITIALIZE_STREAM`] first, then one per request or
/// GET, in the order the HTTP side opens them.
#[derive(Debug)]
pub struct StreamNumbers(AtomicU64);

impl Default for StreamNumbers {
    fn default() -> StreamNumbers {
        StreamNumbers(AtomicU64::new(INITIALIZE_STREAM + 1))
    }
}

impl StreamNumbers {
    /// The next stream's number.
    pub fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::Relaxed)
    }
}

/// Whether a stream reserves sequence number 1 for a priming event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priming {
    /// The client speaks 2025-11-25 or later: the SSE response starts with `id: {stream}/1` and
    /// empty data, and the session's events are numbered from 2.
    Reserved,
    /// An older client, which would try to parse the empty data: events are numbered from 1.
    None,
}

/// The session's end of a client stream.
#[derive(Debug)]
pub struct StreamSender {
    /// The stream's number within its session, used in SSE event ids and logs.
    pub id: u64,
    /// Bounded: a slow client fills it and gets detached, it never grows memory. `None` once
    /// detached, until the client resumes.
    tx: Option<mpsc::Sender<StreamEvent>>,
    /// Sequence number of the last event (or of the reserved priming event).
    seq: u64,
    /// The sequence number before the first message: 1 with a priming event, else 0.
    first_seq: u64,
    /// The last events, for `Last-Event-ID` replay.
    ring: VecDeque<Kept>,
    /// Payload bytes in `ring`.
    ring_bytes: usize,
    /// The session's server→client budget; live events are charged to it.
    budget: Option<Budget>,
}

/// The HTTP side's end of a client stream.
pub type StreamReceiver = mpsc::Receiver<StreamEvent>;

/// Why an event could not be queued on a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamDetached {
    /// The client is not reading fast enough.
    Full,
    /// The client went away.
    Closed,
}

impl StreamSender {
    /// Opens stream `id` with room for `capacity` queued events: the session's end and the
    /// HTTP side's end. The only way streams are made.
    pub fn open(id: u64, capacity: usize, priming: Priming) -> (StreamSender, StreamReceiver) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let first_seq = u64::from(priming == Priming::Reserved);
        let stream = StreamSender {
            id,
            tx: Some(tx),
            seq: first_seq,
            first_seq,
            ring: VecDeque::new(),
            ring_bytes: 0,
            budget: None,
        };
        (stream, rx)
    }

    /// The id of the priming event, when this stream reserved one.
    pub fn priming_id(&self) -> Option<EventId> {
        (self.first_seq == 1).then_some(EventId {
            stream: self.id,
            seq: 1,
        })
    }

    /// Charges this stream's live events to `budget` from now on.
    pub fn set_budget(&mut self, budget: Budget) {
        self.budget = Some(budget);
    }

    /// Queues an event without waiting. On failure (a full channel, no room in the byte
    /// budget, or a client gone) the stream is detached and the event is not kept: the caller
    /// delivers it elsewhere.
    pub fn offer(&mut self, payload: OneLine, end: StreamEnd) -> Result<(), StreamDetached> {
        let Some(tx) = &self.tx else {
            return Err(StreamDetached::Closed);
        };
        let charge = match &self.budget {
            Some(budget) => match budget.try_charge(payload.len()) {
                Ok(charge) => Some(charge),
                Err(_) => {
                    self.tx = None;
                    return Err(StreamDetached::Full);
                }
            },
            None => None,
        };
        let id = EventId {
            stream: self.id,
            seq: self.seq + 1,
        };
        let kept = Kept {
            payload: payload.clone(),
            end,
            id,
        };
        let event = StreamEvent {
            payload,
            end,
            id,
            charge,
        };
        match tx.try_send(event) {
            Ok(()) => {
                self.seq += 1;
                self.remember(kept);
                Ok(())
            }
            Err(err) => {
                self.tx = None;
                Err(match err {
                    mpsc::error::TrySendError::Full(_) => StreamDetached::Full,
                    mpsc::error::TrySendError::Closed(_) => StreamDetached::Closed,
                })
            }
        }
    }

    /// Keeps an event for a client that will resume this detached stream (its answer).
    pub fn keep_for_resume(&mut self, payload: OneLine, end: StreamEnd) {
        self.seq += 1;
        let id = EventId {
            stream: self.id,
            seq: self.seq,
        };
        self.remember(Kept { payload, end, id });
    }

    /// Re-attaches a resumed stream to the connection of `new` (a stream opened for the resuming
    /// GET, of which only the channel is used): replays the kept events after `last_seen`, then
    /// sends new events there. Returns whether the stream's final event was replayed.
    pub fn resume(&mut self, new: StreamSender, last_seen: u64) -> bool {
        let Some(tx) = new.tx else {
            return false;
        };
        let mut finished = false;
        for kept in self.ring.iter().filter(|kept| kept.id.seq > last_seen) {
            finished |= kept.end != StreamEnd::Open;
            let replayed = StreamEvent {
                payload: kept.payload.clone(),
                end: kept.end,
                id: kept.id,
                charge: None,
            };
            if tx.try_send(replayed).is_err() {
                return finished;
            }
        }
        self.tx = Some(tx);
        finished
    }

    /// Lets go of the client's channel (the stream is only kept for a resume now).
    pub fn detach(&mut self) {
        self.tx = None;
    }

    /// Payload bytes kept for replay.
    pub fn kept_bytes(&self) -> usize {
        self.ring_bytes
    }

    /// Whether a client is attached and reading.
    pub fn is_attached(&self) -> bool {
        self.tx.as_ref().is_some_and(|tx| !tx.is_closed())
    }

    /// Whether this stream sent more than its answer (so the client read it as SSE and may
    /// resume it).
    pub fn was_streamed(&self) -> bool {
        self.seq > self.first_seq + 1 || self.tx.is_none()
    }

    fn remember(&mut self, event: Kept) {
        self.ring_bytes += event.payload.len();
        self.ring.push_back(event);
        while self.ring.len() > RING_EVENTS || (self.ring_bytes > RING_BYTES && self.ring.len() > 1)
        {
            if let Some(old) = self.ring.pop_front() {
                self.ring_bytes -= old.payload.len();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(text: &'static str) -> OneLine {
        OneLine::from_static(text.as_bytes())
    }

    #[test]
    fn event_ids_round_trip() {
        let id = EventId { stream: 7, seq: 42 };
        assert_eq!(id.to_string(), "7/42");
        assert_eq!(EventId::parse("7/42"), Some(id));
        assert_eq!(EventId::parse("7-42"), None);
        assert_eq!(EventId::parse("x/1"), None);
    }

    #[tokio::test]
    async fn events_are_numbered_and_a_resume_replays_what_followed() {
        let (mut stream, mut rx) = StreamSender::open(3, 8, Priming::None);
        stream.offer(bytes("a"), StreamEnd::Open).unwrap();
        stream.offer(bytes("b"), StreamEnd::Open).unwrap();
        assert_eq!(rx.recv().await.unwrap().id, EventId { stream: 3, seq: 1 });
        drop(rx);
        assert_eq!(
            stream.offer(bytes("c"), StreamEnd::Open),
            Err(StreamDetached::Closed)
        );
        assert!(!stream.is_attached());
        stream.keep_for_resume(bytes("answer"), StreamEnd::Result);
        let (new, mut rx) = StreamSender::open(9, 8, Priming::None);
        assert!(stream.resume(new, 1));
        let replayed: Vec<_> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|event| (event.id.seq, event.payload))
            .collect();
        assert_eq!(replayed, vec![(2, bytes("b")), (3, bytes("answer"))]);
    }

    #[tokio::test]
    async fn a_full_stream_detaches_and_the_ring_is_bounded() {
        let (mut stream, _rx) = StreamSender::open(1, 1, Priming::None);
        stream.offer(bytes("a"), StreamEnd::Open).unwrap();
        assert_eq!(
            stream.offer(bytes("b"), StreamEnd::Open),
            Err(StreamDetached::Full)
        );
        for _ in 0..100 {
            stream.keep_for_resume(bytes("x"), StreamEnd::Open);
        }
        assert_eq!(stream.ring.len(), RING_EVENTS);
        assert!(stream.was_streamed());
    }

    #[tokio::test]
    async fn a_primed_stream_numbers_its_events_after_the_priming_event() {
        let (mut stream, mut rx) = StreamSender::open(4, 8, Priming::Reserved);
        assert_eq!(stream.priming_id(), Some(EventId { stream: 4, seq: 1 }));
        stream.offer(bytes("a"), StreamEnd::Open).unwrap();
        assert_eq!(rx.recv().await.unwrap().id, EventId { stream: 4, seq: 2 });
        // Only the answer went out: nothing to resume.
        stream.offer(bytes("answer"), StreamEnd::Result).unwrap();
        assert!(stream.was_streamed());
        let (mut single, _rx) = StreamSender::open(5, 8, Priming::Reserved);
        single.offer(bytes("answer"), StreamEnd::Result).unwrap();
        assert!(!single.was_streamed());
        // A client that saw only the priming event resumes with everything after it.
        drop(rx);
        let (new, mut replay) = StreamSender::open(6, 8, Priming::None);
        assert!(stream.resume(new, 1));
        let seqs: Vec<u64> = std::iter::from_fn(|| replay.try_recv().ok())
            .map(|event| event.id.seq)
            .collect();
        assert_eq!(seqs, vec![2, 3]);
        assert_eq!(StreamSender::open(1, 1, Priming::None).0.priming_id(), None);
    }

    #[test]
    fn streams_are_numbered_per_session_after_the_initialize_stream() {
        let a = StreamNumbers::default();
        let b = StreamNumbers::default();
        assert_eq!(a.next(), INITIALIZE_STREAM + 1);
        assert_eq!(a.next(), INITIALIZE_STREAM + 2);
        assert_eq!(b.next(), INITIALIZE_STREAM + 1);
    }
}
