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
//! `server/discover` (`modern/probe.rs`).

mod call;
pub mod classify;
pub mod client_capabilities;
pub mod discover;
pub mod envelope;
pub mod front;
pub mod ladder;
mod pool;
mod pooled_child;
pub mod probe;
mod respond;

/// The protocol revision the modern leg serves.
pub const MODERN_VERSION: &str = "2026-07-28";
