//! The metric names and label values the README's "Observability" section documents.

pub const SESSIONS: &str = "hyper_mcp_proxy_sessions";
pub const OPENED: &str = "hyper_mcp_proxy_sessions_opened_total";
pub const CLOSED: &str = "hyper_mcp_proxy_sessions_closed_total";
pub const SPAWNS: &str = "hyper_mcp_proxy_child_spawns_total";
pub const EXITS: &str = "hyper_mcp_proxy_child_exits_total";
pub const RESTARTS: &str = "hyper_mcp_proxy_child_restarts_total";
pub const SPARES: &str = "hyper_mcp_proxy_spare_children";
pub const SPARES_REPLACED: &str = "hyper_mcp_proxy_spare_children_replaced_total";
pub const REQUESTS: &str = "hyper_mcp_proxy_requests_total";
pub const DURATION: &str = "hyper_mcp_proxy_request_duration_seconds";
pub const FAILED: &str = "hyper_mcp_proxy_requests_failed_total";
pub const INFLIGHT: &str = "hyper_mcp_proxy_inflight_requests";
pub const SSE_STREAMS: &str = "hyper_mcp_proxy_sse_streams";
pub const MESSAGES: &str = "hyper_mcp_proxy_messages_total";
pub const BYTES: &str = "hyper_mcp_proxy_bytes_total";

/// Every `state` label value the README documents.
pub const STATES: [&str; 4] = ["starting", "ready", "restarting", "draining"];

/// Every `method` label value the README documents.
pub const METHODS: [&str; 17] = [
    "initialize",
    "ping",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "resources/subscribe",
    "resources/unsubscribe",
    "prompts/list",
    "prompts/get",
    "completion/complete",
    "logging/setLevel",
    "tasks/get",
    "tasks/list",
    "tasks/cancel",
    "other",
];
pub const LIMIT_HITS: &str = "hyper_mcp_proxy_limit_hits_total";
