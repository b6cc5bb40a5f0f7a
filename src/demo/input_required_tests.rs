//! In-process conversations with a modern-pinned demo server about the tools that need the
//! client: the `input_required` result, the retry that completes it, and the refusals.

use serde_json::json;

use super::DemoOptions;
use super::test_client::{
    Client, error_reply, error_with_data, modern_text_result, server_info_meta, state_token,
};

#[tokio::test]
async fn elicitation_round_trips_through_input_required_and_a_retry() {
    let mut client = Client::start(DemoOptions::default());
    let capabilities = json!({"elicitation": {"form": {}}});
    let call = json!({"name": "elicit", "arguments": {"message": "name?"}});
    client
        .modern_request(1, "tools/call", call.clone(), capabilities.clone())
        .await;
    let state = state_token(r#"{"tool":"elicit","arguments":{"message":"name?"}}"#);
    assert_eq!(
        client.next().await,
        json!({"jsonrpc": "2.0", "id": 1, "result": {
            "resultType": "input_required",
            "inputRequests": {"elicitation/create": {"method": "elicitation/create", "params": {
                "mode": "form",
                "message": "name?",
                "requestedSchema": {"type": "object", "properties": {"name": {"type": "string"}},
                                    "required": ["name"]},
            }}},
            "requestState": state,
            "_meta": server_info_meta(),
        }})
    );
    let mut retry = call;
    retry["requestState"] = json!(state);
    retry["inputResponses"] =
        json!({"elicitation/create": {"action": "accept", "content": {"name": "octocat"}}});
    client
        .modern_request(2, "tools/call", retry, capabilities)
        .await;
    assert_eq!(
        client.next().await,
        modern_text_result(2, r#"{"action":"accept","content":{"name":"octocat"}}"#)
    );
    client.finish().await;
}

#[tokio::test]
async fn sampling_and_roots_retries_check_their_state() {
    let mut client = Client::start(DemoOptions::default());
    let capabilities = json!({"sampling": {}, "roots": {}});
    client
        .modern_request(
            1,
            "tools/call",
            json!({"name": "roots"}),
            capabilities.clone(),
        )
        .await;
    let asked = client.next().await;
    assert_eq!(
        asked["result"]["inputRequests"],
        json!({"roots/list": {"method": "roots/list"}})
    );
    let retry = json!({"name": "roots", "requestState": asked["result"]["requestState"],
                       "inputResponses": {"roots/list": {"roots": []}}});
    client
        .modern_request(2, "tools/call", retry, capabilities.clone())
        .await;
    assert_eq!(
        client.next().await,
        modern_text_result(2, r#"{"roots":[]}"#)
    );

    let forged = state_token(r#"{"tool":"sample","arguments":{"prompt":"other"}}"#);
    let retry = json!({"name": "sample", "arguments": {"prompt": "hi"}, "requestState": forged,
                       "inputResponses": {"sampling/createMessage": {}}});
    client
        .modern_request(3, "tools/call", retry, capabilities)
        .await;
    assert_eq!(
        client.next().await,
        error_reply(json!(3), -32602, "Invalid or expired requestState")
    );
    client.finish().await;
}

#[tokio::test]
async fn an_undeclared_capability_is_refused_with_what_is_required() {
    let mut client = Client::start(DemoOptions::default());
    client
        .modern_request(
            1,
            "tools/call",
            json!({"name": "elicit", "arguments": {"message": "name?"}}),
            json!({"elicitation": {"url": {}}, "sampling": {}}),
        )
        .await;
    assert_eq!(
        client.next().await,
        error_with_data(
            1,
            -32021,
            "Client did not declare the form elicitation capability required by tool `elicit`",
            json!({"requiredCapabilities": {"elicitation": {"form": {}}}})
        )
    );
    client
        .modern_request(
            2,
            "tools/call",
            json!({"name": "sample", "arguments": {"prompt": "p"}}),
            json!({}),
        )
        .await;
    assert_eq!(
        client.next().await,
        error_with_data(
            2,
            -32021,
            "Client did not declare the sampling capability required by tool `sample`",
            json!({"requiredCapabilities": {"sampling": {}}})
        )
    );
    client.finish().await;
}
