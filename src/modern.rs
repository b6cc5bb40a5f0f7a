//! The modern leg: MCP 2026-07-28 clients on the same endpoint as 2025 sessions.
//!
//! A 2026-07-28 request is a self-contained POST (no `initialize`, no `Mcp-Session-Id`) whose
//! `params._meta` carries the protocol version and the client's capabilities. The HTTP entry
//! classifies every POST before any session lookup (`modern/classify.rs`); modern requests pass
//! the transport's validation ladder (`modern/ladder.rs`) and are served by shared children:
//! passed through to children that speak 2026-07-28 themselves, or translated for legacy-only
//! children (`modern/envelope.rs`; pool partitions and a pooled child's handshake in
//! `modern/client_capabilities.rs`; the synthesized `server/discover` in `modern/discover.rs`).
//! Which of the two a command is, is found once by probing a throwaway child with
//! `server/discover` (`modern/probe.rs`). `subscriptions/listen` streams are served by the
//! proxy for translated children and relayed for passthrough ones (`modern/listen.rs`).
//!
//! ```text
//! ModernFront (front.rs) ── ladder, era, partition ──► ChildPool (pool.rs)
//!   │ retries: sealed requestState (front/retry.rs,        │ leases PooledChild (pooled_child.rs):
//!   │          request_state.rs)                            │ a SessionSupervisor opened through the
//!   ▼                                                       │ router, whose client is the proxy
//! forward (front/forward.rs) ── ModernCall (call.rs) ──────┘
//!   answers: respond.rs (JSON or SSE without ids)
//!   child questions: server_asks.rs → parked.rs (InputRequiredResult rounds)
//!   subscriptions/listen: listen.rs (translated: fed by every pooled child; passthrough: relayed)
//! ```

mod call;
pub mod classify;
pub mod client_capabilities;
pub mod discover;
pub mod envelope;
pub mod front;
pub mod ladder;
mod listen;
mod parked;
mod pool;
mod pooled_child;
pub mod probe;
pub mod request_state;
mod respond;
mod server_asks;

/// The protocol revision the modern leg serves.
pub const MODERN_VERSION: &str = "2026-07-28";

/// `params._meta` key naming the request's protocol revision; its presence is what makes a
/// body modern.
pub const PROTOCOL_VERSION_META: &str = "io.modelcontextprotocol/protocolVersion";
/// `params._meta` key carrying the client's capabilities for this one request.
pub const CLIENT_CAPABILITIES_META: &str = "io.modelcontextprotocol/clientCapabilities";
/// `params._meta` key carrying the client's `Implementation` (name, version).
pub const CLIENT_INFO_META: &str = "io.modelcontextprotocol/clientInfo";
/// `params._meta` key carrying the log level this request opts in to (replaces `logging/setLevel`).
pub const LOG_LEVEL_META: &str = "io.modelcontextprotocol/logLevel";

/// Carries the request's protocol version on every modern POST. The header names are spelled as
/// the spec spells them (lookups ignore case); rmcp has the same constants in
/// `transport::common::http_header`, but only with its client or server feature, which this
/// crate leaves off.
pub const PROTOCOL_VERSION_HEADER: &str = "MCP-Protocol-Version";
/// Mirrors the body's `method` on every modern request.
pub const METHOD_HEADER: &str = "Mcp-Method";
/// Mirrors `params.name` (`tools/call`, `prompts/get`) or `params.uri` (`resources/read`).
pub const NAME_HEADER: &str = "Mcp-Name";
