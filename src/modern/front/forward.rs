//! Sending one modern request to the pooled child it leased, and answering its caller: the
//! request takes an id (and progress token) unique in the proxy, a translated request loses
//! its envelope, a request that holds a translated child alone and asked for logs sets the
//! child's log level first, and the call is driven to its HTTP answer (parking it if the
//! child asks the caller something).

use std::sync::atomic::Ordering;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::ModernFront;
use crate::frame::{Frame, INTERNAL_ERROR};
use crate::modern::call::{CallPlan, ModernCall, StateWrapper};
use crate::modern::envelope::{rewrite_progress_token, strip_envelope};
use crate::modern::ladder::ModernCall as Admitted;
use crate::modern::listen::ListenSlot;
use crate::modern::pool::Lease;
use crate::modern::request_state::{Binding, StateKind, unix_ms_now};
use crate::modern::respond::{Delivery, Parking, refuse, respond, with_retry_after};
use crate::modern::server_asks::MAY_ASK;
use crate::protocol::SessionMsg;
use crate::stream::{Priming, StreamSender};

/// Longest a request waits for its child to confirm the log level it asked for.
const SET_LEVEL_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// One admitted request on its way to a leased child.
pub(super) struct Outgoing {
    pub lease: Lease,
    pub frame: Frame,
    pub call: Admitted,
    pub client_id: Value,
    pub translate: bool,
    /// The lease holds the child alone (a translated request declaring roots, sampling or
    /// elicitation).
    pub exclusive: bool,
    /// A passthrough `subscriptions/listen`'s place: its stream is relayed, not answered.
    pub listen: Option<ListenSlot>,
}

impl ModernFront {
    /// Sends the request and answers its caller.
    pub(super) async fn forward(&self, outgoing: Outgoing) -> Response {
        let Outgoing {
            lease,
            mut frame,
            call,
            client_id,
            translate,
            exclusive,
            listen,
        } = outgoing;
        let binding = Binding::of(&call.method, frame.params());
        let number = self.0.next_id.fetch_add(1, Ordering::Relaxed);
        let proxy_id = Value::from(number);
        let progress = call.progress_token.clone().map(|original| {
            let ours = Value::from(format!("hyper-mcp-proxy-{number}"));
            rewrite_progress_token(&mut frame, ours.clone());
            (original, ours)
        });
        if translate {
            strip_envelope(&mut frame);
        }
        frame.replace_id(proxy_id.clone());
        let child = lease.child();
        let entry = child.entry.clone();
        let log_level = call.log_level.clone().filter(|_| exclusive);
        if let Some(level) = &log_level {
            self.set_log_level(&entry, level).await;
        }
        let (Some(permit), Ok(charge)) = (
            entry.inbox.try_reserve(),
            entry.budgets.to_child.try_charge(frame.size_hint()),
        ) else {
            return with_retry_after(refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                client_id,
                INTERNAL_ERROR,
                "the pooled MCP server child is too busy (mailbox or byte budget full); retry shortly",
            ));
        };
        let (stream, rx) = StreamSender::open(
            entry.streams.next(),
            self.0.config.session.stream_capacity,
            Priming::None,
        );
        let may_ask = translate && exclusive && MAY_ASK.contains(&call.method.as_str());
        let wrap_state = (!translate).then(|| {
            let sealer = self.0.parked.sealer().clone();
            let ttl = self.0.parked.ttl();
            let child_id = child.id.as_str().to_owned();
            // Read when the answer comes: the child surely runs by then (a new pooled
            // session starts its child after the pool lists it).
            let stats = child.entry.stats.clone();
            let binding = binding.clone();
            Box::new(move |state: &str| {
                let generation = stats.generation();
                let expires = unix_ms_now()
                    .saturating_add(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
                let kind = StateKind::Child {
                    child: child_id.clone(),
                    generation,
                    state: state.to_owned(),
                };
                sealer.seal(&kind, &binding, expires)
            }) as StateWrapper
        });
        let plan = CallPlan {
            client_id: client_id.clone(),
            proxy_id,
            progress,
            method: call.method,
            translate,
            server_info: child
                .initialize_result
                .as_ref()
                .and_then(|result| result.get("serverInfo").cloned()),
            may_ask,
            capabilities: call.capabilities,
            log_level,
            roots: self.0.roots.clone(),
            wrap_state,
        };
        let sent = entry.actor.cast(SessionMsg::Request {
            frame,
            stream,
            permit,
            charge,
        });
        if sent.is_err() {
            return with_retry_after(refuse(
                StatusCode::SERVICE_UNAVAILABLE,
                client_id,
                INTERNAL_ERROR,
                "the pooled MCP server session ended; retry",
            ));
        }
        if let Some(slot) = listen {
            let sse_after = self.0.config.sse_after;
            return self
                .0
                .listens
                .forward(slot, rx, plan, lease, sse_after)
                .await;
        }
        let parking = may_ask.then(|| Parking {
            parked: self.0.parked.clone(),
            binding,
        });
        respond(
            ModernCall::new(rx, plan, lease),
            self.delivery(parking),
            client_id,
        )
        .await
    }

    /// How answers are delivered (SSE switch, keep-alives), with where calls park.
    pub(super) fn delivery(&self, parking: Option<Parking>) -> Delivery {
        Delivery {
            sse_after: self.0.config.sse_after,
            keepalive: self.0.config.sse_keepalive,
            gauge: self.0.metrics.sse_stream_gauge(false),
            parking,
        }
    }

    /// Sets the log level of a child the request holds alone (2026-07-28 has the level per
    /// request; a legacy child has it per process), and waits (bounded) for the child's
    /// answer: while it is in flight the request is not the child's only one, and a question
    /// the child asked then could not be told apart.
    async fn set_log_level(&self, entry: &crate::index::SessionEntry, level: &str) {
        let number = self.0.next_id.fetch_add(1, Ordering::Relaxed);
        let request = Frame::request(
            Value::from(number),
            "logging/setLevel",
            Some(json!({ "level": level })),
        );
        let (Some(permit), Ok(charge)) = (
            entry.inbox.try_reserve(),
            entry.budgets.to_child.try_charge(request.size_hint()),
        ) else {
            return;
        };
        let (stream, mut answer) = StreamSender::open(entry.streams.next(), 4, Priming::None);
        let sent = entry.actor.cast(SessionMsg::Request {
            frame: request,
            stream,
            permit,
            charge,
        });
        if sent.is_ok()
            && tokio::time::timeout(SET_LEVEL_WAIT, answer.recv())
                .await
                .is_err()
        {
            tracing::debug!(
                "the MCP server did not answer logging/setLevel in time; the call goes on"
            );
        }
    }
}
