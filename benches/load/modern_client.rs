//! The load's 2026-07-28 client: self-contained POSTs with the `_meta` envelope and the
//! routing headers, and the `InputRequiredResult` round trip (ask, then retry with the answer
//! and the echoed `requestState`).

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{ACCEPT, CONTENT_TYPE};
use hyper::{Method, Request};
use serde_json::{Value, json};

use crate::mcp_client::{Mcp, parse_body};

/// One modern request with `capabilities` declared; returns the final JSON-RPC message.
pub async fn post_modern(
    mcp: &Mcp,
    id: u64,
    tool: &str,
    arguments: &Value,
    extra: Option<(&Value, &Value)>,
    capabilities: &Value,
) -> Result<Value, String> {
    let mut params = json!({
        "name": tool,
        "arguments": arguments,
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": capabilities,
        },
    });
    if let Some((responses, state)) = extra {
        params["inputResponses"] = responses.clone();
        params["requestState"] = state.clone();
    }
    let body = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": params});
    let request = Request::builder()
        .method(Method::POST)
        .uri(mcp.url())
        .header(CONTENT_TYPE, "application/json")
        .header(ACCEPT, "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", tool)
        .body(Full::new(Bytes::from(body.to_string())))
        .map_err(|err| format!("request: {err}"))?;
    let response = tokio::time::timeout(std::time::Duration::from_secs(30), async {
        let response = mcp
            .http()
            .request(request)
            .await
            .map_err(|err| format!("POST failed: {err:?}"))?;
        let (parts, body) = response.into_parts();
        let bytes = body
            .collect()
            .await
            .map_err(|err| format!("reading the body failed: {err}"))?
            .to_bytes();
        Ok::<_, String>((parts, bytes))
    })
    .await
    .map_err(|_| "POST timed out".to_string())??;
    let (parts, bytes) = response;
    if parts.status.as_u16() != 200 {
        return Err(format!(
            "status {}: {}",
            parts.status,
            String::from_utf8_lossy(&bytes)
        ));
    }
    let is_sse = parts
        .headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("text/event-stream"));
    parse_body(is_sse, &bytes)?
        .pop()
        .ok_or_else(|| "empty answer".to_string())
}

/// One elicitation round trip on the demo's `elicit` tool: the call is answered with an
/// `InputRequiredResult`, the retry carries the answer, and the tool returns it.
pub async fn elicit_round_trip(mcp: &Mcp, id: u64) -> Result<(), String> {
    let capabilities = json!({"elicitation": {"form": {}}});
    let arguments = json!({"message": "name?"});
    let asked = post_modern(mcp, id, "elicit", &arguments, None, &capabilities).await?;
    let result = &asked["result"];
    if result["resultType"] != json!("input_required") {
        return Err(format!("expected input_required: {asked}"));
    }
    let key = result["inputRequests"]
        .as_object()
        .and_then(|requests| requests.keys().next().cloned())
        .ok_or_else(|| format!("no inputRequests: {asked}"))?;
    let responses = json!({ key: {"action": "accept", "content": {"name": "octocat"}} });
    let done = post_modern(
        mcp,
        id + 1,
        "elicit",
        &arguments,
        Some((&responses, &result["requestState"])),
        &capabilities,
    )
    .await?;
    let text = done["result"]["content"][0]["text"].as_str().unwrap_or("");
    if done["id"] != json!(id + 1) || !text.contains("octocat") {
        return Err(format!("unexpected final answer: {done}"));
    }
    Ok(())
}
