//! The transport validation ladder of MCP 2026-07-28 Streamable HTTP, for a POST already
//! classified modern whose body parsed into a `Frame`: the first failing rung answers.
//!
//! `Origin`/`Host`, `Content-Type`, `Accept` and the body size are checked by the HTTP handler
//! before this runs (the handler requires both JSON and SSE in `Accept` on every POST, which
//! also covers the reference's 406 for a `subscriptions/listen` without SSE). The rungs follow
//! the Python reference (`mcp/server/_streamable_http_modern.py` `handle_modern_request`, then
//! `mcp/shared/inbound.py` `classify_inbound_request`, then the kernel's per-version method and
//! params checks), observed on the wire against `mcp` 2.3.0:
//!
//! 1. not a single request or notification with object `params` → 400 `-32600`, `id: null`;
//! 2. a notification → admitted (the caller answers 202) when the `MCP-Protocol-Version` header
//!    names a served version, else 400 `-32022`, `id: null`: the reference checks only that
//!    header for notifications (the research's row 5 omits this check);
//! 3. `MCP-Protocol-Version`, `Mcp-Method` or `Mcp-Name` given twice → 400 `-32020`;
//! 4. `params._meta` not an object, or without the protocol-version or capabilities key → 400
//!    `-32602`;
//! 5. the version header missing or different from the body's version, `Mcp-Method` missing or
//!    different from `method`, `Mcp-Name` missing or different (after sentinel decoding) from
//!    `params.name`/`params.uri` of `tools/call`, `prompts/get`, `resources/read` → 400
//!    `-32020`. Only `Mcp-Name` may use the sentinel (the spec limits it to `Mcp-Name` and
//!    `Mcp-Param-*`), so the other two compare verbatim, as in the reference. As there, a
//!    named method whose body lacks the name skips the `Mcp-Name` rung and fails at rung 8;
//! 6. a version that is not served → 400 `-32022`, `data: {supported, requested}`. It comes
//!    after rung 5, as in the reference, so a client that disagrees with itself is told so;
//! 7. a request method 2026-07-28 removed → 404 `-32601`, `data: <method>`;
//! 8. envelope and params shapes the proxy relies on → 400 `-32602`: capabilities an object
//!    (with object members), `clientInfo` an object, `logLevel` a syslog level, `progressToken`
//!    a string or integer, the name/uri of a named method a string. The reference rejects
//!    these in its per-method schema validation, after the method lookup; the full schema
//!    (e.g. `clientInfo.name`) is the serving child's to check.
//!
//! Not here: `Mcp-Param-*` headers (row 10 of the research) must match the `tools/call`
//! arguments that the tool's input schema marks with `x-mcp-header`, which needs the tool
//! schemas from `tools/list`; that check belongs where schemas are known. Unknown (custom)
//! methods are admitted, because the proxy forwards custom methods and the child's `-32601`
//! becomes the 404. `-32021` (a capability the request did not declare) is decided when a
//! child asks for one.
//!
//! Deliberate differences from the reference: `tasks/get` and `tasks/cancel` are admitted (the
//! `io.modelcontextprotocol/tasks` extension defines them; the reference 404s them for want of
//! a handler), and so is a request id that is a non-integer number such as `1.5` or `1.0`
//! (the reference's model refuses it with `-32600`; the proxy takes every id `Frame` takes, as
//! on the legacy leg).

// A refusal is built at most once per HTTP request and turned straight into the response, so
// its size never matters; boxing it would only add an allocation.
#![allow(clippy::result_large_err)]

mod header_value;
mod violation;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value};

use self::header_value::decode_header_value;
use self::violation::Violation;
use super::{
    CLIENT_CAPABILITIES_META, CLIENT_INFO_META, LOG_LEVEL_META, METHOD_HEADER, MODERN_VERSION,
    NAME_HEADER, PROTOCOL_VERSION_HEADER, PROTOCOL_VERSION_META,
};
use crate::frame::{Frame, FrameKind};

/// `HeaderMismatch`: a routing header is missing, repeated, or disagrees with the body.
pub const HEADER_MISMATCH: i64 = -32020;
/// `MissingRequiredClientCapability`: serving the request needs a capability it did not declare.
#[expect(dead_code, reason = "answered once interactive requests are carried")]
pub const MISSING_CAPABILITY: i64 = -32021;
/// `UnsupportedProtocolVersion`: the request's version is not served; `data` lists the served ones.
pub const UNSUPPORTED_VERSION: i64 = -32022;

/// The modern versions the proxy serves, the `served` argument of [`admit`].
pub const SERVED_VERSIONS: [&str; 1] = [MODERN_VERSION];

/// Methods whose target is mirrored in `Mcp-Name`, with the `params` field it mirrors.
const NAME_BEARING_METHODS: [(&str, &str); 3] = [
    ("tools/call", "name"),
    ("prompts/get", "name"),
    ("resources/read", "uri"),
];

/// What a message that passed the ladder is.
#[derive(Debug, Clone, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "one value per HTTP request, moved once; boxing would only add an allocation"
)]
pub enum Admitted {
    /// A notification at a served version; the caller answers 202 and drops it.
    Notification,
    /// A request to serve.
    Request(ModernCall),
}

/// The envelope and routing facts of an admitted request, read once here.
#[derive(Debug, Clone, PartialEq)]
pub struct ModernCall {
    /// `method`.
    pub method: String,
    /// `params.name` (`tools/call`, `prompts/get`) or `params.uri` (`resources/read`).
    pub name: Option<String>,
    /// The served protocol version the request named.
    pub version: String,
    /// The declared `ClientCapabilities` object (`{}` declares none).
    pub capabilities: Value,
    /// The client's `Implementation`, when sent (it is only SHOULD).
    pub client_info: Option<Value>,
    /// The log level the request opts in to, when sent.
    pub log_level: Option<String>,
    /// `params._meta.progressToken`, when sent.
    pub progress_token: Option<Value>,
}

/// Why a modern POST is refused: an HTTP status and the JSON-RPC error that explains it.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// 400, or 404 for a removed method.
    pub status: StatusCode,
    /// The JSON-RPC error code.
    pub code: i64,
    /// What is wrong and what the client should do.
    pub message: String,
    /// Structured detail (`-32022`: `{supported, requested}`; `-32601`: the method).
    pub data: Option<Value>,
    /// The request's id, or `Null` where the reference answers `id: null` (no request to
    /// answer: a bad body, or a notification).
    pub request_id: Value,
}

impl Refusal {
    fn new(request_id: Value, violation: Violation) -> Refusal {
        Refusal {
            status: violation.status(),
            code: violation.code(),
            message: violation.to_string(),
            data: violation.data(),
            request_id,
        }
    }

    /// The HTTP answer: the status with a JSON-RPC error body.
    pub fn into_response(self) -> Response {
        let body = Frame::error_response(self.request_id, self.code, &self.message, self.data);
        (
            self.status,
            [(header::CONTENT_TYPE, "application/json")],
            body.to_bytes(),
        )
            .into_response()
    }
}

/// Refuses, from the headers alone, a POST whose `MCP-Protocol-Version` is neither a 2025
/// revision nor one of `served`: `-32022` at once, before the body is read, so a client
/// that names an unknown revision never makes the proxy hold its upload. (The reference
/// checks the envelope first; the answer differs only in its code when the body is also
/// malformed.)
pub fn refuse_unserved_version(headers: &HeaderMap, served: &[&str]) -> Option<Refusal> {
    let version = headers.get(PROTOCOL_VERSION_HEADER)?;
    let version = String::from_utf8_lossy(version.as_bytes()).into_owned();
    if served.contains(&version.as_str()) {
        return None;
    }
    Some(Refusal::new(
        Value::Null,
        Violation::unsupported_version(version, served),
    ))
}

/// Runs the ladder over a modern POST. `served` lists the modern versions the proxy serves
/// (today `[MODERN_VERSION]`), in the order `-32022` reports them.
pub fn admit(headers: &HeaderMap, frame: &Frame, served: &[&str]) -> Result<Admitted, Refusal> {
    let params = match frame.params() {
        None | Some(Value::Null) => None,
        Some(Value::Object(params)) => Some(params),
        Some(_) => return Err(Refusal::new(Value::Null, Violation::NotASingleMessage)),
    };
    let method = frame.method().unwrap_or_default();
    match (frame.kind(), frame.id()) {
        (FrameKind::Notification, _) => admit_notification(headers, served),
        (FrameKind::Request, Some(id)) => admit_request(headers, method, params, served)
            .map(Admitted::Request)
            .map_err(|violation| Refusal::new(id.clone(), violation)),
        _ => Err(Refusal::new(Value::Null, Violation::NotASingleMessage)),
    }
}

/// Rung 2: the reference reads only the version header of a notification (its first copy),
/// taking a missing one as the empty version.
fn admit_notification(headers: &HeaderMap, served: &[&str]) -> Result<Admitted, Refusal> {
    let requested = headers
        .get(PROTOCOL_VERSION_HEADER)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
        .unwrap_or_default();
    if served.contains(&requested.as_str()) {
        Ok(Admitted::Notification)
    } else {
        Err(Refusal::new(
            Value::Null,
            Violation::unsupported_version(requested, served),
        ))
    }
}

/// Rungs 3 to 8 for a request.
fn admit_request(
    headers: &HeaderMap,
    method: &str,
    params: Option<&Map<String, Value>>,
    served: &[&str],
) -> Result<ModernCall, Violation> {
    reject_repeated_routing_headers(headers)?;
    let meta = envelope(params)?;
    let version = meta.get(PROTOCOL_VERSION_META).unwrap_or(&Value::Null);
    check_version_header(headers, version)?;
    check_method_header(headers, method)?;
    let name_field = NAME_BEARING_METHODS
        .iter()
        .find(|(named, _)| *named == method)
        .map(|(_, field)| *field);
    let name_value = name_field
        .and_then(|field| params?.get(field))
        .filter(|value| !value.is_null());
    if let Some(body_name) = name_value {
        check_name_header(headers, body_name)?;
    }
    // Rung 5 proved the body's version equals a header string, so it is a string.
    let version = version.as_str().unwrap_or_default();
    if !served.contains(&version) {
        return Err(Violation::unsupported_version(version.to_owned(), served));
    }
    if let Some(removed) = Violation::removed_method(method) {
        return Err(removed);
    }
    let call = ModernCall {
        method: method.to_owned(),
        name: match (name_field, name_value) {
            (None, _) => None,
            // Rung 5 proved a present name equals a header string.
            (Some(_), Some(name)) => name.as_str().map(str::to_owned),
            (Some(field), None) => {
                return Err(Violation::MissingTarget {
                    method: method.to_owned(),
                    field,
                });
            }
        },
        version: version.to_owned(),
        capabilities: capabilities(meta)?,
        client_info: client_info(meta)?,
        log_level: log_level(meta)?,
        progress_token: progress_token(meta)?,
    };
    Ok(call)
}

/// Rung 3: a repeated routing header would let a reader of the first copy and a reader of the
/// last disagree about where the request goes.
fn reject_repeated_routing_headers(headers: &HeaderMap) -> Result<(), Violation> {
    for name in [PROTOCOL_VERSION_HEADER, METHOD_HEADER, NAME_HEADER] {
        if headers.get_all(name).iter().nth(1).is_some() {
            return Err(Violation::RepeatedHeader { header: name });
        }
    }
    Ok(())
}

/// Rung 4: `params._meta` with both required keys.
fn envelope(params: Option<&Map<String, Value>>) -> Result<&Map<String, Value>, Violation> {
    let Some(Value::Object(meta)) = params.and_then(|params| params.get("_meta")) else {
        return Err(Violation::MissingEnvelope);
    };
    let missing: Vec<&'static str> = [PROTOCOL_VERSION_META, CLIENT_CAPABILITIES_META]
        .into_iter()
        .filter(|key| !meta.contains_key(*key))
        .collect();
    if missing.is_empty() {
        Ok(meta)
    } else {
        Err(Violation::MissingEnvelopeKeys { missing })
    }
}

/// A routing header's only copy as text; `Err` carries what was sent, for the message, when
/// it is not visible ASCII.
fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<Result<&'a str, String>> {
    let value = headers.get(name)?;
    Some(
        value
            .to_str()
            .map_err(|_| String::from_utf8_lossy(value.as_bytes()).into_owned()),
    )
}

/// Rung 5, version: the header must equal the body's version string.
fn check_version_header(headers: &HeaderMap, version: &Value) -> Result<(), Violation> {
    match header_text(headers, PROTOCOL_VERSION_HEADER) {
        Some(Ok(sent)) if version.as_str() == Some(sent) => Ok(()),
        sent => Err(Violation::header_mismatch(
            PROTOCOL_VERSION_HEADER,
            sent,
            format!("params._meta[\"{PROTOCOL_VERSION_META}\"]"),
            version,
        )),
    }
}

/// Rung 5, method: `Mcp-Method` must equal `method`, verbatim (values are case-sensitive).
fn check_method_header(headers: &HeaderMap, method: &str) -> Result<(), Violation> {
    match header_text(headers, METHOD_HEADER) {
        Some(Ok(sent)) if sent == method => Ok(()),
        sent => Err(Violation::header_mismatch(
            METHOD_HEADER,
            sent,
            "method".to_owned(),
            &Value::from(method),
        )),
    }
}

/// Rung 5, name: `Mcp-Name`, decoded from the sentinel form, must equal the body's name or
/// uri (a non-string body value never matches).
fn check_name_header(headers: &HeaderMap, body_name: &Value) -> Result<(), Violation> {
    let sent = header_text(headers, NAME_HEADER);
    let decoded = match &sent {
        Some(Ok(raw)) => decode_header_value(raw),
        _ => None,
    };
    match (decoded, sent) {
        (Some(name), _) if body_name.as_str() == Some(name.as_str()) => Ok(()),
        (Some(_), sent) | (None, sent @ None) => Err(Violation::header_mismatch(
            NAME_HEADER,
            sent,
            "the body's name (params.name, or params.uri for resources/read)".to_owned(),
            body_name,
        )),
        (None, Some(_)) => Err(Violation::UndecodableName),
    }
}

/// Rung 8: the declared capabilities, an object whose standard members are objects.
fn capabilities(meta: &Map<String, Value>) -> Result<Value, Violation> {
    let Some(Value::Object(declared)) = meta.get(CLIENT_CAPABILITIES_META) else {
        return Err(Violation::CapabilitiesNotObject);
    };
    for member in [
        "roots",
        "sampling",
        "elicitation",
        "extensions",
        "experimental",
    ] {
        if declared
            .get(member)
            .is_some_and(|value| !value.is_null() && !value.is_object())
        {
            return Err(Violation::CapabilityNotObject { member });
        }
    }
    Ok(Value::Object(declared.clone()))
}

/// Rung 8: `clientInfo`, absent or null meaning not sent.
fn client_info(meta: &Map<String, Value>) -> Result<Option<Value>, Violation> {
    match meta.get(CLIENT_INFO_META) {
        None | Some(Value::Null) => Ok(None),
        Some(info @ Value::Object(_)) => Ok(Some(info.clone())),
        Some(_) => Err(Violation::ClientInfoNotObject),
    }
}

/// The syslog severities of MCP's `LoggingLevel`.
const LOG_LEVELS: [&str; 8] = [
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
];

/// Rung 8: `logLevel`, absent or null meaning no log messages for this request.
fn log_level(meta: &Map<String, Value>) -> Result<Option<String>, Violation> {
    match meta.get(LOG_LEVEL_META) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(level)) if LOG_LEVELS.contains(&level.as_str()) => {
            Ok(Some(level.clone()))
        }
        Some(_) => Err(Violation::BadLogLevel),
    }
}

/// Rung 8: `progressToken` is a string or an integer (of any size: numbers keep their source
/// text, so an integer is a number spelled without fraction or exponent).
fn progress_token(meta: &Map<String, Value>) -> Result<Option<Value>, Violation> {
    match meta.get("progressToken") {
        None => Ok(None),
        Some(token @ Value::String(_)) => Ok(Some(token.clone())),
        Some(token @ Value::Number(number)) if !number.to_string().contains(['.', 'e', 'E']) => {
            Ok(Some(token.clone()))
        }
        Some(_) => Err(Violation::BadProgressToken),
    }
}

#[cfg(test)]
mod tests;
