//! The modern leg over a legacy-only child (`--modern translate`): 2026-07-28 requests served
//! by a pool of pre-initialized children, results patched to the modern shape, and what
//! `--modern auto` answers instead. The demo server is pinned to the 2025 era by the proxy's
//! `initialize`, and `--child-era legacy` skips the probe, so it stands in for a legacy-only
//! server.

mod common;

use common::modern::{MODERN, modern_headers, modern_request, pooled};
use common::{Proxy, eventually_async, http_get, tool_text};
use serde_json::{Value, json};

const TRANSLATE: [&str; 6] = [
    "--modern",
    "translate",
    "--child-era",
    "legacy",
    "--metrics-addr",
    "127.0.0.1:0",
];

fn translating(extra: &[&str]) -> Proxy {
    let mut args = TRANSLATE.to_vec();
    args.extend_from_slice(extra);
    Proxy::start(&args, &[])
}

#[tokio::test]
async fn discover_is_built_from_a_warm_child() {
    let proxy = translating(&[]);
    let client = proxy.client();
    let answer = client.modern(1, "server/discover", json!({})).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let result = &answer.last()["result"];
    assert_eq!(answer.last()["id"], json!(1));
    assert_eq!(result["resultType"], json!("complete"));
    assert_eq!(result["supportedVersions"], json!([MODERN]));
    assert_eq!(result["ttlMs"], json!(0));
    assert_eq!(result["cacheScope"], json!("private"));
    assert_eq!(
        result["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        json!("hyper-mcp-proxy-demo")
    );
    assert!(result["capabilities"]["tools"].is_object(), "{result}");
    // The warm child is a translated pooled session, not a client session.
    let children = pooled(&proxy).await;
    assert_eq!(children.len(), 1, "{children:?}");
    assert_eq!(children[0]["kind"], json!("translated"));
    assert_eq!(children[0]["child_era"], json!("legacy"));
}

#[tokio::test]
async fn calls_are_translated_and_results_patched() {
    let proxy = translating(&[]);
    let client = proxy.client();
    let answer = client
        .modern(
            7,
            "tools/call",
            json!({"name": "echo", "arguments": {"message": "hi"}}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let last = answer.last();
    assert_eq!(last["id"], json!(7));
    assert_eq!(tool_text(last), "hi");
    assert_eq!(last["result"]["resultType"], json!("complete"));
    assert_eq!(
        last["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]["name"],
        json!("hyper-mcp-proxy-demo")
    );
    // The child saw the request without the envelope.
    let received = client.modern_call(8, "received", json!({})).await;
    let seen: Vec<Value> = serde_json::from_str(tool_text(&received)).unwrap();
    let echo = seen
        .iter()
        .find(|message| message["params"]["name"] == json!("echo"))
        .expect("the echo call reached the child");
    assert_eq!(echo["params"].get("_meta"), None, "{echo}");
    assert_eq!(echo["params"]["arguments"], json!({"message": "hi"}));

    let listed = client.modern(9, "tools/list", json!({})).await;
    assert_eq!(listed.status, 200);
    let result = &listed.last()["result"];
    assert_eq!(result["ttlMs"], json!(0));
    assert_eq!(result["cacheScope"], json!("private"));
    assert_eq!(result["resultType"], json!("complete"));
    assert!(!result["tools"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn errors_get_the_modern_codes_and_statuses() {
    let proxy = translating(&[]);
    let client = proxy.client();
    let missing = client
        .modern(1, "resources/read", json!({"uri": "demo://nowhere"}))
        .await;
    assert_eq!(missing.status, 400, "{}", missing.body);
    assert_eq!(missing.last()["error"]["code"], json!(-32602));
    assert_eq!(missing.last()["id"], json!(1));
    let unknown = client.modern(2, "demo/unknown", json!({})).await;
    assert_eq!(unknown.status, 404, "{}", unknown.body);
    assert_eq!(unknown.last()["error"]["code"], json!(-32601));
    // Other codes are answered 200, their code and data untouched.
    let failed = client
        .modern(3, "tools/call", json!({"name": "fail", "arguments": {"code": -32050, "message": "nope", "data": {"why": "x"}}}))
        .await;
    assert_eq!(failed.status, 200, "{}", failed.body);
    assert_eq!(failed.last()["id"], json!(3));
    assert_eq!(failed.last()["error"]["code"], json!(-32050));
    assert_eq!(failed.last()["error"]["data"], json!({"why": "x"}));
}

#[tokio::test]
async fn callers_with_the_same_id_get_their_own_answers() {
    let proxy = translating(&[]);
    let client = proxy.client();
    let calls = (0..8).map(|n| {
        let client = proxy.client();
        tokio::spawn(async move {
            let message = modern_request(
                json!(1),
                "tools/call",
                json!({"name": "echo", "arguments": {"message": format!("caller {n}")}}),
                json!({}),
            );
            let answer = client.post_modern(&message).await;
            (n, answer)
        })
    });
    for call in calls {
        let (n, answer) = call.await.unwrap();
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.last()["id"], json!(1));
        assert_eq!(tool_text(answer.last()), format!("caller {n}"));
    }
    drop(client);
}

#[tokio::test]
async fn progress_reaches_the_caller_under_its_own_token() {
    let proxy = translating(&[]);
    let client = proxy.client();
    let message = modern_request(
        json!(5),
        "tools/call",
        json!({"name": "sleep", "arguments": {"ms": 60, "steps": 3}, "_meta": {"progressToken": "mine"}}),
        json!({}),
    );
    let answer = client.post_modern(&message).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        answer.content_type().starts_with("text/event-stream"),
        "{}",
        answer.body
    );
    // A modern stream is not resumable: no event ids.
    assert!(
        !answer.body.contains("\nid:") && !answer.body.starts_with("id:"),
        "{}",
        answer.body
    );
    let progress: Vec<&Value> = answer
        .messages
        .iter()
        .filter(|m| m["method"] == json!("notifications/progress"))
        .collect();
    assert_eq!(progress.len(), 3, "{}", answer.body);
    assert!(
        progress
            .iter()
            .all(|m| m["params"]["progressToken"] == json!("mine"))
    );
    assert_eq!(answer.last()["id"], json!(5));
    assert_eq!(answer.last()["result"]["resultType"], json!("complete"));
}

#[tokio::test]
async fn capability_sets_and_principals_get_separate_children() {
    let proxy = translating(&["--modern-partition-header", "x-principal"]);
    let client = proxy.client();
    let mut sent = 0;
    for (capabilities, principal) in [
        (json!({}), "alice"),
        (json!({}), "alice"),
        (json!({"sampling": {}}), "alice"),
        (json!({}), "bob"),
    ] {
        sent += 1;
        let message = modern_request(
            json!(sent),
            "tools/call",
            json!({"name": "pid", "arguments": {}}),
            capabilities,
        );
        let mut headers = modern_headers(&message);
        headers.insert("x-principal", principal.parse().unwrap());
        let answer = client
            .post_raw(headers, serde_json::to_vec(&message).unwrap())
            .await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    // The warm child ({} without principal), alice {}, alice {sampling}, bob {}.
    eventually_async("exactly four pooled children are listed", || async {
        pooled(&proxy).await.len() == 4
    })
    .await;
    // Every call was answered: no start is pending that could add a fifth.
    assert_eq!(pooled(&proxy).await.len(), 4);
}

#[tokio::test]
async fn an_exhausted_pool_answers_503_with_retry_after() {
    let proxy = translating(&[
        "--modern-pool-max",
        "1",
        "--max-inflight",
        "1",
        "--modern-lease-wait",
        "200ms",
        "--shutdown-timeout",
        "1s",
    ]);
    let client = proxy.client();
    let slow = modern_request(
        json!(1),
        "tools/call",
        json!({"name": "sleep", "arguments": {"ms": 15000}}),
        json!({}),
    );
    let headers = modern_headers(&slow);
    let http = client.http.clone();
    let url = client.url.clone();
    let busy = tokio::spawn(async move {
        http.post(url)
            .headers(headers)
            .body(serde_json::to_vec(&slow).unwrap())
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    });
    // Wait until the slow call holds the only slot.
    eventually_async("the slow call is in flight", || async {
        let (_, _, body) = http_get(&proxy.metrics_addr().await, "/sessions").await;
        let listed: Value = serde_json::from_str(&body).unwrap();
        // "ready": while the child starts, the proxy's own initialize is the request in flight.
        listed["pooled"][0]["state"] == json!("ready")
            && listed["pooled"][0]["inflight_requests"] == json!(1)
    })
    .await;
    let refused = client
        .modern(
            2,
            "tools/call",
            json!({"name": "echo", "arguments": {"message": "x"}}),
        )
        .await;
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert_eq!(refused.headers.get("retry-after").unwrap(), "1");
    assert_eq!(refused.last()["id"], json!(2));
    // The slow call is not waited for: the proxy is stopped when the test ends.
    busy.abort();
}

#[tokio::test]
async fn auto_mode_refuses_a_legacy_child_so_clients_fall_back() {
    let proxy = Proxy::start(
        &["--child-era", "legacy", "--metrics-addr", "127.0.0.1:0"],
        &[],
    );
    let client = proxy.client();
    let answer = client.modern(1, "server/discover", json!({})).await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.last()["error"]["code"], json!(-32600));
    let message = answer.last()["error"]["message"].as_str().unwrap();
    assert!(message.contains("--modern translate"), "{message}");
    // No pooled child was started for it, and a 2025 session works as before.
    assert!(pooled(&proxy).await.is_empty());
    let session = common::session(&proxy).await;
    assert_eq!(
        tool_text(&session.call_tool(2, "echo", json!({"message": "ok"})).await),
        "ok"
    );
}
