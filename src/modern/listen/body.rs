//! The SSE response of a listen stream, whatever feeds it: events as they come (without event
//! ids: a modern stream is not resumable), `: keep-alive` comments while idle (which is also how
//! a vanished client is noticed: the write fails and the body is dropped), and at shutdown the
//! source's closing messages. A source that loses its stream ends the body with an error, so
//! the response is cut short instead of ending cleanly: the client knows it missed events.

use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt as _;
use prometheus_client::metrics::gauge::Gauge;
use tokio::sync::watch;

use crate::modern::respond::{KEEPALIVE, event_chunk};
use crate::sse::sse_response;

/// What feeds a listen stream.
pub trait ListenSource: Send + 'static {
    /// The next message for the client.
    fn next(&mut self) -> impl std::future::Future<Output = SourceStep> + Send;
    /// The messages that end the stream gracefully at shutdown (what is still queued, then the
    /// closing result).
    fn close(&mut self) -> Vec<Bytes>;
}

/// What a source has next.
pub enum SourceStep {
    /// A message on the stream.
    Event(Bytes),
    /// The last message: the stream ends after it.
    Last(Bytes),
    /// The stream was lost (a client too slow, a session gone): end abruptly.
    Lost,
}

/// How a listen body behaves.
pub struct BodySettings {
    /// Keep-alive period (`--sse-keepalive`).
    pub keepalive: Option<Duration>,
    /// Turns true at shutdown.
    pub ending: watch::Receiver<bool>,
    /// The open-SSE-streams gauge.
    pub gauge: Gauge,
}

struct State<S> {
    source: S,
    settings: BodySettings,
    done: bool,
}

impl<S> Drop for State<S> {
    fn drop(&mut self) {
        self.settings.gauge.dec();
    }
}

/// The SSE response fed by `source`, opening with `first` (or a keep-alive comment).
pub fn listen_response<S: ListenSource>(
    source: S,
    first: Option<Bytes>,
    settings: BodySettings,
) -> Response {
    settings.gauge.inc();
    let opening = match first {
        Some(event) => event_chunk(&event),
        None => Bytes::from_static(KEEPALIVE),
    };
    let state = State {
        source,
        settings,
        done: false,
    };
    let rest = futures_util::stream::unfold(state, |mut state| async move {
        if state.done {
            return None;
        }
        let wake = tokio::select! {
            biased;
            _ = state.settings.ending.wait_for(|ending| *ending) => Wake::Ending,
            step = state.source.next() => Wake::Source(step),
            () = idle(state.settings.keepalive) => Wake::Idle,
        };
        let chunk = match wake {
            Wake::Ending => {
                state.done = true;
                let closing: Vec<u8> = state
                    .source
                    .close()
                    .iter()
                    .flat_map(|message| event_chunk(message))
                    .collect();
                Ok(Bytes::from(closing))
            }
            Wake::Idle => Ok(Bytes::from_static(KEEPALIVE)),
            Wake::Source(SourceStep::Event(event)) => Ok(event_chunk(&event)),
            Wake::Source(SourceStep::Last(event)) => {
                state.done = true;
                Ok(event_chunk(&event))
            }
            Wake::Source(SourceStep::Lost) => {
                state.done = true;
                Err(std::io::Error::other("the listen stream was lost"))
            }
        };
        Some((chunk, state))
    });
    let stream =
        futures_util::stream::once(async move { Ok::<Bytes, std::io::Error>(opening) }).chain(rest);
    sse_response(Body::from_stream(stream))
}

/// Why a listen body woke up.
enum Wake {
    Ending,
    Source(SourceStep),
    Idle,
}

/// Completes after `keepalive` (never without one).
async fn idle(keepalive: Option<Duration>) {
    match keepalive {
        Some(period) => tokio::time::sleep(period).await,
        None => std::future::pending().await,
    }
}
