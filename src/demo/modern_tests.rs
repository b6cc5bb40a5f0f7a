//! In-process conversations with a demo server pinned to either era by its first request: the
//! modern (2026-07-28) behaviour, and the refusals of each era for the other's requests. The
//! `input_required` rounds are in `input_required_tests.rs`.

use serde_json::json;

use super::DemoOptions;
use super::dispatch::INSTRUCTIONS;
use super::test_client::{
    Client, enveloped, error_reply, error_with_data, modern_text_result, server_info_meta,
    text_result,
};
use super::tool_list;

#[tokio::test]
async fn discover_pins_the_process_modern_and_has_the_exact_shape() {
    let mut client = Client::start(DemoOptions::default());
    client
        .send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
        .await;
    client
        .modern_request(1, "server/discover", json!({}), json!({}))
        .await;
    assert_eq!(
        client.next().await,
        json!({"jsonrpc": "2.0", "id": 1, "result": {
            "supportedVersions": ["2026-07-28"],
            "capabilities": {"tools": {"listChanged": true}, "resources": {"subscribe": true, "listChanged": true},
                             "prompts": {"listChanged": true}, "completions": {}, "logging": {}},
            "instructions": INSTRUCTIONS,
            "resultType": "complete",
            "ttlMs": 0,
            "cacheScope": "private",
            "_meta": server_info_meta(),
        }})
    );
    client.request(2, "tools/list", json!({})).await;
    assert_eq!(
        client.next().await,
        error_reply(
            json!(2),
            -32602,
            "params._meta must be an object carrying the required \
             'io.modelcontextprotocol/protocolVersion' and \
             'io.modelcontextprotocol/clientCapabilities' envelope keys"
        )
    );
    client.finish().await;
}

#[tokio::test]
async fn an_enveloped_tools_list_is_complete_cacheable_and_names_the_server() {
    let mut client = Client::start(DemoOptions::default());
    client
        .modern_request(1, "tools/list", json!({}), json!({}))
        .await;
    let mut expected = tool_list::list_result();
    expected["resultType"] = json!("complete");
    expected["ttlMs"] = json!(0);
    expected["cacheScope"] = json!("private");
    expected["_meta"] = server_info_meta();
    assert_eq!(
        client.next().await,
        json!({"jsonrpc": "2.0", "id": 1, "result": expected})
    );
    client
        .modern_request(2, "demo/echo", json!({"x": 1}), json!({}))
        .await;
    let echoed = client.next().await;
    assert_eq!(echoed["result"]["x"], json!(1));
    assert_eq!(echoed["result"]["resultType"], json!("complete"));
    assert_eq!(
        echoed["result"].get("ttlMs"),
        None,
        "demo/echo is not cacheable"
    );
    client.finish().await;
}

#[tokio::test]
async fn initialize_on_a_modern_process_is_an_unsupported_version() {
    let mut client = Client::start(DemoOptions::default());
    client
        .modern_request(1, "tools/list", json!({}), json!({}))
        .await;
    client.next().await;
    client
        .request(
            2,
            "initialize",
            json!({"protocolVersion": "2025-11-25", "capabilities": {}}),
        )
        .await;
    assert_eq!(
        client.next().await,
        error_with_data(
            2,
            -32022,
            "connection is serving the 2026-07-28 protocol; the initialize handshake is not accepted",
            json!({"supported": ["2026-07-28"], "requested": "2025-11-25"})
        )
    );
    client.finish().await;
}

#[tokio::test]
async fn a_legacy_process_refuses_enveloped_requests() {
    const REFUSAL: &str = "this connection serves the handshake protocol era; \
                           requests carrying the 2026-07-28 envelope are not accepted on it";
    let mut client = Client::start(DemoOptions::default());
    let initialize = json!({"protocolVersion": "2025-11-25", "capabilities": {}});
    client
        .request(1, "initialize", enveloped(initialize, json!({})))
        .await;
    assert_eq!(
        client.next().await["result"]["protocolVersion"],
        "2025-11-25"
    );
    client
        .modern_request(2, "server/discover", json!({}), json!({}))
        .await;
    assert_eq!(client.next().await, error_reply(json!(2), -32600, REFUSAL));
    client
        .call_tool(3, "echo", json!({"message": "still legacy"}))
        .await;
    assert_eq!(client.next().await, text_result(3, "still legacy"));
    client.finish().await;

    let mut handshake_less = Client::start(DemoOptions::default());
    handshake_less.request(1, "tools/list", json!({})).await;
    assert_eq!(
        handshake_less.next().await,
        json!({"jsonrpc": "2.0", "id": 1, "result": tool_list::list_result()})
    );
    handshake_less
        .modern_request(2, "tools/list", json!({}), json!({}))
        .await;
    assert_eq!(
        handshake_less.next().await,
        error_reply(json!(2), -32600, REFUSAL)
    );
    handshake_less.finish().await;
}

#[tokio::test]
async fn the_envelope_ladder_and_removed_methods() {
    let mut client = Client::start(DemoOptions::default());
    let future_version = json!({"_meta": {
        "io.modelcontextprotocol/protocolVersion": "2099-01-01",
        "io.modelcontextprotocol/clientCapabilities": {},
    }});
    client.request(1, "tools/list", future_version).await;
    assert_eq!(
        client.next().await,
        error_with_data(
            1,
            -32022,
            "Unsupported protocol version",
            json!({"supported": ["2026-07-28"], "requested": "2099-01-01"})
        )
    );
    let no_capabilities =
        json!({"_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}});
    client.request(2, "tools/list", no_capabilities).await;
    assert_eq!(
        client.next().await,
        error_reply(
            json!(2),
            -32602,
            "params._meta is missing the required envelope key(s): \
             io.modelcontextprotocol/clientCapabilities"
        )
    );
    let removed = [
        ("ping", json!({})),
        ("logging/setLevel", json!({"level": "debug"})),
        ("resources/subscribe", json!({"uri": "demo://static/hello"})),
        (
            "resources/unsubscribe",
            json!({"uri": "demo://static/hello"}),
        ),
    ];
    for (id, (method, params)) in (3..).zip(removed) {
        client.modern_request(id, method, params, json!({})).await;
        assert_eq!(
            client.next().await,
            error_with_data(
                id,
                -32601,
                &format!("Method not found: {method}"),
                json!({"method": method})
            )
        );
    }
    client.finish().await;
}

#[tokio::test]
async fn resources_are_cacheable_and_a_missing_one_is_invalid_params() {
    let mut client = Client::start(DemoOptions::default());
    client
        .modern_request(
            1,
            "resources/read",
            json!({"uri": "demo://static/hello"}),
            json!({}),
        )
        .await;
    assert_eq!(
        client.next().await,
        json!({"jsonrpc": "2.0", "id": 1, "result": {
            "contents": [{"uri": "demo://static/hello", "mimeType": "text/plain",
                          "text": "Hello from the demo server"}],
            "resultType": "complete", "ttlMs": 0, "cacheScope": "private", "_meta": server_info_meta(),
        }})
    );
    client
        .modern_request(
            2,
            "resources/read",
            json!({"uri": "demo://nope"}),
            json!({}),
        )
        .await;
    assert_eq!(
        client.next().await,
        error_with_data(
            2,
            -32602,
            "Resource not found",
            json!({"uri": "demo://nope"})
        )
    );
    client.finish().await;
}

#[tokio::test]
async fn progress_and_the_logs_each_request_asks_for() {
    let mut client = Client::start(DemoOptions::default());
    let sleep = json!({"name": "sleep", "arguments": {"ms": 2, "steps": 2},
                       "_meta": {"progressToken": "tok"}});
    client
        .modern_request(1, "tools/call", sleep, json!({}))
        .await;
    for step in 1..=2 {
        assert_eq!(
            client.next().await,
            json!({"jsonrpc": "2.0", "method": "notifications/progress", "params": {
                "progressToken": "tok", "progress": step, "total": 2,
                "message": format!("step {step} of 2")}})
        );
    }
    assert_eq!(client.next().await, modern_text_result(1, "slept 2 ms"));

    let log = |level: &str, message: &str, log_level: Option<&str>| {
        let mut params = json!({"name": "log", "arguments": {"level": level, "message": message}});
        if let Some(log_level) = log_level {
            params["_meta"] = json!({"io.modelcontextprotocol/logLevel": log_level});
        }
        params
    };
    client
        .modern_request(2, "tools/call", log("error", "unasked", None), json!({}))
        .await;
    assert_eq!(client.next().await, modern_text_result(2, "logged"));
    client
        .modern_request(
            3,
            "tools/call",
            log("info", "too low", Some("warning")),
            json!({}),
        )
        .await;
    assert_eq!(client.next().await, modern_text_result(3, "logged"));
    client
        .modern_request(
            4,
            "tools/call",
            log("error", "kept", Some("warning")),
            json!({}),
        )
        .await;
    assert_eq!(
        client.next().await,
        json!({"jsonrpc": "2.0", "method": "notifications/message",
               "params": {"level": "error", "logger": "demo", "data": "kept"}})
    );
    assert_eq!(client.next().await, modern_text_result(4, "logged"));
    client.finish().await;
}

#[tokio::test]
async fn tools_that_need_the_old_era_say_so_and_notify_stays_request_scoped() {
    let mut client = Client::start(DemoOptions::default());
    for (id, tool, arguments) in [(1, "ping_client", json!({})), (2, "tick", json!({"ms": 5}))] {
        client
            .modern_request(
                id,
                "tools/call",
                json!({"name": tool, "arguments": arguments}),
                json!({}),
            )
            .await;
        let text = format!(
            "tool `{tool}` needs what a 2026-07-28 server must not do \
             (a request to the client, or notifications after its request ended)"
        );
        let mut expected = modern_text_result(id, &text);
        expected["result"]["isError"] = json!(true);
        assert_eq!(client.next().await, expected);
    }
    client
        .modern_request(3, "tools/call", json!({"name": "notify"}), json!({}))
        .await;
    assert_eq!(
        client.next().await,
        json!({"jsonrpc": "2.0", "method": "notifications/demo/custom", "params": {"hello": "world"}})
    );
    assert_eq!(client.next().await, modern_text_result(3, "notified"));
    client.finish().await;
}

#[tokio::test]
async fn listens_are_acknowledged_fed_by_notify_and_ended_by_cancellation() {
    let mut client = Client::start(DemoOptions::default());
    client
        .modern_request(
            1,
            "subscriptions/listen",
            json!({"notifications": {"toolsListChanged": true, "promptsListChanged": false,
                                     "resourceSubscriptions": ["demo://static/hello", 3]}}),
            json!({}),
        )
        .await;
    assert_eq!(
        client.next().await,
        json!({"jsonrpc": "2.0", "method": "notifications/subscriptions/acknowledged", "params": {
            "notifications": {"toolsListChanged": true, "resourceSubscriptions": ["demo://static/hello"]},
            "_meta": {"io.modelcontextprotocol/subscriptionId": 1},
        }})
    );
    client
        .modern_request(
            2,
            "subscriptions/listen",
            json!({"notifications": {"promptsListChanged": true}}),
            json!({}),
        )
        .await;
    assert_eq!(
        client.next().await["params"]["notifications"],
        json!({"promptsListChanged": true})
    );
    client
        .modern_request(3, "tools/call", json!({"name": "notify"}), json!({}))
        .await;
    let tagged = |id: i64| json!({"io.modelcontextprotocol/subscriptionId": id});
    assert_eq!(
        client.next().await,
        json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed", "params": {"_meta": tagged(1)}})
    );
    assert_eq!(
        client.next().await,
        json!({"jsonrpc": "2.0", "method": "notifications/resources/updated",
               "params": {"uri": "demo://static/hello", "_meta": tagged(1)}})
    );
    assert_eq!(
        client.next().await,
        json!({"jsonrpc": "2.0", "method": "notifications/prompts/list_changed", "params": {"_meta": tagged(2)}})
    );
    assert_eq!(
        client.next().await["method"],
        json!("notifications/demo/custom")
    );
    assert_eq!(client.next().await, modern_text_result(3, "notified"));
    // A cancelled listen is never answered and gets nothing more.
    client
        .send(json!({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}))
        .await;
    client
        .modern_request(4, "tools/call", json!({"name": "notify"}), json!({}))
        .await;
    assert_eq!(
        client.next().await,
        json!({"jsonrpc": "2.0", "method": "notifications/prompts/list_changed", "params": {"_meta": tagged(2)}})
    );
    assert_eq!(
        client.next().await["method"],
        json!("notifications/demo/custom")
    );
    assert_eq!(client.next().await, modern_text_result(4, "notified"));
    assert_eq!(client.finish().await, Vec::<String>::new());
}
