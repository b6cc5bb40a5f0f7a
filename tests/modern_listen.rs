//! `subscriptions/listen` on the modern leg, over real HTTP against the real binary.
//!
//! Translated (`--modern translate --child-era legacy`: the demo pinned to the 2025 era stands
//! in for a legacy-only server): the proxy acknowledges the honoured filter, fans the pooled
//! children's list changes out to every stream that asked, follows resources on a listener
//! child with reference-counted `resources/subscribe`, and makes streams refetch after that
//! child restarts. Passthrough (the dual-era demo, probed modern): listens are relayed with
//! the client's ids. Either way shutdown ends every stream with its closing result.

mod common;

use common::lifecycle::exit_code;
use common::modern::{modern_headers, modern_request};
use common::{Client, Proxy, SseReader, eventually_async, tool_text};
use serde_json::{Value, json};

const TRANSLATE: [&str; 4] = ["--modern", "translate", "--child-era", "legacy"];
/// A resource of the demo.
const HELLO: &str = "demo://static/hello";

fn translating(extra: &[&str]) -> Proxy {
    let mut args = TRANSLATE.to_vec();
    args.extend_from_slice(extra);
    Proxy::start(&args, &[])
}

fn listen_request(id: Value, notifications: Value) -> Value {
    modern_request(
        id,
        "subscriptions/listen",
        json!({ "notifications": notifications }),
        json!({}),
    )
}

/// Opens a listen stream and checks it is one.
async fn listen(client: &Client, id: Value, notifications: Value) -> SseReader {
    let stream = client.open_modern(&listen_request(id, notifications)).await;
    assert_eq!(stream.status, 200);
    assert_eq!(
        stream.headers.get("content-type").unwrap(),
        "text/event-stream"
    );
    stream
}

async fn next(stream: &mut SseReader) -> Value {
    stream.next().await.expect("the listen stream ended early")
}

fn tag(id: &Value) -> Value {
    json!({ "io.modelcontextprotocol/subscriptionId": id })
}

fn acknowledgement(id: &Value, honoured: Value) -> Value {
    json!({"jsonrpc": "2.0", "method": "notifications/subscriptions/acknowledged",
           "params": {"notifications": honoured, "_meta": tag(id)}})
}

fn change(method: &str, id: &Value) -> Value {
    json!({"jsonrpc": "2.0", "method": method, "params": {"_meta": tag(id)}})
}

fn closing(id: &Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "result": {"resultType": "complete", "_meta": tag(id)}})
}

/// What the (single) pooled child received so far.
async fn received(client: &Client) -> Vec<Value> {
    let answer = client.modern_call(900, "received", json!({})).await;
    serde_json::from_str(tool_text(&answer)).unwrap()
}

fn count(seen: &[Value], method: &str, uri: &str) -> usize {
    seen.iter()
        .filter(|m| m["method"] == json!(method) && m["params"]["uri"] == json!(uri))
        .count()
}

#[tokio::test]
async fn the_acknowledgement_comes_first_and_states_the_honoured_filter() {
    let proxy = translating(&[]);
    let client = proxy.client();
    let id = json!("listen-1");
    let mut stream = listen(
        &client,
        id.clone(),
        json!({"toolsListChanged": true, "promptsListChanged": false, "resourcesListChanged": true,
               "resourceSubscriptions": [HELLO, HELLO, 7], "futureFlag": true}),
    )
    .await;
    assert_eq!(
        next(&mut stream).await,
        acknowledgement(
            &id,
            json!({"toolsListChanged": true, "resourcesListChanged": true, "resourceSubscriptions": [HELLO]})
        )
    );
    // What discover advertises is what listen honours.
    let discover = client.modern(2, "server/discover", json!({})).await;
    assert_eq!(
        discover.last()["result"]["capabilities"]["resources"],
        json!({"subscribe": true, "listChanged": true})
    );
    assert_eq!(
        discover.last()["result"]["capabilities"]["tools"],
        json!({"listChanged": true})
    );
}

#[tokio::test]
async fn a_listen_without_sse_in_accept_is_refused_406() {
    let proxy = translating(&[]);
    let client = proxy.client();
    let message = listen_request(json!(1), json!({"toolsListChanged": true}));
    let mut headers = modern_headers(&message);
    headers.insert("accept", "application/json".parse().unwrap());
    let answer = client
        .post_raw(headers, serde_json::to_vec(&message).unwrap())
        .await;
    assert_eq!(answer.status, 406, "{}", answer.body);
}

#[tokio::test]
async fn a_tools_list_change_fans_out_to_every_listener_that_asked() {
    let proxy = translating(&[]);
    let client = proxy.client();
    let (first, second) = (json!("first"), json!(2));
    let mut only_tools = listen(&client, first.clone(), json!({"toolsListChanged": true})).await;
    let mut tools_and_prompts = listen(
        &client,
        second.clone(),
        json!({"toolsListChanged": true, "promptsListChanged": true}),
    )
    .await;
    assert_eq!(
        next(&mut only_tools).await,
        acknowledgement(&first, json!({"toolsListChanged": true}))
    );
    assert_eq!(
        next(&mut tools_and_prompts).await,
        acknowledgement(
            &second,
            json!({"toolsListChanged": true, "promptsListChanged": true})
        )
    );
    // The legacy child sends tools, resources and prompts list_changed.
    let notified = client.modern_call(3, "notify", json!({})).await;
    assert_eq!(tool_text(&notified), "notified");
    assert_eq!(
        next(&mut only_tools).await,
        change("notifications/tools/list_changed", &first)
    );
    assert_eq!(
        next(&mut tools_and_prompts).await,
        change("notifications/tools/list_changed", &second)
    );
    assert_eq!(
        next(&mut tools_and_prompts).await,
        change("notifications/prompts/list_changed", &second)
    );
    // Nothing else was queued: at shutdown each stream's next message is its closing result.
    proxy.signal(libc::SIGTERM);
    assert_eq!(next(&mut only_tools).await, closing(&first));
    assert_eq!(next(&mut tools_and_prompts).await, closing(&second));
    assert_eq!(only_tools.next().await, None);
    let (proxy, code) = exit_code(proxy).await;
    assert_eq!(code, Some(0), "log:\n{}", proxy.log());
}

#[tokio::test]
async fn resource_subscriptions_are_reference_counted_on_the_listener_child() {
    // Keep-alives let the proxy notice closed streams.
    let proxy = translating(&["--sse-keepalive", "1"]);
    let client = proxy.client();
    let (first, second) = (json!(1), json!(2));
    let follow = json!({"resourceSubscriptions": [HELLO]});
    let mut one = listen(&client, first.clone(), follow.clone()).await;
    let mut two = listen(&client, second.clone(), follow.clone()).await;
    assert_eq!(
        next(&mut one).await,
        acknowledgement(&first, follow.clone())
    );
    assert_eq!(
        next(&mut two).await,
        acknowledgement(&second, follow.clone())
    );
    let seen = received(&client).await;
    assert_eq!(count(&seen, "resources/subscribe", HELLO), 1, "{seen:?}");

    drop(one);
    proxy
        .logged("the first stream's release", |line| {
            line.contains("stopped following a resource") && line.contains("streams=1")
        })
        .await;
    let seen = received(&client).await;
    assert_eq!(count(&seen, "resources/subscribe", HELLO), 1, "{seen:?}");
    assert_eq!(count(&seen, "resources/unsubscribe", HELLO), 0, "{seen:?}");
    // The child still sends updates for the uri, and the stream that follows it gets them.
    client.modern_call(3, "notify", json!({})).await;
    assert_eq!(
        next(&mut two).await,
        json!({"jsonrpc": "2.0", "method": "notifications/resources/updated",
               "params": {"uri": HELLO, "_meta": tag(&second)}})
    );

    drop(two);
    eventually_async("the last stream's release unsubscribes", || {
        let client = &client;
        async move { count(&received(client).await, "resources/unsubscribe", HELLO) == 1 }
    })
    .await;
    let seen = received(&client).await;
    assert_eq!(count(&seen, "resources/subscribe", HELLO), 1, "{seen:?}");
    assert_eq!(count(&seen, "resources/unsubscribe", HELLO), 1, "{seen:?}");
}

#[tokio::test]
async fn a_restarted_listener_child_makes_streams_refetch_and_keeps_subscriptions() {
    let proxy = translating(&[]);
    let client = proxy.client();
    let id = json!("watching");
    let filter = json!({"toolsListChanged": true, "resourcesListChanged": true, "resourceSubscriptions": [HELLO]});
    let mut stream = listen(&client, id.clone(), filter.clone()).await;
    assert_eq!(next(&mut stream).await, acknowledgement(&id, filter));
    // Its answer is an error of the session (the child died under it).
    client
        .modern(2, "tools/call", json!({"name": "crash", "arguments": {}}))
        .await;
    assert_eq!(
        next(&mut stream).await,
        change("notifications/tools/list_changed", &id)
    );
    assert_eq!(
        next(&mut stream).await,
        change("notifications/resources/list_changed", &id)
    );
    // The restarted child got the subscription again with the session's replay.
    let seen = received(&client).await;
    assert_eq!(count(&seen, "resources/subscribe", HELLO), 1, "{seen:?}");
    assert_eq!(seen[0]["method"], json!("initialize"), "{seen:?}");
}

#[tokio::test]
async fn passthrough_listens_are_relayed_with_the_clients_ids() {
    let proxy = Proxy::start(&["--sse-keepalive", "1"], &[]);
    let client = proxy.client();
    let (first, second) = (json!("a"), json!(7));
    let mut one = listen(&client, first.clone(), json!({"toolsListChanged": true})).await;
    let follow = json!({"toolsListChanged": true, "resourceSubscriptions": [HELLO]});
    let mut two = listen(&client, second.clone(), follow.clone()).await;
    assert_eq!(
        next(&mut one).await,
        acknowledgement(&first, json!({"toolsListChanged": true}))
    );
    assert_eq!(next(&mut two).await, acknowledgement(&second, follow));
    client.modern_call(3, "notify", json!({})).await;
    assert_eq!(
        next(&mut one).await,
        change("notifications/tools/list_changed", &first)
    );
    assert_eq!(
        next(&mut two).await,
        change("notifications/tools/list_changed", &second)
    );
    assert_eq!(
        next(&mut two).await,
        json!({"jsonrpc": "2.0", "method": "notifications/resources/updated",
               "params": {"uri": HELLO, "_meta": tag(&second)}})
    );

    // Closing a stream cancels the listen at the child.
    drop(one);
    let listened = |seen: &[Value]| {
        seen.iter()
            .find(|m| {
                m["method"] == json!("subscriptions/listen")
                    && m["params"]["notifications"] == json!({"toolsListChanged": true})
            })
            .map(|m| m["id"].clone())
            .expect("the first listen reached the child")
    };
    eventually_async("the child sees the cancellation", || {
        let client = &client;
        async move {
            let seen = received(client).await;
            let id = listened(&seen);
            seen.iter().any(|m| {
                m["method"] == json!("notifications/cancelled") && m["params"]["requestId"] == id
            })
        }
    })
    .await;
}

#[tokio::test]
async fn shutdown_ends_translated_and_relayed_streams_with_their_closing_result() {
    for args in [&TRANSLATE[..], &[][..]] {
        let proxy = Proxy::start(args, &[]);
        let client = proxy.client();
        let id = json!(41);
        let mut stream = listen(&client, id.clone(), json!({"promptsListChanged": true})).await;
        assert_eq!(
            next(&mut stream).await,
            acknowledgement(&id, json!({"promptsListChanged": true}))
        );
        proxy.signal(libc::SIGTERM);
        assert_eq!(next(&mut stream).await, closing(&id));
        assert_eq!(stream.next().await, None, "the stream ends after it");
        let (proxy, code) = exit_code(proxy).await;
        assert_eq!(code, Some(0), "log:\n{}", proxy.log());
    }
}
