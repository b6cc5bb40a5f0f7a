//! 404 for a session id this instance does not know, and the misroute check: an id that
//! names another instance (`--instance-id`) means the load balancer sent the request to the
//! wrong place, so it is logged and counted (`hyper_mcp_proxy_misrouted_requests_total`).

use axum::response::Response;

use super::HttpState;
use super::responses::session_not_found;
use crate::session_id::misrouted;

impl HttpState {
    /// The answer to a request whose session `id` (from the header) is not here.
    pub(super) fn unknown_session(&self, id: &str) -> Response {
        let own = self.0.config.instance_id();
        if let Some(other) = misrouted(id, own) {
            self.0.metrics.misrouted();
            // A session id is a credential, even another instance's: log its prefix only.
            let shown = crate::session_id::SessionId::from_header(id);
            tracing::warn!(
                session = shown.log_id(),
                session_instance = other,
                instance = own.map(|name| name.as_str()),
                "misrouted request: the session id belongs to instance {other:?}, not to this one; answered 404 (check the load balancer's session routing)"
            );
        }
        session_not_found()
    }
}
