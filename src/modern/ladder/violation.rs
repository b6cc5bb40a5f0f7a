//! What a rung of the ladder found wrong, with the status, JSON-RPC code, message and data the
//! refusal carries. Messages say what is wrong and what the client should do instead.

use axum::http::StatusCode;
use rmcp::model::ErrorCode;
use serde_json::{Value, json};

use super::{HEADER_MISMATCH, UNSUPPORTED_VERSION};
use crate::frame::INVALID_REQUEST;

/// JSON-RPC "Method not found".
const METHOD_NOT_FOUND: i64 = ErrorCode::METHOD_NOT_FOUND.0 as i64;
/// JSON-RPC "Invalid params".
const INVALID_PARAMS: i64 = ErrorCode::INVALID_PARAMS.0 as i64;

/// Longest rendering of a client-sent value quoted back in a message.
const SHOWN_CHARS: usize = 120;

/// Request methods MCP 2026-07-28 removed, each with what replaces it (changelog major 2, 4, 5
/// and 6). `tasks/get` and `tasks/cancel` are absent on purpose: the
/// `io.modelcontextprotocol/tasks` extension still defines them, so a child that implements the
/// extension must see them (the Python reference 404s them only because it does not implement
/// the extension).
const REMOVED_METHODS: [(&str, &str); 7] = [
    (
        "initialize",
        "there is no handshake; send each request with its params._meta envelope, and call \
         server/discover to learn the server's versions and capabilities",
    ),
    ("ping", "liveness is left to HTTP; drop the ping"),
    (
        "logging/setLevel",
        "set params._meta[\"io.modelcontextprotocol/logLevel\"] on each request that wants log \
         messages",
    ),
    (
        "resources/subscribe",
        "open a subscriptions/listen stream with notifications.resourceSubscriptions instead",
    ),
    (
        "resources/unsubscribe",
        "close the subscriptions/listen stream that subscribed to the resource instead",
    ),
    (
        "tasks/list",
        "tasks moved to the io.modelcontextprotocol/tasks extension, which has no tasks/list",
    ),
    (
        "tasks/result",
        "tasks moved to the io.modelcontextprotocol/tasks extension; poll tasks/get for the result",
    ),
];

/// The first rung a modern POST failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Violation {
    #[error(
        "the body must be a single JSON-RPC request or notification object, with params an \
         object if present; an MCP 2026-07-28 POST carries no responses and no batches"
    )]
    NotASingleMessage,
    #[error(
        "protocol version {} is not served here; retry with a version from error.data.supported",
        shown(&Value::from(.requested.as_str()))
    )]
    UnsupportedVersion {
        requested: String,
        supported: Vec<String>,
    },
    #[error("the {header} header appears more than once; send it exactly once")]
    RepeatedHeader { header: &'static str },
    #[error(
        "params._meta must be an object carrying \"io.modelcontextprotocol/protocolVersion\" and \
         \"io.modelcontextprotocol/clientCapabilities\": an MCP 2026-07-28 request carries its \
         own envelope (there is no initialize)"
    )]
    MissingEnvelope,
    #[error(
        "params._meta is missing the required envelope key(s) {}; add them \
         (clientCapabilities {{}} declares no capabilities)",
        .missing.join(", ")
    )]
    MissingEnvelopeKeys { missing: Vec<&'static str> },
    #[error("the {header} header is missing; send it equal to {field} ({expected})")]
    MissingHeader {
        header: &'static str,
        field: String,
        expected: String,
    },
    #[error(
        "the {header} header ({sent}) does not match {field} ({expected}); send the same value \
         in both"
    )]
    HeaderMismatch {
        header: &'static str,
        sent: String,
        field: String,
        expected: String,
    },
    #[error(
        "the Mcp-Name header is neither plain visible ASCII nor a valid =?base64?...?= sentinel; \
         send the name as is, or the padded standard base64 of its UTF-8 bytes between \
         =?base64? and ?="
    )]
    UndecodableName,
    #[error("method \"{method}\" does not exist in MCP 2026-07-28: {instead}")]
    RemovedMethod {
        method: &'static str,
        instead: &'static str,
    },
    #[error("{method} requires params.{field} (a string)")]
    MissingTarget { method: String, field: &'static str },
    #[error(
        "params._meta[\"io.modelcontextprotocol/clientCapabilities\"] must be an object; send {{}} \
         to declare no capabilities"
    )]
    CapabilitiesNotObject,
    #[error("clientCapabilities.{member} must be an object when present")]
    CapabilityNotObject { member: &'static str },
    #[error(
        "params._meta[\"io.modelcontextprotocol/clientInfo\"] must be an object \
         ({{name, version}}) when present"
    )]
    ClientInfoNotObject,
    #[error(
        "params._meta[\"io.modelcontextprotocol/logLevel\"] must be one of debug, info, notice, \
         warning, error, critical, alert, emergency"
    )]
    BadLogLevel,
    #[error("params._meta.progressToken must be a string or an integer")]
    BadProgressToken,
}

impl Violation {
    /// `-32022` for `requested`, listing the `served` versions.
    pub fn unsupported_version(requested: String, served: &[&str]) -> Violation {
        Violation::UnsupportedVersion {
            requested,
            supported: served.iter().map(|version| (*version).to_owned()).collect(),
        }
    }

    /// `-32020` for a routing header that is missing (`sent` is `None`) or differs from the
    /// body; `Some(Err(raw))` is a value that is not visible ASCII.
    pub fn header_mismatch(
        header: &'static str,
        sent: Option<Result<&str, String>>,
        field: String,
        expected: &Value,
    ) -> Violation {
        let expected = shown(expected);
        match sent {
            None => Violation::MissingHeader {
                header,
                field,
                expected,
            },
            Some(sent) => Violation::HeaderMismatch {
                header,
                sent: shown(&Value::from(sent.map_or_else(|raw| raw, str::to_owned))),
                field,
                expected,
            },
        }
    }

    /// `-32601` when `method` is one that 2026-07-28 removed.
    pub fn removed_method(method: &str) -> Option<Violation> {
        REMOVED_METHODS
            .iter()
            .find(|(removed, _)| *removed == method)
            .map(|(method, instead)| Violation::RemovedMethod { method, instead })
    }

    pub fn status(&self) -> StatusCode {
        match self {
            Violation::RemovedMethod { .. } => StatusCode::NOT_FOUND,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    pub fn code(&self) -> i64 {
        match self {
            Violation::NotASingleMessage => INVALID_REQUEST,
            Violation::UnsupportedVersion { .. } => UNSUPPORTED_VERSION,
            Violation::RepeatedHeader { .. }
            | Violation::MissingHeader { .. }
            | Violation::HeaderMismatch { .. }
            | Violation::UndecodableName => HEADER_MISMATCH,
            Violation::RemovedMethod { .. } => METHOD_NOT_FOUND,
            Violation::MissingEnvelope
            | Violation::MissingEnvelopeKeys { .. }
            | Violation::MissingTarget { .. }
            | Violation::CapabilitiesNotObject
            | Violation::CapabilityNotObject { .. }
            | Violation::ClientInfoNotObject
            | Violation::BadLogLevel
            | Violation::BadProgressToken => INVALID_PARAMS,
        }
    }

    /// `error.data`: the reference's shapes (`UnsupportedProtocolVersionErrorData`, and the
    /// method name for method-not-found).
    pub fn data(&self) -> Option<Value> {
        match self {
            Violation::UnsupportedVersion {
                requested,
                supported,
            } => Some(json!({ "supported": supported, "requested": requested })),
            Violation::RemovedMethod { method, .. } => Some(Value::from(*method)),
            _ => None,
        }
    }
}

/// A client-sent value as JSON text, cut short so that a message stays small.
fn shown(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text,
    }
}
