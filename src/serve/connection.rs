//! One HTTP/1.1 connection, served by hyper, with its two timeouts:
//!
//! - **header read** (`--header-read-timeout`): from the moment the connection is opened, or
//!   from the first byte after an idle period, the whole request head must arrive in time;
//! - **idle** (`--idle-connection-timeout`): after a response, a kept-alive connection with no
//!   byte received closes after this long.
//!
//! No timeout runs while a request is in progress (from its head to the end of its response):
//! an SSE stream may stay open for hours. hyper's own `header_read_timeout` is not used
//! because it starts whenever the connection waits for a head, idle or not (hyper 1.x,
//! `proto/h1/conn.rs`, `poll_read_head` re-armed by `State::idle`), which would make the idle
//! timeout the header timeout: too short for load balancers that keep connections open for
//! 60 s, too long against stalled heads.
//!
//! Every state change happens while hyper polls the connection (the socket read, the service
//! call, the response body's drop), so the deadline is re-read after each poll.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use bytes::Bytes;
use hyper::Request;
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};
use tower_service::Service;

use super::turned_true;
use crate::metrics::{Limit, ProxyMetrics};

/// The two timeouts of a connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Timeouts {
    /// `--header-read-timeout`.
    pub header_read: Duration,
    /// `--idle-connection-timeout`.
    pub idle: Duration,
}

/// Serves one connection until it closes, times out, or (once `closing` is true) finishes its
/// current response. The caller drops this future to close the connection at once.
pub(super) async fn serve(
    tcp: TcpStream,
    app: Router,
    timeouts: Timeouts,
    mut closing: watch::Receiver<bool>,
    metrics: Arc<ProxyMetrics>,
) {
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        tcp,
        activity: activity.clone(),
    });
    let tracker = activity.clone();
    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
        let guard = tracker.request_started();
        // `Router` is always ready: no `poll_ready` needed before `call`.
        let answer = app.clone().call(request);
        async move {
            let response = answer.await?;
            Ok::<_, std::convert::Infallible>(response.map(|body| Tracked {
                body,
                _guard: guard,
            }))
        }
    });
    let mut builder = http1::Builder::new();
    // Our own timeouts replace hyper's (see the module comment); no timer is needed then.
    builder.keep_alive(true).header_read_timeout(None);
    let mut connection = pin!(builder.serve_connection(io, service));
    let mut timer = pin!(tokio::time::sleep(timeouts.header_read));
    let mut told_to_close = false;
    let ended = loop {
        tokio::select! {
            ended = poll_fn(|cx| drive(cx, connection.as_mut(), timer.as_mut(), &activity, timeouts)) => break ended,
            () = turned_true(&mut closing), if !told_to_close => {
                told_to_close = true;
                // Closes now if no request is in progress, else after its response.
                connection.as_mut().graceful_shutdown();
            }
        }
    };
    match ended {
        Ended::Closed(Ok(())) => {}
        Ended::Closed(Err(err)) => tracing::trace!(error = %err, "HTTP connection failed"),
        Ended::Expired(Expiry::HeaderRead) => {
            metrics.limit_hit(Limit::HeaderReadTimeout);
            tracing::trace!(
                "HTTP connection closed: no whole request head within --header-read-timeout"
            );
        }
        Ended::Expired(Expiry::Idle) => {
            tracing::trace!("HTTP connection closed: idle for --idle-connection-timeout");
        }
    }
}

/// How a connection ended.
enum Ended {
    /// hyper finished with it (the client closed, or an error).
    Closed(hyper::Result<()>),
    /// One of its timeouts expired; it is closed by dropping it.
    Expired(Expiry),
}

/// Which timeout expired.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry {
    HeaderRead,
    Idle,
}

/// Polls the connection, then the timer of the state the connection is now in.
fn drive<C>(
    cx: &mut Context<'_>,
    connection: Pin<&mut C>,
    mut timer: Pin<&mut Sleep>,
    activity: &Activity,
    timeouts: Timeouts,
) -> Poll<Ended>
where
    C: Future<Output = hyper::Result<()>>,
{
    if let Poll::Ready(result) = connection.poll(cx) {
        return Poll::Ready(Ended::Closed(result));
    }
    let Some((deadline, expiry)) = activity.deadline(timeouts) else {
        return Poll::Pending;
    };
    if timer.deadline() != deadline {
        timer.as_mut().reset(deadline);
    }
    match timer.poll(cx) {
        Poll::Ready(()) => Poll::Ready(Ended::Expired(expiry)),
        Poll::Pending => Poll::Pending,
    }
}

/// Where a connection is between requests.
#[derive(Debug, Clone, Copy)]
enum State {
    /// Waiting for a request head since `since` (opened, or first byte after idle).
    AwaitingHead { since: Instant },
    /// `requests` requests are between their head and the end of their response.
    Busy { requests: usize },
    /// The last response ended at `since` and no byte came after it.
    Idle { since: Instant },
}

/// A connection's [`State`], shared by its socket, its service and its response bodies.
struct Activity(Mutex<State>);

impl Activity {
    fn new() -> Activity {
        Activity(Mutex::new(State::AwaitingHead {
            since: Instant::now(),
        }))
    }

    fn update(&self, change: impl FnOnce(State) -> State) {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *state = change(*state);
    }

    /// Bytes arrived: after an idle period they start the next request's head.
    fn bytes_arrived(&self) {
        self.update(|state| match state {
            State::Idle { .. } => State::AwaitingHead {
                since: Instant::now(),
            },
            other => other,
        });
    }

    /// hyper parsed a request head; the guard ends the request when dropped.
    fn request_started(self: &Arc<Self>) -> RequestGuard {
        self.update(|state| State::Busy {
            requests: match state {
                State::Busy { requests } => requests + 1,
                _ => 1,
            },
        });
        RequestGuard(self.clone())
    }

    fn request_finished(&self) {
        self.update(|state| match state {
            State::Busy { requests } if requests > 1 => State::Busy {
                requests: requests - 1,
            },
            _ => State::Idle {
                since: Instant::now(),
            },
        });
    }

    /// When the connection times out as things stand, and which timeout that is.
    fn deadline(&self, timeouts: Timeouts) -> Option<(Instant, Expiry)> {
        match *self.0.lock().unwrap_or_else(PoisonError::into_inner) {
            State::AwaitingHead { since } => {
                Some((since + timeouts.header_read, Expiry::HeaderRead))
            }
            State::Busy { .. } => None,
            State::Idle { since } => Some((since + timeouts.idle, Expiry::Idle)),
        }
    }
}

/// A request in progress: from its head until its response body is done or dropped.
struct RequestGuard(Arc<Activity>);

impl Drop for RequestGuard {
    fn drop(&mut self) {
        self.0.request_finished();
    }
}

/// The socket, reporting received bytes to the connection's [`Activity`].
struct Watched {
    tcp: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.tcp).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            this.activity.bytes_arrived();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().tcp).poll_shutdown(cx)
    }
}

/// A response body that holds its request's [`RequestGuard`] until it is done or dropped.
struct Tracked {
    body: Body,
    _guard: RequestGuard,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUTS: Timeouts = Timeouts {
        header_read: Duration::from_secs(10),
        idle: Duration::from_secs(75),
    };

    #[tokio::test(start_paused = true)]
    async fn a_request_stops_the_clock_and_its_end_starts_the_idle_one() {
        let activity = Arc::new(Activity::new());
        let opened = Instant::now();
        assert_eq!(
            activity.deadline(TIMEOUTS),
            Some((opened + TIMEOUTS.header_read, Expiry::HeaderRead))
        );
        // Bytes of the first head do not restart its clock.
        tokio::time::advance(Duration::from_secs(3)).await;
        activity.bytes_arrived();
        assert_eq!(
            activity.deadline(TIMEOUTS),
            Some((opened + TIMEOUTS.header_read, Expiry::HeaderRead))
        );
        let guard = activity.request_started();
        assert_eq!(activity.deadline(TIMEOUTS), None);
        tokio::time::advance(Duration::from_secs(100)).await;
        drop(guard);
        let idle_since = Instant::now();
        assert_eq!(
            activity.deadline(TIMEOUTS),
            Some((idle_since + TIMEOUTS.idle, Expiry::Idle))
        );
        tokio::time::advance(Duration::from_secs(30)).await;
        activity.bytes_arrived();
        assert_eq!(
            activity.deadline(TIMEOUTS),
            Some((Instant::now() + TIMEOUTS.header_read, Expiry::HeaderRead))
        );
    }
}
