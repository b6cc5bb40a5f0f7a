//! Routing of client requests and notifications to their handlers (modern requests go on to
//! `modern.rs`), plus the small protocol-level handlers: `initialize`, `ping`,
//! `logging/setLevel`, resource subscriptions, `demo/echo` and `notifications/cancelled`.

use serde_json::{Value, json};

use super::args::required_param_str;
use super::catalog;
use super::error::RpcError;
use super::logging::LogLevel;
use super::modern;
use super::request::{Reply, RequestContext};
use super::state::ServerState;
use super::tool_list;
use super::tools;

/// Protocol versions the demo server can speak, oldest first.
pub const SUPPORTED_PROTOCOL_VERSIONS: [&str; 4] =
    ["2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"];
/// Answered when the client asks for a version not in the list.
pub const LATEST_PROTOCOL_VERSION: &str = "2025-11-25";

pub const INSTRUCTIONS: &str = "Demo MCP server bundled with hyper-mcp-proxy for tests and benchmarks; \
                            call tools/list to see what it can do.";

/// Answers one client request.
pub async fn handle_request(
    state: &ServerState,
    request: &RequestContext,
) -> Result<Reply, RpcError> {
    if request.is_modern() {
        return modern::handle_request(state, request).await;
    }
    if request.method == "tools/call" {
        return tools::call(state, request).await;
    }
    answer(state, request).map(Reply::Result)
}

/// Answers one client request other than `tools/call`, in the legacy shape.
pub fn answer(state: &ServerState, request: &RequestContext) -> Result<Value, RpcError> {
    let params = request.params_or_null();
    match request.method.as_str() {
        "initialize" => Ok(initialize(state, params)),
        "ping" => Ok(json!({})),
        "logging/setLevel" => set_log_level(state, params),
        "tools/list" => Ok(tool_list::list_result()),
        "resources/list" => Ok(catalog::list_resources()),
        "resources/templates/list" => Ok(catalog::list_resource_templates()),
        "resources/read" => catalog::read_resource(params),
        "resources/subscribe" => {
            state.subscribe(required_param_str(params, "uri", "resources/subscribe")?);
            Ok(json!({}))
        }
        "resources/unsubscribe" => {
            state.unsubscribe(required_param_str(params, "uri", "resources/unsubscribe")?);
            Ok(json!({}))
        }
        "prompts/list" => Ok(catalog::list_prompts()),
        "prompts/get" => catalog::get_prompt(params),
        "completion/complete" => catalog::complete(params),
        "demo/echo" => Ok(request.params.clone().unwrap_or_else(|| json!({}))),
        other => Err(RpcError::method_not_found(other)),
    }
}

/// Handles one client notification. Only `notifications/cancelled` does
/// anything; every other notification is accepted silently.
pub fn handle_notification(state: &ServerState, method: &str, params: Option<&Value>) {
    if method != "notifications/cancelled" {
        return;
    }
    let Some(request_id) = params.and_then(|params| params.get("requestId")) else {
        note!("demo server: notifications/cancelled without a requestId; ignored");
        return;
    };
    let stopped_handlers = state.in_flight.cancel(request_id);
    let failed_client_request = state.client_requests.cancel(request_id);
    if stopped_handlers > 0 || failed_client_request {
        note!("demo server: request {request_id} cancelled by the client");
    }
}

fn initialize(state: &ServerState, params: &Value) -> Value {
    state.remember_client_capabilities(
        params
            .get("capabilities")
            .cloned()
            .unwrap_or_else(|| json!({})),
    );
    let requested = params.get("protocolVersion").and_then(Value::as_str);
    let version = negotiate_protocol_version(requested, state.forced_protocol_version.as_deref());
    json!({
        "protocolVersion": version,
        "capabilities": {
            "tools": { "listChanged": true },
            "resources": { "subscribe": true, "listChanged": true },
            "prompts": { "listChanged": true },
            "completions": {},
            "logging": {},
        },
        "serverInfo": server_info(),
        "instructions": INSTRUCTIONS,
    })
}

/// `{name, version}` of the demo server, as `initialize` and modern results report it.
pub fn server_info() -> Value {
    json!({ "name": "hyper-mcp-proxy-demo", "version": env!("CARGO_PKG_VERSION") })
}

/// The forced version if any, else the client's if supported, else the latest.
pub fn negotiate_protocol_version(requested: Option<&str>, forced: Option<&str>) -> String {
    if let Some(forced) = forced {
        return forced.to_owned();
    }
    match requested {
        Some(requested) if SUPPORTED_PROTOCOL_VERSIONS.contains(&requested) => requested.to_owned(),
        _ => LATEST_PROTOCOL_VERSION.to_owned(),
    }
}

fn set_log_level(state: &ServerState, params: &Value) -> Result<Value, RpcError> {
    let name = required_param_str(params, "level", "logging/setLevel")?;
    let level = LogLevel::parse(name).ok_or_else(|| {
        RpcError::invalid_params(format!(
            "Invalid log level: {name} (expected one of {})",
            LogLevel::spellings()
        ))
    })?;
    state.set_minimum_log_level(level);
    Ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_version_negotiation() {
        for version in SUPPORTED_PROTOCOL_VERSIONS {
            assert_eq!(negotiate_protocol_version(Some(version), None), version);
        }
        assert_eq!(
            negotiate_protocol_version(Some("1999-01-01"), None),
            "2025-11-25"
        );
        assert_eq!(negotiate_protocol_version(None, None), "2025-11-25");
        assert_eq!(
            negotiate_protocol_version(Some("2025-06-18"), Some("2024-11-05")),
            "2024-11-05"
        );
        assert_eq!(negotiate_protocol_version(None, Some("custom")), "custom");
    }

    #[test]
    fn progress_token_comes_from_params_meta() {
        let request = RequestContext {
            id: json!(1),
            method: "tools/call".into(),
            params: Some(json!({"name": "sleep", "_meta": {"progressToken": 7}})),
            received_index: 0,
            envelope: None,
        };
        assert_eq!(request.progress_token(), Some(&json!(7)));
        let request = RequestContext {
            params: None,
            ..request
        };
        assert_eq!(request.progress_token(), None);
        assert_eq!(request.params_or_null(), &Value::Null);
    }
}
