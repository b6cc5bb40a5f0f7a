//! `subscriptions/listen` on the modern leg: the long SSE response that replaced the GET stream
//! and `resources/subscribe` in 2026-07-28 (`…/basic/patterns/subscriptions.mdx`;
//! modern-era.md §1.6, §3.7, §3.9).
//!
//! A stream opens with `notifications/subscriptions/acknowledged` (the part of the client's
//! filter the server can honour), carries only the change notifications it opted in to, each
//! tagged `_meta["io.modelcontextprotocol/subscriptionId"]` = the listen request's id, sends
//! `: keep-alive` comments while idle, and at shutdown ends with the result
//! `{"resultType":"complete","_meta":{subscriptionId}}`. A client ends it by closing it.
//!
//! - **Translated** (a legacy-only server): the proxy serves the stream itself
//!   (`listen/translated.rs`). The honoured filter is the client's intersected with the
//!   server's `InitializeResult` capabilities (`listen/filter.rs`). List changes from any pooled
//!   child fan out to every stream that asked (`listen/fanout.rs`); resource subscriptions
//!   become reference-counted `resources/subscribe` on a listener child, which is watched for
//!   restarts (`listen/keeper.rs`, `listen/ask.rs`).
//! - **Passthrough** (a server that speaks 2026-07-28): the request goes to a pooled child like
//!   any call and its stream is relayed with the ids mapped (`listen/forward.rs`).
//!
//! Everything is bounded: at most [`MAX_LISTENS`] streams (then 503 with `Retry-After`), a
//! queue per stream (a client that stops reading loses its stream, not the proxy's memory),
//! at most [`MAX_URIS_PER_LISTEN`] resources per stream.

mod ask;
mod body;
mod fanout;
pub mod filter;
mod forward;
mod keeper;
mod translated;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;
use prometheus_client::metrics::gauge::Gauge;
use serde_json::Value;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};

use self::body::{BodySettings, listen_response};
pub use self::fanout::ChangeFeed;
use self::filter::{Filter, acknowledgement, closing_result};
use self::forward::{ForwardedListen, respond_forwarded};
use self::keeper::SubscriptionKeeper;
use self::translated::{Holds, TranslatedListen};
use super::call::CallPlan;
use super::pool::{ChildPool, Lease};
use super::respond::{refuse, with_retry_after};
use crate::frame::INTERNAL_ERROR;
use crate::stream::StreamReceiver;

/// Most listen streams open at once (translated and forwarded together).
pub const MAX_LISTENS: usize = 1024;
/// Most resources one stream follows; further uris in its filter are not honoured.
pub const MAX_URIS_PER_LISTEN: usize = 256;
/// Longest the shutdown waits for the streams to send their closing result.
const END_WAIT: Duration = Duration::from_secs(2);
/// The smallest event queue a stream gets.
const MIN_QUEUE: usize = 16;

/// How listen streams are served.
#[derive(Debug, Clone, Copy)]
pub struct ListenSettings {
    /// Keep-alive period (`--sse-keepalive`).
    pub keepalive: Option<Duration>,
    /// Events queued per stream before it is dropped.
    pub queue: usize,
    /// Longest wait for the server's capabilities (`--modern-lease-wait`).
    pub lease_wait: Duration,
}

/// The modern leg's listen streams (cheap to clone).
#[derive(Clone)]
pub struct ListenHub(Arc<HubShared>);

struct HubShared {
    feed: ChangeFeed,
    /// The translated pool: its capabilities and its listener child.
    pool: ChildPool,
    /// Started with the first translated stream.
    keeper: OnceLock<SubscriptionKeeper>,
    slots: Arc<Semaphore>,
    /// Turns true at shutdown: every stream closes.
    ending: watch::Sender<bool>,
    settings: ListenSettings,
    gauge: Gauge,
}

/// A stream's place under [`MAX_LISTENS`], taken before anything is sent to a child.
pub struct ListenSlot(OwnedSemaphorePermit);

impl ListenHub {
    /// The hub of `feed` (which the translated `pool`'s children publish to).
    pub fn new(
        feed: ChangeFeed,
        pool: ChildPool,
        settings: ListenSettings,
        gauge: Gauge,
    ) -> ListenHub {
        ListenHub(Arc::new(HubShared {
            feed,
            pool,
            keeper: OnceLock::new(),
            slots: Arc::new(Semaphore::new(MAX_LISTENS)),
            ending: watch::Sender::new(false),
            settings,
            gauge,
        }))
    }

    /// A place for one more stream, if the proxy has room ([`MAX_LISTENS`]).
    pub fn reserve(&self) -> Option<ListenSlot> {
        self.0
            .slots
            .clone()
            .try_acquire_owned()
            .ok()
            .map(ListenSlot)
    }

    /// The answer to a listen beyond [`MAX_LISTENS`]: 503 with `Retry-After`.
    pub fn refuse_full(client_id: &Value) -> Response {
        unavailable(
            client_id,
            &format!(
                "the proxy already serves its maximum of {MAX_LISTENS} listen streams; retry later"
            ),
        )
    }

    /// Serves a listen for a legacy-only server (`params` of the request).
    pub async fn serve_translated(
        &self,
        slot: ListenSlot,
        client_id: Value,
        params: Option<&Value>,
    ) -> Response {
        let Some(initialized) = self
            .0
            .pool
            .initialize_result(self.0.settings.lease_wait)
            .await
        else {
            return unavailable(
                &client_id,
                "the MCP server has not started (or cannot start): no pooled child has answered initialize yet; retry",
            );
        };
        let mut honoured = Filter::requested(params, MAX_URIS_PER_LISTEN)
            .honoured_by(initialized.get("capabilities"));
        let keeper = self.keeper();
        // Also makes sure the listener child is chosen (and watched) before the stream opens.
        let followed = keeper.follow(std::mem::take(&mut honoured.uris)).await;
        honoured.uris = followed.clone();
        let (events, queued) = mpsc::channel(self.0.settings.queue.max(MIN_QUEUE));
        let acknowledged = acknowledgement(&client_id, &honoured).to_bytes();
        let registration = self.0.feed.register(client_id.clone(), honoured, events);
        let holds = Holds::new(registration, keeper, followed, slot.0);
        let stream = TranslatedListen::new(queued, closing_result(&client_id).to_bytes(), holds);
        listen_response(stream, Some(acknowledged), self.body_settings())
    }

    /// Relays a listen sent to a pooled child that speaks 2026-07-28 (`rx`: its stream in the
    /// child's session; `plan`: its ids).
    pub async fn forward(
        &self,
        slot: ListenSlot,
        rx: StreamReceiver,
        plan: CallPlan,
        lease: Lease,
        sse_after: Option<Duration>,
    ) -> Response {
        let listen = ForwardedListen::new(rx, plan.client_id, plan.proxy_id, lease, slot.0);
        respond_forwarded(listen, sse_after, self.body_settings()).await
    }

    /// Shutdown: every stream sends its closing result and ends (a forwarded one is cancelled
    /// at its child, so the session drain does not wait for it). Waits up to [`END_WAIT`]
    /// for them to be gone.
    pub async fn end_all(&self) {
        self.0.ending.send_replace(true);
        let everything = u32::try_from(MAX_LISTENS).unwrap_or(u32::MAX);
        let gone = tokio::time::timeout(END_WAIT, self.0.slots.acquire_many(everything)).await;
        if gone.is_err() {
            tracing::warn!(
                open = MAX_LISTENS - self.0.slots.available_permits(),
                "listen streams still open at shutdown (clients not reading); they are cut when the connections close"
            );
        }
    }

    fn keeper(&self) -> SubscriptionKeeper {
        self.0
            .keeper
            .get_or_init(|| SubscriptionKeeper::start(self.0.pool.clone(), self.0.feed.clone()))
            .clone()
    }

    fn body_settings(&self) -> BodySettings {
        BodySettings {
            keepalive: self.0.settings.keepalive,
            ending: self.0.ending.subscribe(),
            gauge: self.0.gauge.clone(),
        }
    }
}

/// 503 with `Retry-After`: a listen the proxy cannot serve now.
fn unavailable(client_id: &Value, message: &str) -> Response {
    with_retry_after(refuse(
        StatusCode::SERVICE_UNAVAILABLE,
        client_id.clone(),
        INTERNAL_ERROR,
        message,
    ))
}
