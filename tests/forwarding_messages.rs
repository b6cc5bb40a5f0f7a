//! Transparency of the client's messages and the child's answers: every JSON-RPC message
//! crosses the proxy unchanged, except request ids, which the child sees as proxy ids and the
//! client gets back exactly as it sent them. Covers the handshake, id restoration, errors,
//! custom requests and notifications, and the demo server's catalog.

mod common;

use common::client::result_of;
use common::mcp::notification;
use common::{Proxy, session};
use serde_json::{Value, json};

#[tokio::test]
async fn initialize_passes_params_and_result_unchanged() {
    let proxy = Proxy::demo();
    let mut client = proxy.client();
    let result = client.initialize().await;
    assert_eq!(
        result,
        json!({
            "protocolVersion": "2025-06-18",
            "capabilities": {
                "tools": {"listChanged": true},
                "resources": {"subscribe": true, "listChanged": true},
                "prompts": {"listChanged": true},
                "completions": {},
                "logging": {}
            },
            "serverInfo": {"name": "hyper-mcp-proxy-demo", "version": env!("CARGO_PKG_VERSION")},
            "instructions": "Demo MCP server bundled with hyper-mcp-proxy for tests and benchmarks; \
                             call tools/list to see what it can do."
        })
    );
    let received = client.received(1).await;
    let initialize = &received[0];
    assert_eq!(initialize["method"], "initialize");
    assert_eq!(initialize["params"], common::init_params());
    assert_eq!(
        received[1],
        notification("notifications/initialized", None),
        "the initialized notification reaches the child unchanged"
    );
}

#[tokio::test]
async fn request_ids_are_restored_exactly() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let ids = [
        ("string", r#""abc""#),
        ("zero", "0"),
        ("negative", "-42"),
        ("beyond-u64", "123456789012345678901234567890"),
    ];
    for (tag, id) in ids {
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"demo/echo","params":{{"tag":"{tag}"}}}}"#
        );
        let answer = client.post_raw(client.headers(), body).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.content_type(), "application/json");
        assert_eq!(
            answer.body,
            format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{"tag":"{tag}"}}}}"#)
        );
    }

    let received = client.received(1).await;
    let mut seen = Vec::new();
    for (tag, client_id) in ids {
        let request = received
            .iter()
            .find(|message| message["method"] == "demo/echo" && message["params"]["tag"] == tag)
            .unwrap_or_else(|| panic!("the child never received the {tag} request"));
        let proxy_id = request["id"]
            .as_u64()
            .unwrap_or_else(|| panic!("the child saw a non-integer id: {request}"));
        let client_id: Value = serde_json::from_str(client_id).unwrap();
        assert_ne!(
            request["id"], client_id,
            "the child saw the client's id for {tag}"
        );
        seen.push(proxy_id);
    }
    let mut distinct = seen.clone();
    distinct.sort_unstable();
    distinct.dedup();
    assert_eq!(distinct.len(), seen.len(), "proxy ids are reused: {seen:?}");
}

#[tokio::test]
async fn errors_from_the_child_pass_unchanged() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let answer = client
        .call_tool(
            1,
            "fail",
            json!({"code": -32602, "message": "bad", "data": {"x": [1, 2]}}),
        )
        .await;
    assert_eq!(
        answer,
        json!({
            "jsonrpc": "2.0",
            "id": 1,
            "error": {"code": -32602, "message": "bad", "data": {"x": [1, 2]}}
        })
    );

    let answer = client.request(json!("u-1"), "nope/x", json!({})).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(
        answer.messages,
        vec![json!({
            "jsonrpc": "2.0",
            "id": "u-1",
            "error": {"code": -32601, "message": "Method not found: nope/x", "data": {"method": "nope/x"}}
        })]
    );
}

#[tokio::test]
async fn custom_request_and_notification_pass_through() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let params = json!({"a": 1, "nested": {"b": [true, null]}});
    let result = result_of(&client, 1, "demo/echo", params.clone()).await;
    assert_eq!(result, params);

    let custom = notification("notifications/demo/custom", Some(json!({"k": ["v", 2]})));
    let answer = client.post(&custom).await;
    assert_eq!(answer.status, 202);
    assert_eq!(answer.body, "");
    let received = client.received(2).await;
    assert_eq!(
        received
            .iter()
            .filter(|message| message["method"] == "notifications/demo/custom")
            .collect::<Vec<_>>(),
        vec![&custom]
    );
}

#[tokio::test]
async fn catalog_requests_return_the_demo_values() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let tools = result_of(&client, 1, "tools/list", json!({})).await;
    let names: Vec<&str> = tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "echo",
            "add",
            "sleep",
            "crash",
            "sample",
            "elicit",
            "roots",
            "ping_client",
            "notify",
            "log",
            "big",
            "fail",
            "garbage",
            "stderr",
            "pid",
            "received",
            "answer_and_exit",
            "invalid_utf8",
            "broken_answer",
            "tick"
        ]
    );
    assert_eq!(
        result_of(&client, 2, "resources/list", json!({})).await,
        json!({"resources": [{"uri": "demo://static/hello", "name": "hello", "mimeType": "text/plain"}]})
    );
    assert_eq!(
        result_of(&client, 3, "resources/templates/list", json!({})).await,
        json!({"resourceTemplates": [{"uriTemplate": "demo://items/{id}", "name": "item", "mimeType": "text/plain"}]})
    );
    assert_eq!(
        result_of(
            &client,
            4,
            "resources/read",
            json!({"uri": "demo://static/hello"})
        )
        .await,
        json!({"contents": [{"uri": "demo://static/hello", "mimeType": "text/plain", "text": "Hello from the demo server"}]})
    );
    assert_eq!(
        result_of(
            &client,
            5,
            "resources/read",
            json!({"uri": "demo://items/42"})
        )
        .await,
        json!({"contents": [{"uri": "demo://items/42", "mimeType": "text/plain", "text": "Item 42"}]})
    );
    assert_eq!(
        result_of(&client, 6, "prompts/list", json!({})).await,
        json!({
            "prompts": [{
                "name": "greet",
                "description": "Asks the model to greet someone",
                "arguments": [
                    {"name": "name", "description": "Who to greet", "required": true},
                    {"name": "style", "description": "How to greet, e.g. formal", "required": false}
                ]
            }]
        })
    );
    assert_eq!(
        result_of(
            &client,
            7,
            "prompts/get",
            json!({"name": "greet", "arguments": {"name": "Ann", "style": "pirate"}})
        )
        .await,
        json!({
            "description": "A friendly greeting",
            "messages": [{"role": "user", "content": {"type": "text", "text": "Say hello to Ann in a pirate way"}}]
        })
    );
    assert_eq!(
        result_of(
            &client,
            8,
            "completion/complete",
            json!({"ref": {"type": "ref/prompt", "name": "greet"}, "argument": {"name": "name", "value": "Al"}})
        )
        .await,
        json!({"completion": {"values": ["Alice", "Albert"], "total": 2, "hasMore": false}})
    );
    assert_eq!(
        result_of(
            &client,
            9,
            "completion/complete",
            json!({"ref": {"type": "ref/resource", "uri": "demo://items/{id}"}, "argument": {"name": "id", "value": ""}})
        )
        .await,
        json!({"completion": {"values": ["1", "2", "3"], "total": 3, "hasMore": false}})
    );
    let answer = client
        .request(json!(10), "resources/read", json!({"uri": "demo://nope"}))
        .await;
    assert_eq!(
        answer.last(),
        &json!({
            "jsonrpc": "2.0",
            "id": 10,
            "error": {"code": -32002, "message": "Resource not found", "data": {"uri": "demo://nope"}}
        })
    );
}
