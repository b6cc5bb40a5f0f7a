//! The per-message translation between a 2026-07-28 client and a legacy-only (2025) child:
//! the request's envelope stripped on the way in, the result and error patched on the way out,
//! and the progress token swapped in between (modern-era.md §3.2, §3.6).
//!
//! Frames are edited in place: fields a function does not name keep their position, spelling
//! and value, because the proxy never types an MCP message.

use axum::http::StatusCode;
use rmcp::model::ErrorCode;
use serde_json::{Map, Value};

use crate::frame::{Frame, FrameKind};

/// `_meta` keys that make up the 2026-07-28 envelope. A legacy child learned all of this (or
/// the proxy's stand-in for it) at `initialize`, so per request they are noise at best.
const ENVELOPE_META_KEYS: [&str; 4] = [
    "io.modelcontextprotocol/protocolVersion",
    "io.modelcontextprotocol/clientCapabilities",
    "io.modelcontextprotocol/clientInfo",
    "io.modelcontextprotocol/logLevel",
];

/// MRTR retry fields: the proxy consumes them (answers to the parked child call) and a legacy
/// child would not understand them.
const MRTR_PARAMS: [&str; 2] = ["inputResponses", "requestState"];

/// `_meta` key under which a 2026-07-28 result names the server that produced it.
pub const SERVER_INFO_META_KEY: &str = "io.modelcontextprotocol/serverInfo";

/// Methods whose results are `CacheableResult`s in the 2026-07-28 schema, so both SDK clients
/// reject them without `ttlMs` and `cacheScope`.
const CACHEABLE_METHODS: [&str; 6] = [
    "tools/list",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "server/discover",
];

/// The method a progress notification has, in both eras.
const PROGRESS_METHOD: &str = "notifications/progress";

/// Removes the 2026-07-28 envelope from a request before it goes to a legacy child.
///
/// Drops the four `io.modelcontextprotocol/*` request keys from `params._meta` (keeping
/// `progressToken`, trace context and vendor keys, and dropping `_meta` if that emptied it),
/// and `params.inputResponses` / `params.requestState`. Nothing else moves.
pub fn strip_envelope(frame: &mut Frame) {
    let Some(Value::Object(params)) = frame.params_mut() else {
        return;
    };
    if let Some(Value::Object(meta)) = params.get_mut("_meta") {
        // `shift_remove`, not `remove`: under `preserve_order` the latter swaps the last key
        // into the hole and reorders what the client sent.
        let removed = ENVELOPE_META_KEYS
            .iter()
            .filter(|key| meta.shift_remove(**key).is_some())
            .count();
        if removed > 0 && meta.is_empty() {
            params.shift_remove("_meta");
        }
    }
    for key in MRTR_PARAMS {
        params.shift_remove(key);
    }
}

/// Replaces the client's `params._meta.progressToken` with `token` and returns the original.
///
/// A request without a token is left alone (and gets `None`): the token is how a client asks
/// for progress, so the proxy must not ask on its behalf. The token keeps its position.
pub fn rewrite_progress_token(frame: &mut Frame, token: Value) -> Option<Value> {
    let Some(Value::Object(params)) = frame.params_mut() else {
        return None;
    };
    let Some(Value::Object(meta)) = params.get_mut("_meta") else {
        return None;
    };
    let slot = meta.get_mut("progressToken")?;
    Some(std::mem::replace(slot, token))
}

/// Puts the client's own token back into a `notifications/progress` from the child
/// (`params.progressToken`), in place of the proxy's. Other notifications are left alone.
pub fn restore_progress_token(notification: &mut Frame, original: Value) {
    if notification.method() != Some(PROGRESS_METHOD) {
        return;
    }
    let Some(Value::Object(params)) = notification.params_mut() else {
        return;
    };
    if let Some(slot) = params.get_mut("progressToken") {
        *slot = original;
    }
}

/// Completes a legacy child's result for a 2026-07-28 client, adding only what is missing.
///
/// Adds `resultType:"complete"`; for a complete result of a cacheable `method` (the request's
/// method), `ttlMs:0` and `cacheScope:"private"` (the proxy cannot know when a child's lists
/// change, nor whether they are the same for every caller); and, when `server_info` is given,
/// `_meta["io.modelcontextprotocol/serverInfo"]`. A field the child sent is never replaced,
/// and a `_meta` that is not an object is left as it is.
pub fn patch_result(method: &str, result_frame: &mut Frame, server_info: Option<&Value>) {
    if result_frame.kind() != FrameKind::Response {
        return;
    }
    let Some(Value::Object(result)) = result_frame.result() else {
        return;
    };
    let patch = ResultPatch::needed(method, result, server_info);
    if patch.is_empty() {
        return;
    }
    edit_member(result_frame, "result", |result| {
        if let Value::Object(result) = result {
            patch.apply(result, server_info);
        }
    });
}

/// Which fields `patch_result` adds to one result, decided before the frame is rebuilt so an
/// already complete result costs nothing.
struct ResultPatch {
    result_type: bool,
    ttl: bool,
    cache_scope: bool,
    server_info: bool,
}

impl ResultPatch {
    fn needed(method: &str, result: &Map<String, Value>, server_info: Option<&Value>) -> Self {
        // An `input_required` result is not the resource or list itself, so it has nothing
        // to cache; a missing `resultType` becomes "complete".
        let complete = result
            .get("resultType")
            .is_none_or(|kind| kind.as_str() == Some("complete"));
        let cacheable = complete && CACHEABLE_METHODS.contains(&method);
        let server_info = server_info.is_some()
            && match result.get("_meta") {
                None => true,
                Some(Value::Object(meta)) => !meta.contains_key(SERVER_INFO_META_KEY),
                Some(_) => false,
            };
        ResultPatch {
            result_type: !result.contains_key("resultType"),
            ttl: cacheable && !result.contains_key("ttlMs"),
            cache_scope: cacheable && !result.contains_key("cacheScope"),
            server_info,
        }
    }

    fn is_empty(&self) -> bool {
        !(self.result_type || self.ttl || self.cache_scope || self.server_info)
    }

    fn apply(&self, result: &mut Map<String, Value>, server_info: Option<&Value>) {
        if self.result_type {
            result.insert("resultType".into(), Value::from("complete"));
        }
        if self.ttl {
            result.insert("ttlMs".into(), Value::from(0));
        }
        if self.cache_scope {
            result.insert("cacheScope".into(), Value::from("private"));
        }
        if let (true, Some(info)) = (self.server_info, server_info) {
            let meta = result
                .entry("_meta")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(meta) = meta {
                meta.insert(SERVER_INFO_META_KEY.into(), info.clone());
            }
        }
    }
}

/// Rewrites a legacy child's error for a 2026-07-28 client and returns the HTTP status the
/// modern transport answers it with.
///
/// `-32002` (resource not found) was retired in 2026-07-28 in favour of `-32602` and MUST NOT
/// be emitted; its message and data are kept. `-32042` (URL elicitation required) is not
/// handled here: it becomes an `InputRequiredResult` (modern-era.md §3.5).
pub fn patch_error(error_frame: &mut Frame) -> StatusCode {
    let Some(code) = error_code(error_frame) else {
        return StatusCode::OK;
    };
    if code == i64::from(ErrorCode::RESOURCE_NOT_FOUND.0) {
        let invalid_params = i64::from(ErrorCode::INVALID_PARAMS.0);
        edit_member(error_frame, "error", |error| {
            if let Value::Object(error) = error {
                error.insert("code".into(), Value::from(invalid_params));
            }
        });
        return http_status(invalid_params);
    }
    http_status(code)
}

/// The HTTP status of a JSON-RPC error on the modern transport.
///
/// Follows the Python reference server (`mcp` 2.3.0): the table `ERROR_CODE_HTTP_STATUS` in
/// `mcp/shared/inbound.py`, consulted by `_write` in `mcp/server/_streamable_http_modern.py`
/// for both ladder and handler errors, with 200 (`_OK_STATUS`) for every code not in it. The
/// spec itself requires 404 for `-32601` and 400 for `-32020`, `-32021` and `-32022`.
pub fn http_status(code: i64) -> StatusCode {
    const BAD_REQUEST_CODES: [ErrorCode; 6] = [
        ErrorCode::PARSE_ERROR,
        ErrorCode::INVALID_REQUEST,
        ErrorCode::INVALID_PARAMS,
        ErrorCode::HEADER_MISMATCH,
        ErrorCode::MISSING_REQUIRED_CLIENT_CAPABILITY,
        ErrorCode::UNSUPPORTED_PROTOCOL_VERSION,
    ];
    if code == i64::from(ErrorCode::METHOD_NOT_FOUND.0) {
        StatusCode::NOT_FOUND
    } else if BAD_REQUEST_CODES
        .iter()
        .any(|known| i64::from(known.0) == code)
    {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    }
}

/// `error.code` of an error frame, when it is an integer.
fn error_code(frame: &Frame) -> Option<i64> {
    if frame.kind() != FrameKind::Error {
        return None;
    }
    frame.error()?.get("code")?.as_i64()
}

/// Applies `edit` to the frame's top-level `member` (`result` or `error`), in place: every
/// other key keeps its position and every number its spelling.
fn edit_member(frame: &mut Frame, member: &str, edit: impl FnOnce(&mut Value)) {
    let value = match member {
        "result" => frame.result_mut(),
        _ => frame.error_mut(),
    };
    if let Some(value) = value {
        edit(value);
    }
}

#[cfg(test)]
mod tests;
