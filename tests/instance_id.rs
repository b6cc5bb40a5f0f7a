//! `--instance-id`: session ids carry the instance's name as a prefix, the metrics carry it as
//! the `instance_id` label, and a request naming another instance's session is answered 404,
//! logged as misrouted and counted in `hyper_mcp_proxy_misrouted_requests_total`.

mod common;

use common::demo::assert_echo_works;
use common::ops::scrape_until;
use common::{Proxy, eventually, session};
use reqwest::header::HeaderValue;
use serde_json::json;

const MISROUTED: &str = "hyper_mcp_proxy_misrouted_requests_total";

#[tokio::test]
async fn session_ids_carry_the_instance_and_another_instances_id_is_a_counted_404() {
    let proxy = Proxy::start(&["--instance-id", "proxy-a"], &[]);
    let client = session(&proxy).await;
    let id = client.session.clone().expect("session id");
    let (prefix, random) = id.split_once('.').expect("NAME.<hex>");
    assert_eq!(prefix, "proxy-a", "{id}");
    assert_eq!(random.len(), 32, "{id}");
    assert!(random.bytes().all(|c| c.is_ascii_hexdigit()), "{id}");
    assert_echo_works(&client, 1).await;

    let labels = [("instance_id", "proxy-a")];
    let scrape = proxy.scrape().await;
    assert_eq!(scrape.get(MISROUTED, &labels), 0.0);
    assert_eq!(
        scrape.get("hyper_mcp_proxy_sessions_opened_total", &labels),
        1.0
    );

    // The same random part under another instance's name: POST, GET and DELETE.
    let mut stranger = proxy.client();
    stranger.session = Some(format!("proxy-b.{random}"));
    stranger.protocol_version = client.protocol_version.clone();
    let answer = stranger
        .request(
            json!(2),
            "tools/call",
            json!({"name": "echo", "arguments": {"message": "x"}}),
        )
        .await;
    assert_eq!(answer.status, 404, "{}", answer.body);
    let mut get_headers = stranger.headers();
    get_headers.insert("accept", HeaderValue::from_static("text/event-stream"));
    get_headers.remove("content-type");
    assert_eq!(stranger.get_raw(get_headers).await.status, 404);
    assert_eq!(stranger.delete().await, 404);
    scrape_until(&proxy.addr, "three misrouted requests counted", |scrape| {
        scrape.get(MISROUTED, &labels) == 3.0
    })
    .await;
    eventually("the proxy logged the misrouted request", || {
        proxy.log().lines().any(|line| {
            line.contains("misrouted") && line.contains("proxy-b") && line.contains("WARN")
        })
    })
    .await;

    // An unknown id of this instance is an ordinary 404, not a misroute.
    let mut gone = proxy.client();
    gone.session = Some(format!("proxy-a.{}", "0".repeat(32)));
    assert_eq!(gone.delete().await, 404);
    let scrape = proxy.scrape().await;
    assert_eq!(scrape.get(MISROUTED, &labels), 3.0);
    // The real session was never touched.
    assert_echo_works(&client, 3).await;
    // Every line of the session carries the instance in its span.
    let log = proxy.log();
    // Logs carry the first 8 digits after the instance prefix, never the whole id.
    assert!(!log.contains(&id), "{log}");
    let log_id = &id["proxy-a.".len()..][..8];
    let session_lines: Vec<&str> = log.lines().filter(|line| line.contains(log_id)).collect();
    assert!(!session_lines.is_empty(), "{log}");
    for line in session_lines {
        assert!(line.contains("instance=\"proxy-a\""), "{line}");
    }
}

#[tokio::test]
async fn without_an_instance_id_ids_are_plain_and_prefixed_ids_are_misrouted() {
    let proxy = Proxy::demo();
    let client = session(&proxy).await;
    let id = client.session.clone().expect("session id");
    assert_eq!(id.len(), 32, "{id}");
    assert!(!id.contains('.'), "{id}");
    let mut stranger = proxy.client();
    stranger.session = Some(format!("proxy-b.{id}"));
    assert_eq!(stranger.delete().await, 404);
    scrape_until(&proxy.addr, "one misrouted request counted", |scrape| {
        scrape.get(MISROUTED, &[]) == 1.0
    })
    .await;
    let text = common::http_get(&proxy.addr, "/metrics").await.2;
    assert!(!text.contains("instance_id="), "{text}");
}

#[test]
fn an_invalid_instance_id_is_refused_at_startup() {
    let output = std::process::Command::new(common::BIN)
        .args(["-p", "0", "--instance-id", "proxy.1"])
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run the proxy");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--instance-id"), "{stderr}");
    assert!(stderr.contains("letters, digits and '-'"), "{stderr}");
}
