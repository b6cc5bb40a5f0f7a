//! Client streams: the bounded channels that carry already-serialized messages from a session
//! to one HTTP response (a POST's answer stream or the standalone GET stream).
//!
//! A session never awaits a client: it uses `try_send`, and a full or closed channel detaches
//! that stream instead of blocking the session.

use bytes::Bytes;
use tokio::sync::mpsc;

/// One message on its way to a client.
#[derive(Debug, Clone)]
pub struct StreamEvent {
    /// The serialized JSON-RPC message.
    pub payload: Bytes,
    /// How this event ends the stream, if it does: the answer to the stream's request.
    pub end: StreamEnd,
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

/// The session's end of a client stream.
#[derive(Debug, Clone)]
pub struct StreamSender {
    /// Proxy-wide stream number, used in SSE event ids and logs.
    pub id: u64,
    /// Bounded: a slow client fills it and gets detached, it never grows memory.
    tx: mpsc::Sender<StreamEvent>,
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
    /// Creates a stream with room for `capacity` queued events.
    pub fn channel(id: u64, capacity: usize) -> (StreamSender, StreamReceiver) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (StreamSender { id, tx }, rx)
    }

    /// Queues an event without waiting.
    pub fn offer(&self, payload: Bytes, end: StreamEnd) -> Result<(), StreamDetached> {
        self.tx
            .try_send(StreamEvent { payload, end })
            .map_err(|err| match err {
                mpsc::error::TrySendError::Full(_) => StreamDetached::Full,
                mpsc::error::TrySendError::Closed(_) => StreamDetached::Closed,
            })
    }

    /// Whether the client has gone away.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}
