//! Era classification at the HTTP entry: whether a message belongs to a 2025 session (legacy)
//! or is a self-contained MCP 2026-07-28 request (modern), decided before any session lookup.
//!
//! The rule merges the Python reference's header routing (`streamable_http_manager.py`
//! `_handle_request`: a `MCP-Protocol-Version` that is not a handshake-era version goes modern)
//! with the TypeScript SDK's body-primary rule (`inboundClassification.ts`: a body whose
//! `params._meta` carries the protocol-version key claims the per-request envelope, whatever the
//! header says). A body claim wins, so an enveloped `initialize` is modern and is refused by the
//! ladder as a removed method instead of starting a legacy session.

use super::{PROTOCOL_VERSION_HEADER, PROTOCOL_VERSION_META};
use crate::frame::{Frame, FrameKind};
use axum::http::HeaderMap;

/// Which protocol era a message is served in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// A 2024-11-05 … 2025-11-25 message: `initialize` handshake, `Mcp-Session-Id`.
    Legacy,
    /// A 2026-07-28 (or later, or unknown) per-request-envelope message.
    Modern,
}

/// The handshake-era revisions, oldest first: an `MCP-Protocol-Version` naming one of these
/// keeps a message on the legacy path. Spelled out because rmcp's `ProtocolVersion` constants
/// (`V_2024_11_05` … `V_2025_11_25`) are not `&str` in a const context; a test checks that
/// the two lists agree.
pub const LEGACY_VERSIONS: [&str; 4] = ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];

/// The era of a POST. `frame` is the parsed body, or `None` when it did not parse (such a POST
/// is still modern when its header says so, so that the modern answer to a bad body is given).
pub fn classify_post(headers: &HeaderMap, frame: Option<&Frame>) -> Era {
    if frame.is_some_and(claims_envelope) || is_modern_version_header(headers) {
        Era::Modern
    } else {
        Era::Legacy
    }
}

/// Whether `MCP-Protocol-Version` is present and names no handshake-era version: on GET and
/// DELETE this means a modern client, which is answered 405 `Allow: POST`. An unknown or
/// unreadable (non-ASCII) value counts as modern, as in the reference, so the modern ladder
/// gives the structured answer (`-32022` naming the served versions). When the header is given
/// twice, the first copy decides, as in the reference manager.
pub fn is_modern_version_header(headers: &HeaderMap) -> bool {
    headers.get(PROTOCOL_VERSION_HEADER).is_some_and(|value| {
        value
            .to_str()
            .map_or(true, |version| !LEGACY_VERSIONS.contains(&version))
    })
}

/// Whether a request or notification carries the protocol-version key in `params._meta`. The
/// key alone is the claim (any value, even a malformed one), as in the reference's
/// `_has_modern_envelope`: the key is spec-reserved, so legacy traffic never mints it, and a
/// half-built envelope must reach the ladder to be told what is missing.
fn claims_envelope(frame: &Frame) -> bool {
    matches!(frame.kind(), FrameKind::Request | FrameKind::Notification)
        && frame
            .params()
            .and_then(|params| params.get("_meta"))
            .and_then(|meta| meta.get(PROTOCOL_VERSION_META))
            .is_some()
}

#[cfg(test)]
mod tests;
