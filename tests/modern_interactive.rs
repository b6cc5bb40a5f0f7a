//! Interactive calls on the modern leg: a legacy child's elicitation, sampling and roots
//! requests become `InputRequiredResult` round trips (translated, the call parked on a child it
//! holds alone), a passthrough child's own `requestState` is sealed so the retry returns to
//! it, and a `requestState` that was tampered with, replayed, re-bound or expired is refused
//! with 400 `-32602`.

mod common;

use common::modern::modern_request;
use common::{Client, Proxy, tool_text};
use serde_json::{Value, json};

const TRANSLATE: [&str; 4] = ["--modern", "translate", "--child-era", "legacy"];

fn translating(extra: &[&str]) -> Proxy {
    let mut args = TRANSLATE.to_vec();
    args.extend_from_slice(extra);
    Proxy::start(&args, &[])
}

fn capabilities() -> Value {
    json!({"elicitation": {"form": {}}, "sampling": {}, "roots": {}})
}

/// Calls `tool` declaring every interactive capability; returns the answer's last message.
async fn ask(client: &Client, id: i64, tool: &str, arguments: Value) -> Value {
    let message = modern_request(
        json!(id),
        "tools/call",
        json!({"name": tool, "arguments": arguments}),
        capabilities(),
    );
    let answer = client.post_modern(&message).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.last().clone()
}

/// Retries `tool` with `responses` and `state`; returns the whole answer.
async fn retry(
    client: &Client,
    id: i64,
    tool: &str,
    arguments: Value,
    responses: Value,
    state: &Value,
) -> common::Answer {
    let message = modern_request(
        json!(id),
        "tools/call",
        json!({"name": tool, "arguments": arguments, "inputResponses": responses, "requestState": state}),
        capabilities(),
    );
    client.post_modern(&message).await
}

/// The single question of an `InputRequiredResult`: its key and request.
fn only_question(answer: &Value) -> (String, Value) {
    let result = &answer["result"];
    assert_eq!(result["resultType"], json!("input_required"), "{answer}");
    let requests = result["inputRequests"].as_object().expect("inputRequests");
    assert_eq!(requests.len(), 1, "{answer}");
    let (key, request) = requests.iter().next().unwrap();
    (key.clone(), request.clone())
}

#[tokio::test]
async fn elicitation_sampling_and_roots_round_trip_through_input_required() {
    let proxy = translating(&[]);
    let client = proxy.client();

    let asked = ask(&client, 1, "elicit", json!({"message": "name?"})).await;
    assert_eq!(asked["id"], json!(1));
    let (key, request) = only_question(&asked);
    assert!(key.starts_with("elicitation/create#"), "{key}");
    assert_eq!(request["method"], json!("elicitation/create"));
    assert_eq!(request["params"]["message"], json!("name?"));
    let state = asked["result"]["requestState"].clone();
    assert!(state.is_string());
    let done = retry(
        &client,
        2,
        "elicit",
        json!({"message": "name?"}),
        json!({ key: {"action": "accept", "content": {"name": "octocat"}} }),
        &state,
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.body);
    let last = done.last();
    assert_eq!(last["id"], json!(2));
    assert_eq!(last["result"]["resultType"], json!("complete"));
    let echoed: Value = serde_json::from_str(tool_text(last)).unwrap();
    assert_eq!(
        echoed,
        json!({"action": "accept", "content": {"name": "octocat"}})
    );

    let asked = ask(&client, 3, "sample", json!({"prompt": "2+2?"})).await;
    let (key, request) = only_question(&asked);
    assert_eq!(request["method"], json!("sampling/createMessage"));
    let answer =
        json!({"role": "assistant", "content": {"type": "text", "text": "4"}, "model": "fake"});
    let done = retry(
        &client,
        4,
        "sample",
        json!({"prompt": "2+2?"}),
        json!({ key: answer }),
        &asked["result"]["requestState"],
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.body);
    let echoed: Value = serde_json::from_str(tool_text(done.last())).unwrap();
    assert_eq!(echoed, answer);

    let asked = ask(&client, 5, "roots", json!({})).await;
    let (key, request) = only_question(&asked);
    assert_eq!(request["method"], json!("roots/list"));
    let roots = json!({"roots": [{"uri": "file:///projects/demo", "name": "demo"}]});
    let done = retry(
        &client,
        6,
        "roots",
        json!({}),
        json!({ key: roots }),
        &asked["result"]["requestState"],
    )
    .await;
    assert_eq!(done.status, 200, "{}", done.body);
    let echoed: Value = serde_json::from_str(tool_text(done.last())).unwrap();
    assert_eq!(echoed, roots);
}

#[tokio::test]
async fn a_retry_missing_an_answer_is_asked_again() {
    let proxy = translating(&[]);
    let client = proxy.client();
    let asked = ask(&client, 1, "elicit", json!({"message": "name?"})).await;
    let (key, _) = only_question(&asked);
    let again = retry(
        &client,
        2,
        "elicit",
        json!({"message": "name?"}),
        json!({}),
        &asked["result"]["requestState"],
    )
    .await;
    assert_eq!(again.status, 200, "{}", again.body);
    let (same_key, _) = only_question(again.last());
    assert_eq!(same_key, key);
    assert_eq!(again.last()["id"], json!(2));
    assert_ne!(
        again.last()["result"]["requestState"],
        asked["result"]["requestState"]
    );
}

#[tokio::test]
async fn tampered_replayed_rebound_and_expired_states_are_refused() {
    let proxy = translating(&[]);
    let client = proxy.client();
    let refused = |answer: &common::Answer, reason: &str| {
        assert_eq!(answer.status, 400, "{}", answer.body);
        assert_eq!(
            answer.last()["error"]["code"],
            json!(-32602),
            "{}",
            answer.body
        );
        assert_eq!(
            answer.last()["error"]["data"]["reason"],
            json!(reason),
            "{}",
            answer.body
        );
    };
    let arguments = json!({"message": "name?"});
    let asked = ask(&client, 1, "elicit", arguments.clone()).await;
    let (key, _) = only_question(&asked);
    let state = asked["result"]["requestState"].as_str().unwrap().to_owned();
    let accept = json!({ key.clone(): {"action": "decline"} });

    // One character changed.
    let mut tampered: Vec<char> = state.chars().collect();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == 'A' { 'B' } else { 'A' };
    let tampered: String = tampered.into_iter().collect();
    let answer = retry(
        &client,
        2,
        "elicit",
        arguments.clone(),
        accept.clone(),
        &json!(tampered),
    )
    .await;
    refused(&answer, "tampered");

    // Bound to the elicit call and its arguments.
    let answer = retry(
        &client,
        3,
        "elicit",
        json!({"message": "other"}),
        accept.clone(),
        &json!(state),
    )
    .await;
    refused(&answer, "bound to another request");

    // The good retry works once; replaying it is refused.
    let answer = retry(
        &client,
        4,
        "elicit",
        arguments.clone(),
        accept.clone(),
        &json!(state),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.last()["result"]["resultType"], json!("complete"));
    let answer = retry(
        &client,
        5,
        "elicit",
        arguments.clone(),
        accept.clone(),
        &json!(state),
    )
    .await;
    refused(&answer, "used or expired");
}

#[tokio::test]
async fn an_expired_state_is_refused() {
    let proxy = translating(&["--modern-input-ttl", "300ms"]);
    let client = proxy.client();
    let arguments = json!({"message": "name?"});
    let asked = ask(&client, 1, "elicit", arguments.clone()).await;
    let (key, _) = only_question(&asked);
    // The deadline is the condition itself: nothing to await but its passing.
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
    let answer = retry(
        &client,
        2,
        "elicit",
        arguments,
        json!({ key: {"action": "decline"} }),
        &asked["result"]["requestState"],
    )
    .await;
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert_eq!(answer.last()["error"]["code"], json!(-32602));
    assert_eq!(answer.last()["error"]["data"]["reason"], json!("expired"));
}

#[tokio::test]
async fn an_expired_parked_call_releases_its_child() {
    let proxy = translating(&[
        "--modern-input-ttl",
        "300ms",
        "--modern-pool-max",
        "1",
        "--modern-lease-wait",
        "5s",
    ]);
    let client = proxy.client();
    let asked = ask(&client, 1, "elicit", json!({"message": "name?"})).await;
    only_question(&asked);
    // The only child of the partition is held by the parked call until it expires; then the
    // next interactive call gets it (within --modern-lease-wait).
    let next = ask(&client, 2, "elicit", json!({"message": "again?"})).await;
    let (_, request) = only_question(&next);
    assert_eq!(request["params"]["message"], json!("again?"));
}

#[tokio::test]
async fn a_passthrough_childs_own_state_is_sealed_and_routed_back() {
    let proxy = Proxy::demo();
    let client = proxy.client();
    let asked = ask(&client, 1, "elicit", json!({"message": "name?"})).await;
    let (key, request) = only_question(&asked);
    assert_eq!(request["method"], json!("elicitation/create"));
    let state = asked["result"]["requestState"].clone();
    let done = retry(
        &client,
        2,
        "elicit",
        json!({"message": "name?"}),
        json!({ key: {"action": "accept", "content": {"name": "octocat"}} }),
        &state,
    )
    .await;
    assert_eq!(done.status, 200, "{}\n{}", done.body, proxy.log());
    assert_eq!(done.last()["id"], json!(2));
    assert_eq!(done.last()["result"]["resultType"], json!("complete"));
    assert!(tool_text(done.last()).contains("octocat"), "{}", done.body);
    // The child's state never reaches the client as it is: a forged one is refused.
    let forged = retry(
        &client,
        3,
        "elicit",
        json!({"message": "name?"}),
        json!({}),
        &json!("eyJ0b29sIjoiZWxpY2l0In0"),
    )
    .await;
    assert_eq!(forged.status, 400, "{}", forged.body);
    assert_eq!(forged.last()["error"]["code"], json!(-32602));
}

#[tokio::test]
async fn a_request_that_asks_for_logs_gets_its_own_at_its_level_only() {
    let proxy = translating(&[]);
    let client = proxy.client();
    let call = |id: i64, level: &str, log_level: Option<&str>| {
        let mut message = modern_request(
            json!(id),
            "tools/call",
            json!({"name": "log", "arguments": {"level": level, "message": format!("at {level}")}}),
            capabilities(),
        );
        if let Some(wanted) = log_level {
            message["params"]["_meta"]["io.modelcontextprotocol/logLevel"] = json!(wanted);
        }
        message
    };
    let logs = |answer: &common::Answer| -> Vec<Value> {
        answer
            .messages
            .iter()
            .filter(|m| m["method"] == json!("notifications/message"))
            .cloned()
            .collect()
    };
    // Asked for warning and above: a warning comes on the request's stream, before its answer.
    let answer = client
        .post_modern(&call(1, "warning", Some("warning")))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let got = logs(&answer);
    assert_eq!(got.len(), 1, "{}", answer.body);
    assert_eq!(got[0]["params"]["level"], json!("warning"));
    assert_eq!(answer.last()["id"], json!(1));
    // Below the level asked for: nothing.
    let answer = client.post_modern(&call(2, "info", Some("warning"))).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(logs(&answer).is_empty(), "{}", answer.body);
    // No level asked for: no logs at all, whatever the child's level still is.
    let answer = client.post_modern(&call(3, "error", None)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(logs(&answer).is_empty(), "{}", answer.body);
}
