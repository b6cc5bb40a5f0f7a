//! Serving one request on a modern-pinned (2026-07-28) process, once its envelope has passed
//! (`era.rs`): `server/discover`, the methods 2026-07-28 removed (`-32601`), `subscriptions/listen`
//! (`listens.rs`), and the shape every
//! modern result has: `resultType`, `_meta["io.modelcontextprotocol/serverInfo"]`, and for
//! cacheable results `ttlMs`/`cacheScope`. The handlers themselves are the legacy ones; only a
//! missing resource changes its code (`-32002` → `-32602`, which 2026-07-28 requires).

use serde_json::{Map, Value, json};

use super::dispatch::{self, INSTRUCTIONS};
use super::envelope::MODERN_PROTOCOL_VERSION;
use super::error::{INVALID_PARAMS, RESOURCE_NOT_FOUND, RpcError};
use super::listens;
use super::request::{Reply, RequestContext};
use super::state::ServerState;
use super::tools;

/// The `_meta` key under which every modern result names the server.
pub const SERVER_INFO_KEY: &str = "io.modelcontextprotocol/serverInfo";

/// Methods of the handshake era that 2026-07-28 removed; they answer `-32601`. (`initialize`
/// never gets here: `era.rs` answers it `-32022`.)
const REMOVED_METHODS: [&str; 5] = [
    "initialize",
    "ping",
    "logging/setLevel",
    "resources/subscribe",
    "resources/unsubscribe",
];

/// Methods whose results are `CacheableResult`s and so carry `ttlMs` and `cacheScope`.
const CACHEABLE_METHODS: [&str; 6] = [
    "server/discover",
    "tools/list",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
    "resources/read",
];

/// Answers one modern request.
pub async fn handle_request(
    state: &ServerState,
    request: &RequestContext,
) -> Result<Reply, RpcError> {
    let method = request.method.as_str();
    let outcome = match method {
        "server/discover" => Ok(Reply::Result(discover_result())),
        removed if REMOVED_METHODS.contains(&removed) => Err(RpcError::method_not_found(removed)),
        "tools/call" => tools::call(state, request).await,
        "subscriptions/listen" => return listens::listen(state, request).await,
        _ => dispatch::answer(state, request).map(Reply::Result),
    };
    match outcome {
        Ok(Reply::Result(result)) => Ok(Reply::Result(complete_result(method, result))),
        Ok(Reply::Written) => Ok(Reply::Written),
        Err(error) if method == "resources/read" && error.code == RESOURCE_NOT_FOUND => {
            Err(RpcError {
                code: INVALID_PARAMS,
                ..error
            })
        }
        Err(error) => Err(error),
    }
}

/// Gives a handler's result the modern shape, without overwriting anything it set:
/// `resultType: "complete"`, `ttlMs: 0` and `cacheScope: "private"` on cacheable complete
/// results (the demo's content is fixed, but a proxy in front of it may change what it
/// shows), and `_meta[serverInfo]` (unless `_meta` is not an object: then it is the handler's).
pub fn complete_result(method: &str, result: Value) -> Value {
    let Value::Object(mut result) = result else {
        return result;
    };
    let result_type = result
        .entry("resultType")
        .or_insert_with(|| json!("complete"))
        .clone();
    if result_type == "complete" && CACHEABLE_METHODS.contains(&method) {
        result.entry("ttlMs").or_insert_with(|| json!(0));
        result
            .entry("cacheScope")
            .or_insert_with(|| json!("private"));
    }
    if let Value::Object(meta) = result
        .entry("_meta")
        .or_insert_with(|| Value::Object(Map::new()))
    {
        meta.entry(SERVER_INFO_KEY)
            .or_insert_with(dispatch::server_info);
    }
    Value::Object(result)
}

/// The `server/discover` result before [`complete_result`] completes it: the one modern
/// version, what the demo offers at 2026-07-28, and its instructions.
fn discover_result() -> Value {
    json!({
        "supportedVersions": [MODERN_PROTOCOL_VERSION],
        "capabilities": capabilities(),
        "instructions": INSTRUCTIONS,
    })
}

/// The legacy capabilities: `listChanged` and resource `subscribe` are served by
/// `subscriptions/listen` streams, `logging` follows each request's `logLevel`.
fn capabilities() -> Value {
    json!({
        "tools": { "listChanged": true },
        "resources": { "subscribe": true, "listChanged": true },
        "prompts": { "listChanged": true },
        "completions": {},
        "logging": {},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server_info() -> Value {
        json!({ "name": "hyper-mcp-proxy-demo", "version": env!("CARGO_PKG_VERSION") })
    }

    #[test]
    fn discover_is_complete_cacheable_and_names_the_server() {
        assert_eq!(
            complete_result("server/discover", discover_result()),
            json!({
                "supportedVersions": ["2026-07-28"],
                "capabilities": {
                    "tools": { "listChanged": true },
                    "resources": { "subscribe": true, "listChanged": true },
                    "prompts": { "listChanged": true },
                    "completions": {},
                    "logging": {},
                },
                "instructions": INSTRUCTIONS,
                "resultType": "complete",
                "ttlMs": 0,
                "cacheScope": "private",
                "_meta": { SERVER_INFO_KEY: server_info() },
            })
        );
    }

    #[test]
    fn only_cacheable_complete_results_get_cache_fields() {
        assert_eq!(
            complete_result("tools/call", json!({ "content": [] })),
            json!({ "content": [], "resultType": "complete", "_meta": { SERVER_INFO_KEY: server_info() } })
        );
        let asked = json!({ "resultType": "input_required", "requestState": "s" });
        assert_eq!(
            complete_result("resources/read", asked),
            json!({ "resultType": "input_required", "requestState": "s",
                    "_meta": { SERVER_INFO_KEY: server_info() } })
        );
        assert_eq!(
            complete_result("resources/read", json!({ "contents": [] }))["ttlMs"],
            json!(0)
        );
    }

    #[test]
    fn what_the_handler_set_wins() {
        let own = json!({ "ttlMs": 5, "cacheScope": "public", "_meta": { SERVER_INFO_KEY: "mine", "k": 1 } });
        assert_eq!(
            complete_result("tools/list", own),
            json!({ "ttlMs": 5, "cacheScope": "public", "_meta": { SERVER_INFO_KEY: "mine", "k": 1 },
                    "resultType": "complete" })
        );
        assert_eq!(
            complete_result("demo/echo", json!({ "_meta": 3 })),
            json!({ "_meta": 3, "resultType": "complete" })
        );
        assert_eq!(
            complete_result("demo/echo", json!({ "_meta": { "progressToken": 1 } }))["_meta"],
            json!({ "progressToken": 1, SERVER_INFO_KEY: server_info() })
        );
        assert_eq!(complete_result("demo/echo", json!([1])), json!([1]));
    }
}
