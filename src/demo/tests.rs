//! In-process conversations with the whole demo server: each test plays the
//! client through [`Client`] and checks the exact lines the server writes.

use serde_json::{Value, json};

use super::DemoOptions;
use super::test_client::{Client, error_reply, text_result};

#[tokio::test]
async fn initialize_answers_the_requested_or_latest_version() {
    let mut client = Client::start(DemoOptions::default());
    client
        .request(
            1,
            "initialize",
            json!({"protocolVersion": "2025-03-26", "capabilities": {"sampling": {}}}),
        )
        .await;
    let reply = client.next().await;
    assert_eq!(reply["id"], json!(1));
    assert_eq!(reply["result"]["protocolVersion"], "2025-03-26");
    assert_eq!(
        reply["result"]["capabilities"],
        json!({"tools":{"listChanged":true},"resources":{"subscribe":true,"listChanged":true},
               "prompts":{"listChanged":true},"completions":{},"logging":{}})
    );
    assert_eq!(
        reply["result"]["serverInfo"]["name"],
        "hyper-mcp-proxy-demo"
    );
    assert_eq!(
        reply["result"]["serverInfo"]["version"],
        env!("CARGO_PKG_VERSION")
    );
    assert!(
        reply["result"]["instructions"]
            .as_str()
            .is_some_and(|i| !i.contains('\n'))
    );
    client
        .request(2, "initialize", json!({"protocolVersion": "1.0"}))
        .await;
    assert_eq!(
        client.next().await["result"]["protocolVersion"],
        "2025-11-25"
    );
    client.finish().await;

    let mut forced = Client::start(DemoOptions {
        protocol_version: Some("2024-11-05".into()),
        ..DemoOptions::default()
    });
    forced
        .request(1, "initialize", json!({"protocolVersion": "2025-06-18"}))
        .await;
    assert_eq!(
        forced.next().await["result"]["protocolVersion"],
        "2024-11-05"
    );
    forced.finish().await;
}

#[tokio::test]
async fn simple_tools_and_custom_methods_answer_exactly() {
    let mut client = Client::start(DemoOptions::default());
    client
        .call_tool(1, "echo", json!({"message": "héllo\nworld"}))
        .await;
    assert_eq!(client.next().await, text_result(1, "héllo\nworld"));
    client.call_tool(2, "add", json!({"a": 2, "b": 3})).await;
    assert_eq!(client.next().await, text_result(2, "5"));
    client
        .send_line(
            r#"{"jsonrpc":"2.0","id":3,"method":"demo/echo","params":{"x":[1.50,{"y":null}]}}"#,
        )
        .await;
    assert_eq!(
        client.next_line().await,
        r#"{"jsonrpc":"2.0","id":3,"result":{"x":[1.50,{"y":null}]}}"#
    );
    client
        .send(json!({"jsonrpc": "2.0", "id": "s", "method": "demo/echo"}))
        .await;
    assert_eq!(
        client.next().await,
        json!({"jsonrpc": "2.0", "id": "s", "result": {}})
    );
    client.request(4, "ping", json!({})).await;
    assert_eq!(
        client.next().await,
        json!({"jsonrpc": "2.0", "id": 4, "result": {}})
    );
    client.call_tool(5, "big", json!({"bytes": 10})).await;
    assert_eq!(client.next().await, text_result(5, "xxxxxxxxxx"));
    client.call_tool(6, "pid", json!({})).await;
    assert_eq!(
        client.next().await,
        text_result(6, &std::process::id().to_string())
    );
    client.finish().await;
}

#[tokio::test]
async fn errors_have_exact_codes_messages_and_data() {
    let mut client = Client::start(DemoOptions::default());
    client.send_line("this is not json").await;
    let reply = client.next().await;
    assert_eq!(reply["id"], Value::Null);
    assert_eq!(reply["error"]["code"], json!(-32700));
    client.send_line(r#"{"jsonrpc":"2.0","id":9}"#).await;
    let reply = client.next().await;
    assert_eq!(reply["id"], json!(9));
    assert_eq!(reply["error"]["code"], json!(-32600));
    client.request(1, "no/such", json!({})).await;
    assert_eq!(
        client.next().await,
        json!({"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found: no/such","data":{"method":"no/such"}}})
    );
    client.call_tool(2, "nope", json!({})).await;
    assert_eq!(
        client.next().await,
        error_reply(json!(2), -32602, "Unknown tool: nope")
    );
    client.call_tool(3, "echo", json!({})).await;
    assert_eq!(
        client.next().await,
        error_reply(
            json!(3),
            -32602,
            "Invalid arguments for tool `echo`: missing required argument `message`"
        )
    );
    client
        .call_tool(
            4,
            "fail",
            json!({"code": -32099, "message": "custom", "data": {"k": 1}}),
        )
        .await;
    assert_eq!(
        client.next().await,
        json!({"jsonrpc":"2.0","id":4,"error":{"code":-32099,"message":"custom","data":{"k":1}}})
    );
    client.call_tool(5, "garbage", json!({})).await;
    assert_eq!(client.next_line().await, "this is not json");
    assert_eq!(client.next().await, text_result(5, "garbage sent"));
    client
        .request(6, "resources/read", json!({"uri": "demo://nope"}))
        .await;
    assert_eq!(
        client.next().await,
        json!({"jsonrpc":"2.0","id":6,"error":{"code":-32002,"message":"Resource not found","data":{"uri":"demo://nope"}}})
    );
    client.finish().await;
}

#[tokio::test]
async fn sleep_reports_progress_and_stays_silent_when_cancelled() {
    let mut client = Client::start(DemoOptions::default());
    client
        .request(
            1,
            "tools/call",
            json!({"name": "sleep", "arguments": {"ms": 30, "steps": 3},
                                         "_meta": {"progressToken": "tok-1"}}),
        )
        .await;
    for step in 1..=3 {
        assert_eq!(
            client.next().await,
            json!({"jsonrpc":"2.0","method":"notifications/progress","params":{
                "progressToken":"tok-1","progress":step,"total":3,"message":format!("step {step} of 3")}})
        );
    }
    assert_eq!(client.next().await, text_result(1, "slept 30 ms"));

    client.call_tool(2, "sleep", json!({"ms": 60_000})).await;
    client
        .call_tool(3, "echo", json!({"message": "not blocked"}))
        .await;
    assert_eq!(client.next().await, text_result(3, "not blocked"));
    client
        .send(json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":2}}))
        .await;
    client.request(4, "ping", json!({})).await;
    assert_eq!(
        client.next().await["id"],
        json!(4),
        "nothing for the cancelled request"
    );
    assert!(client.finish().await.is_empty());
}

#[tokio::test]
async fn server_to_client_requests_round_trip() {
    let mut client = Client::start(DemoOptions::default());
    client.call_tool(1, "sample", json!({"prompt": "hi"})).await;
    assert_eq!(
        client.next().await,
        json!({"jsonrpc":"2.0","method":"sampling/createMessage","id":"demo-1","params":{
            "messages":[{"role":"user","content":{"type":"text","text":"hi"}}],"maxTokens":100}})
    );
    client
        .send(json!({"jsonrpc":"2.0","id":"demo-1","result":{"role":"assistant","content":{"type":"text","text":"yo"}}}))
        .await;
    assert_eq!(
        client.next().await,
        text_result(
            1,
            r#"{"role":"assistant","content":{"type":"text","text":"yo"}}"#
        )
    );

    client.call_tool(2, "roots", json!({})).await;
    assert_eq!(client.next().await["id"], json!("demo-2"));
    client
        .send(json!({"jsonrpc":"2.0","id":"demo-2","error":{"code":-1,"message":"no roots","data":[1]}}))
        .await;
    assert_eq!(
        client.next().await,
        json!({"jsonrpc":"2.0","id":2,"error":{"code":-1,"message":"no roots","data":[1]}})
    );

    client.call_tool(3, "ping_client", json!({})).await;
    assert_eq!(
        client.next().await,
        json!({"jsonrpc":"2.0","method":"ping","id":"demo-3"})
    );
    client
        .send(json!({"jsonrpc":"2.0","id":"demo-99","result":{}}))
        .await;
    client
        .send(json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"demo-3"}}))
        .await;
    assert_eq!(
        client.next().await,
        error_reply(json!(3), -32800, "request cancelled")
    );
    client.finish().await;
}

#[tokio::test]
async fn notify_sends_everything_in_order_and_log_level_filters() {
    let mut client = Client::start(DemoOptions::default());
    client
        .request(1, "resources/subscribe", json!({"uri": "demo://items/7"}))
        .await;
    assert_eq!(client.next().await["result"], json!({}));
    client.call_tool(2, "notify", json!({})).await;
    let methods: Vec<Value> = [
        "notifications/tools/list_changed",
        "notifications/resources/list_changed",
        "notifications/prompts/list_changed",
    ]
    .map(|method| json!({"jsonrpc": "2.0", "method": method}))
    .to_vec();
    for expected in methods {
        assert_eq!(client.next().await, expected);
    }
    assert_eq!(
        client.next().await,
        json!({"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"demo://items/7"}})
    );
    assert_eq!(
        client.next().await,
        json!({"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","logger":"demo","data":"notify called"}})
    );
    assert_eq!(
        client.next().await,
        json!({"jsonrpc":"2.0","method":"notifications/demo/custom","params":{"hello":"world"}})
    );
    assert_eq!(client.next().await, text_result(2, "notified"));

    client
        .call_tool(3, "log", json!({"level": "debug", "message": "d"}))
        .await;
    assert_eq!(
        client.next().await["params"]["data"],
        "d",
        "debug passes by default"
    );
    assert_eq!(client.next().await, text_result(3, "logged"));
    client
        .request(4, "logging/setLevel", json!({"level": "warning"}))
        .await;
    assert_eq!(client.next().await["result"], json!({}));
    client
        .call_tool(5, "log", json!({"level": "info", "message": "dropped"}))
        .await;
    assert_eq!(client.next().await, text_result(5, "logged"));
    client
        .call_tool(6, "log", json!({"level": "error", "message": "kept"}))
        .await;
    assert_eq!(client.next().await["params"]["level"], "error");
    assert_eq!(client.next().await, text_result(6, "logged"));
    client.finish().await;
}

#[tokio::test]
async fn received_lists_everything_but_itself() {
    let mut client = Client::start(DemoOptions::default());
    client.send_line("not json is not recorded").await;
    client.next().await;
    client
        .send_line(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        .await;
    client
        .send_line(r#"  {"jsonrpc":"2.0","id":1,"method":"ping","params":{"n":1.0}}  "#)
        .await;
    client.next().await;
    client.call_tool(2, "received", json!({})).await;
    let reply = client.next().await;
    let text = reply["result"]["content"][0]["text"]
        .as_str()
        .expect("text");
    assert_eq!(
        text,
        r#"[{"jsonrpc":"2.0","method":"notifications/initialized"},{"jsonrpc":"2.0","id":1,"method":"ping","params":{"n":1.0}}]"#
    );
    client.finish().await;
}

#[tokio::test]
async fn no_record_keeps_nothing_and_still_echoes() {
    let mut client = Client::start(DemoOptions {
        no_record: true,
        ..DemoOptions::default()
    });
    client
        .send_line(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#)
        .await;
    client
        .call_tool(1, "echo", json!({"message": "hello"}))
        .await;
    assert_eq!(client.next().await, text_result(1, "hello"));
    client.call_tool(2, "received", json!({})).await;
    assert_eq!(client.next().await, text_result(2, "[]"));
    client.finish().await;
}

#[test]
fn no_record_is_a_command_line_flag() {
    use clap::Parser;
    let options = DemoOptions::parse_from(["demo-server", "--no-record"]);
    assert!(options.no_record);
    assert!(!DemoOptions::parse_from(["demo-server"]).no_record);
}

#[tokio::test]
async fn eof_answers_ready_requests_and_cancels_slow_ones() {
    let mut client = Client::start(DemoOptions::default());
    client.call_tool(1, "sleep", json!({"ms": 60_000})).await;
    client
        .call_tool(2, "echo", json!({"message": "last"}))
        .await;
    let rest = client.finish().await;
    assert_eq!(rest, vec![text_result(2, "last").to_string()]);

    let mut lingering = Client::start(DemoOptions {
        linger_after_eof_ms: 100,
        ..DemoOptions::default()
    });
    lingering
        .call_tool(1, "sleep", json!({"ms": 10, "steps": 1}))
        .await;
    let rest = lingering.finish().await;
    assert_eq!(rest, vec![text_result(1, "slept 10 ms").to_string()]);
}

#[tokio::test]
async fn broken_answer_writes_a_cut_off_line_and_tick_keeps_logging() {
    let mut client = Client::start(DemoOptions::default());
    client.call_tool(7, "broken_answer", json!({})).await;
    assert_eq!(
        client.next_line().await,
        r#"{"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":"cut off"#
    );
    client.call_tool(8, "tick", json!({"ms": 10})).await;
    assert_eq!(client.next().await, text_result(8, "ticking every 10 ms"));
    for count in 1..=3 {
        assert_eq!(
            client.next().await,
            json!({"jsonrpc":"2.0","method":"notifications/message",
                   "params":{"level":"info","logger":"demo","data":format!("tick {count}")}})
        );
    }
    client.finish().await;
}
