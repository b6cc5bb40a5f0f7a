//! Which MCP era this process serves, pinned by the client's first request, the way the
//! official SDKs' dual-era stdio servers do it (Python 2.3.0 `serve_dual_era_loop`).
//!
//! `initialize`, or any request without the 2026-07-28 envelope, pins the process to the legacy
//! (handshake) era: it then behaves exactly as it always has, except that it refuses enveloped
//! requests with `-32600`. Any other enveloped request (a `server/discover` probe included)
//! pins it to the modern era: every request must then carry a valid envelope (`-32602`), and a
//! late `initialize` is told which versions are served (`-32022`). Notifications and responses
//! never pin; they are handled the same way in both eras.

use std::sync::OnceLock;

use serde_json::Value;

use super::envelope::{Envelope, has_modern_envelope, unsupported_version_data};
use super::error::{INVALID_REQUEST, RpcError, UNSUPPORTED_PROTOCOL_VERSION};

/// The two protocol eras a process can be pinned to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// 2024-11-05 … 2025-11-25: `initialize` handshake, server→client requests allowed.
    Legacy,
    /// 2026-07-28: no handshake, an envelope on every request, no server→client requests.
    Modern,
}

/// The era of this process: unset until the first request, then fixed for good.
#[derive(Debug, Default)]
pub struct EraPin {
    pinned: OnceLock<Era>,
}

impl EraPin {
    /// The era of this process, pinned from this request if it is the first.
    pub fn pin(&self, method: &str, params: Option<&Value>) -> Era {
        *self.pinned.get_or_init(|| {
            let era = opening_era(method, params);
            note!("demo server: the first request ({method}) pins this process to the {era:?} era");
            era
        })
    }

    /// The pinned era, `None` before the first request.
    #[cfg(test)]
    pub fn get(&self) -> Option<Era> {
        self.pinned.get().copied()
    }
}

/// The era a first request opens. `initialize` is legacy even with an envelope: the handshake
/// does not exist at 2026-07-28.
pub fn opening_era(method: &str, params: Option<&Value>) -> Era {
    if method != "initialize" && has_modern_envelope(params) {
        Era::Modern
    } else {
        Era::Legacy
    }
}

/// Lets one request in under the era of this process (pinning it on the first request): `None`
/// for a legacy request, its checked envelope for a modern one, or the error that answers it.
pub fn admit(
    pin: &EraPin,
    method: &str,
    params: Option<&Value>,
) -> Result<Option<Envelope>, RpcError> {
    match pin.pin(method, params) {
        Era::Legacy if method != "initialize" && has_modern_envelope(params) => Err(RpcError::new(
            INVALID_REQUEST,
            "this connection serves the handshake protocol era; \
             requests carrying the 2026-07-28 envelope are not accepted on it",
        )),
        Era::Legacy => Ok(None),
        Era::Modern if method == "initialize" => {
            let requested = params
                .and_then(|params| params.get("protocolVersion"))
                .and_then(Value::as_str);
            Err(RpcError::new(
                UNSUPPORTED_PROTOCOL_VERSION,
                "connection is serving the 2026-07-28 protocol; the initialize handshake is not accepted",
            )
            .with_data(unsupported_version_data(requested)))
        }
        Era::Modern => Envelope::from_params(params).map(Some),
    }
}

#[cfg(test)]
mod tests {
    use super::super::envelope::{CLIENT_CAPABILITIES_KEY, PROTOCOL_VERSION_KEY};
    use super::super::error::INVALID_PARAMS;
    use super::*;
    use serde_json::json;

    fn enveloped() -> Value {
        json!({ "_meta": { PROTOCOL_VERSION_KEY: "2026-07-28", CLIENT_CAPABILITIES_KEY: {} } })
    }

    #[test]
    fn the_first_request_decides_and_the_pin_never_moves() {
        let pin = EraPin::default();
        assert_eq!(pin.get(), None);
        assert_eq!(pin.pin("server/discover", Some(&enveloped())), Era::Modern);
        assert_eq!(pin.pin("initialize", None), Era::Modern);
        assert_eq!(pin.get(), Some(Era::Modern));

        let pin = EraPin::default();
        assert_eq!(pin.pin("tools/list", None), Era::Legacy);
        assert_eq!(pin.pin("tools/list", Some(&enveloped())), Era::Legacy);
    }

    #[test]
    fn initialize_opens_legacy_even_with_an_envelope() {
        assert_eq!(opening_era("initialize", Some(&enveloped())), Era::Legacy);
        assert_eq!(
            opening_era("tools/call", Some(&json!({"_meta": {"progressToken": 1}}))),
            Era::Legacy
        );
        assert_eq!(opening_era("tools/call", Some(&enveloped())), Era::Modern);
    }

    #[test]
    fn each_era_refuses_the_other_eras_requests() {
        let legacy = EraPin::default();
        assert_eq!(admit(&legacy, "initialize", Some(&enveloped())), Ok(None));
        let refused = admit(&legacy, "tools/list", Some(&enveloped())).expect_err("enveloped");
        assert_eq!(refused.code, INVALID_REQUEST);
        assert_eq!(admit(&legacy, "tools/list", None), Ok(None));

        let modern = EraPin::default();
        let admitted = admit(&modern, "tools/list", Some(&enveloped())).expect("enveloped");
        assert!(admitted.is_some());
        assert_eq!(
            admit(&modern, "tools/list", None).map_err(|error| error.code),
            Err(INVALID_PARAMS)
        );
        let late_initialize = admit(&modern, "initialize", Some(&json!({"protocolVersion": 7})))
            .expect_err("initialize");
        assert_eq!(late_initialize.code, UNSUPPORTED_PROTOCOL_VERSION);
        assert_eq!(
            late_initialize.data,
            Some(json!({"supported": ["2026-07-28"]}))
        );
    }
}
