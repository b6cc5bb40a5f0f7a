//! The life of the modern leg's pooled children: a caller that goes away cancels its request at
//! the child, children are retired after `--modern-recycle-after` requests, and shutdown leaves
//! no pooled child (nor the probe child) behind.

mod common;

use std::time::Duration;

use common::lifecycle::{assert_group_gone, exit_code};
use common::modern::{modern_headers, modern_request};
use common::{Proxy, tool_text};
use serde_json::{Value, json};

const TRANSLATE: [&str; 4] = ["--modern", "translate", "--child-era", "legacy"];

fn pid_of(answer: &Value) -> u32 {
    tool_text(answer).parse().expect("a pid")
}

#[tokio::test]
async fn a_caller_that_goes_away_cancels_its_request_at_the_child() {
    let proxy = Proxy::start(&TRANSLATE, &[]);
    let client = proxy.client();
    let slow = modern_request(
        json!("slow"),
        "tools/call",
        json!({"name": "sleep", "arguments": {"ms": 20000}}),
        json!({}),
    );
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let gone = impatient
        .post(&client.url)
        .headers(modern_headers(&slow))
        .body(serde_json::to_vec(&slow).unwrap())
        .send()
        .await;
    // Nothing comes for 2 s (--sse-after), so the client gives up before any byte.
    assert!(gone.is_err(), "{gone:?}");
    // Polled (bounded): the cancellation reaches the child when the proxy notices the
    // disconnect.
    let deadline = tokio::time::Instant::now() + common::WAIT;
    let mut id = 100;
    let seen = loop {
        id += 1;
        let answer = client.modern_call(id, "received", json!({})).await;
        let seen: Vec<Value> = serde_json::from_str(tool_text(&answer)).unwrap();
        if seen
            .iter()
            .any(|m| m["method"] == json!("notifications/cancelled"))
        {
            break seen;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no cancellation: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let sleep_id = seen
        .iter()
        .find(|m| m["params"]["name"] == json!("sleep"))
        .map(|m| m["id"].clone())
        .expect("the sleep call reached the child");
    let cancel = seen
        .iter()
        .find(|m| m["method"] == json!("notifications/cancelled"))
        .unwrap();
    assert_eq!(cancel["params"]["requestId"], sleep_id, "{cancel}");
}

#[tokio::test]
async fn pooled_children_are_retired_after_their_request_count() {
    let mut args = TRANSLATE.to_vec();
    args.extend_from_slice(&["--modern-recycle-after", "2"]);
    let proxy = Proxy::start(&args, &[]);
    let client = proxy.client();
    let first = pid_of(&client.modern_call(1, "pid", json!({})).await);
    let second = pid_of(&client.modern_call(2, "pid", json!({})).await);
    assert_eq!(first, second);
    let third = pid_of(&client.modern_call(3, "pid", json!({})).await);
    assert_ne!(first, third, "a fresh child serves after two requests");
    assert_group_gone(first).await;
}

#[tokio::test]
async fn shutdown_stops_every_pooled_child() {
    // Passthrough (the demo is dual-era) and translated children, one proxy each.
    for args in [&[][..], &TRANSLATE[..]] {
        let proxy = Proxy::start(args, &[]);
        let client = proxy.client();
        let pid = pid_of(&client.modern_call(1, "pid", json!({})).await);
        proxy.signal(libc::SIGTERM);
        let (proxy, code) = exit_code(proxy).await;
        assert_eq!(code, Some(0), "log:\n{}", proxy.log());
        assert_group_gone(pid).await;
        assert!(common::children_of(proxy.pid()).is_empty());
    }
}

#[tokio::test]
async fn shutdown_gives_up_parked_calls_at_once() {
    let proxy = Proxy::start(&TRANSLATE, &[]);
    let client = proxy.client();
    let message = modern_request(
        json!(1),
        "tools/call",
        json!({"name": "elicit", "arguments": {"message": "name?"}}),
        json!({"elicitation": {}}),
    );
    let asked = client.post_modern(&message).await;
    assert_eq!(
        asked.last()["result"]["resultType"],
        json!("input_required")
    );
    let started = std::time::Instant::now();
    proxy.signal(libc::SIGTERM);
    let (proxy, code) = exit_code(proxy).await;
    assert_eq!(code, Some(0), "log:\n{}", proxy.log());
    // The drain did not wait --shutdown-timeout (30 s) for a client that may never retry.
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(common::children_of(proxy.pid()).is_empty());
}

#[tokio::test]
async fn idle_pooled_children_beyond_the_minimum_are_retired() {
    let mut args = TRANSLATE.to_vec();
    args.extend_from_slice(&[
        "--max-inflight",
        "1",
        "--modern-idle-timeout",
        "1s",
        "--metrics-addr",
        "127.0.0.1:0",
    ]);
    let proxy = Proxy::start(&args, &[]);
    // Two calls at once on children that take one request each: the partition grows to two.
    let calls: Vec<_> = (0..2)
        .map(|n| {
            let client = proxy.client();
            tokio::spawn(async move {
                let slow = json!({"name": "sleep", "arguments": {"ms": 500}});
                client.modern(n, "tools/call", slow).await.status
            })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap(), 200);
    }
    assert_eq!(common::modern::pooled(&proxy).await.len(), 2);
    // Idle for --modern-idle-timeout: back to --modern-pool-min (1).
    common::eventually_async("the idle child beyond the minimum is retired", || async {
        common::modern::pooled(&proxy).await.len() == 1
    })
    .await;
}

#[tokio::test]
async fn pooled_children_take_spares_with_prespawn() {
    // Passthrough, the era given (no probe child): before the first call the proxy's only
    // children are the spares.
    let proxy = Proxy::start(&["--prespawn", "2", "--child-era", "modern"], &[]);
    let mut spares = Vec::new();
    common::eventually("two spares are ready", || {
        spares = common::children_of(proxy.pid());
        spares.len() == 2
    })
    .await;
    let client = proxy.client();
    let pid = pid_of(&client.modern_call(1, "pid", json!({})).await);
    assert!(
        spares.contains(&pid),
        "the pooled child {pid} is not one of the spares {spares:?}"
    );
}
