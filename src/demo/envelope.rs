//! The MCP 2026-07-28 per-request envelope, `params._meta`: its reserved keys, and the checks
//! every request to a modern-pinned process passes before a handler runs. On stdio there are no
//! headers, so the ladder is only: `_meta` is an object with the version and capabilities keys
//! (`-32602`), the version is a string (`-32602`) that this server serves (`-32022`).

use serde_json::{Map, Value, json};

use super::error::{RpcError, UNSUPPORTED_PROTOCOL_VERSION};
use super::logging::LogLevel;

/// The one modern protocol revision the demo serves.
pub const MODERN_PROTOCOL_VERSION: &str = "2026-07-28";
pub const PROTOCOL_VERSION_KEY: &str = "io.modelcontextprotocol/protocolVersion";
pub const CLIENT_CAPABILITIES_KEY: &str = "io.modelcontextprotocol/clientCapabilities";
pub const LOG_LEVEL_KEY: &str = "io.modelcontextprotocol/logLevel";

/// What a modern request's envelope tells the handler.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    /// The capabilities the client declared for this request alone.
    pub client_capabilities: Map<String, Value>,
    /// The least severe log level this request wants to see; `None`: no logs at all.
    pub log_level: Option<LogLevel>,
}

/// Whether `params._meta` carries the protocol-version key. That key alone marks a modern
/// request (legacy requests have `_meta` too, for `progressToken`); a half-built envelope still
/// counts, so that it is routed modern and told which key it lacks.
pub fn has_modern_envelope(params: Option<&Value>) -> bool {
    params
        .and_then(|params| params.get("_meta"))
        .and_then(Value::as_object)
        .is_some_and(|meta| meta.contains_key(PROTOCOL_VERSION_KEY))
}

/// `data` of a `-32022` error: the versions served and, when it was a string, the one asked for.
pub fn unsupported_version_data(requested: Option<&str>) -> Value {
    match requested {
        Some(requested) => {
            json!({ "supported": [MODERN_PROTOCOL_VERSION], "requested": requested })
        }
        None => json!({ "supported": [MODERN_PROTOCOL_VERSION] }),
    }
}

impl Envelope {
    /// Checks the envelope of a request to a modern-pinned process, first failure wins.
    pub fn from_params(params: Option<&Value>) -> Result<Self, RpcError> {
        let Some(meta) = params
            .and_then(|params| params.get("_meta"))
            .and_then(Value::as_object)
        else {
            return Err(RpcError::invalid_params(format!(
                "params._meta must be an object carrying the required \
                 '{PROTOCOL_VERSION_KEY}' and '{CLIENT_CAPABILITIES_KEY}' envelope keys"
            )));
        };
        let missing: Vec<&str> = [PROTOCOL_VERSION_KEY, CLIENT_CAPABILITIES_KEY]
            .into_iter()
            .filter(|key| !meta.contains_key(*key))
            .collect();
        if !missing.is_empty() {
            return Err(RpcError::invalid_params(format!(
                "params._meta is missing the required envelope key(s): {}",
                missing.join(", ")
            )));
        }
        let Some(version) = meta[PROTOCOL_VERSION_KEY].as_str() else {
            return Err(RpcError::invalid_params(
                "the protocol-version envelope value must be a string",
            ));
        };
        if version != MODERN_PROTOCOL_VERSION {
            return Err(RpcError::new(
                UNSUPPORTED_PROTOCOL_VERSION,
                "Unsupported protocol version",
            )
            .with_data(unsupported_version_data(Some(version))));
        }
        let Some(client_capabilities) = meta[CLIENT_CAPABILITIES_KEY].as_object() else {
            return Err(RpcError::invalid_params(format!(
                "the '{CLIENT_CAPABILITIES_KEY}' envelope value must be an object"
            )));
        };
        let log_level = match meta.get(LOG_LEVEL_KEY) {
            None => None,
            Some(level) => Some(level.as_str().and_then(LogLevel::parse).ok_or_else(|| {
                RpcError::invalid_params(format!(
                    "the '{LOG_LEVEL_KEY}' envelope value must be one of {}",
                    LogLevel::spellings()
                ))
            })?),
        };
        Ok(Self {
            client_capabilities: client_capabilities.clone(),
            log_level,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::error::INVALID_PARAMS;
    use super::*;

    fn with_meta(meta: Value) -> Value {
        json!({ "name": "echo", "_meta": meta })
    }

    fn refusal(params: &Value) -> (i64, String, Option<Value>) {
        let error = Envelope::from_params(Some(params)).expect_err("refused");
        (error.code, error.message, error.data)
    }

    #[test]
    fn only_the_protocol_version_key_marks_a_modern_request() {
        assert!(has_modern_envelope(Some(&with_meta(
            json!({ PROTOCOL_VERSION_KEY: "2099-01-01" })
        ))));
        assert!(!has_modern_envelope(Some(&with_meta(
            json!({ "progressToken": 1, CLIENT_CAPABILITIES_KEY: {} })
        ))));
        assert!(!has_modern_envelope(Some(&json!({ "_meta": "x" }))));
        assert!(!has_modern_envelope(Some(&json!([1]))));
        assert!(!has_modern_envelope(None));
    }

    #[test]
    fn a_complete_envelope_yields_capabilities_and_log_level() {
        let params = with_meta(json!({
            PROTOCOL_VERSION_KEY: "2026-07-28",
            CLIENT_CAPABILITIES_KEY: { "sampling": {} },
            LOG_LEVEL_KEY: "warning",
            "progressToken": "p",
        }));
        assert_eq!(
            Envelope::from_params(Some(&params)),
            Ok(Envelope {
                client_capabilities: Map::from_iter([("sampling".to_owned(), json!({}))]),
                log_level: Some(LogLevel::Warning),
            })
        );
        let quiet =
            with_meta(json!({ PROTOCOL_VERSION_KEY: "2026-07-28", CLIENT_CAPABILITIES_KEY: {} }));
        assert_eq!(
            Envelope::from_params(Some(&quiet)).map(|envelope| envelope.log_level),
            Ok(None)
        );
    }

    #[test]
    fn the_ladder_names_what_is_wrong() {
        assert_eq!(
            refusal(&json!({})),
            (
                INVALID_PARAMS,
                "params._meta must be an object carrying the required \
                 'io.modelcontextprotocol/protocolVersion' and \
                 'io.modelcontextprotocol/clientCapabilities' envelope keys"
                    .to_owned(),
                None
            )
        );
        assert_eq!(
            refusal(&with_meta(json!({ "progressToken": 1 }))).1,
            "params._meta is missing the required envelope key(s): \
             io.modelcontextprotocol/protocolVersion, io.modelcontextprotocol/clientCapabilities"
        );
        assert_eq!(
            refusal(&with_meta(
                json!({ PROTOCOL_VERSION_KEY: 2026, CLIENT_CAPABILITIES_KEY: {} })
            )),
            (
                INVALID_PARAMS,
                "the protocol-version envelope value must be a string".to_owned(),
                None
            )
        );
        assert_eq!(
            refusal(&with_meta(
                json!({ PROTOCOL_VERSION_KEY: "2099-01-01", CLIENT_CAPABILITIES_KEY: {} })
            )),
            (
                UNSUPPORTED_PROTOCOL_VERSION,
                "Unsupported protocol version".to_owned(),
                Some(json!({ "supported": ["2026-07-28"], "requested": "2099-01-01" }))
            )
        );
        assert_eq!(
            refusal(&with_meta(
                json!({ PROTOCOL_VERSION_KEY: "2026-07-28", CLIENT_CAPABILITIES_KEY: [] })
            ))
            .1,
            "the 'io.modelcontextprotocol/clientCapabilities' envelope value must be an object"
        );
        assert_eq!(
            refusal(&with_meta(json!({
                PROTOCOL_VERSION_KEY: "2026-07-28", CLIENT_CAPABILITIES_KEY: {}, LOG_LEVEL_KEY: "loud"
            })))
            .1,
            "the 'io.modelcontextprotocol/logLevel' envelope value must be one of \
             debug, info, notice, warning, error, critical, alert, emergency"
        );
    }
}
