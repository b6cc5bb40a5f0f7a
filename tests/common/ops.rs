//! Reading the proxy's ops endpoints over real HTTP: plain GETs (`/healthz`, `/readyz`,
//! `/sessions`), `/metrics` scraped and parsed with [`super::exposition`], once or until a
//! condition holds, and the address of the `--metrics-addr` listener.

use std::time::Duration;

use super::exposition::{self, Exposition};
use super::metric_names::DURATION;
use super::proxy::{Proxy, WAIT};
use super::wait::eventually;

impl Proxy {
    /// `127.0.0.1:<port>` of the `--metrics-addr` listener, read (bounded wait) from the line
    /// `metrics listening on http://ADDR/metrics` the proxy logs (text or JSON log format).
    pub async fn metrics_addr(&self) -> String {
        const MARKER: &str = "metrics listening on http://";
        let mut found = None;
        eventually("the proxy logged its metrics address", || {
            found = self.log().lines().find_map(|line| {
                let rest = line.split(MARKER).nth(1)?;
                let addr = rest.split('/').next()?;
                (!addr.is_empty()).then(|| addr.to_string())
            });
            found.is_some()
        })
        .await;
        found.expect("metrics address")
    }

    /// GETs `/metrics` on the main listener (status 200 required) and parses the exposition.
    pub async fn scrape(&self) -> exposition::Exposition {
        scrape(&self.addr).await
    }
}

/// GETs `http://{addr}{path}`; returns status, content type and body.
pub async fn http_get(addr: &str, path: &str) -> (u16, String, String) {
    let response = reqwest::Client::builder()
        .timeout(WAIT)
        .build()
        .expect("http client")
        .get(format!("http://{addr}{path}"))
        .send()
        .await
        .unwrap_or_else(|err| panic!("GET {path}: {err}"));
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = response.text().await.expect("body");
    (status, content_type, body)
}

/// GETs `http://{addr}/metrics` (status 200 required) and parses the exposition.
pub async fn scrape(addr: &str) -> exposition::Exposition {
    let (status, _, body) = http_get(addr, "/metrics").await;
    assert_eq!(status, 200, "GET /metrics on {addr}: {body}");
    exposition::parse(&body).unwrap_or_else(|err| panic!("unparsable /metrics ({err}):\n{body}"))
}

/// Scrapes `/metrics` at `addr` until `condition` holds (bounded), returning that scrape.
pub async fn scrape_until(
    addr: &str,
    what: &str,
    condition: impl Fn(&Exposition) -> bool,
) -> Exposition {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let scrape = scrape(addr).await;
        if condition(&scrape) {
            return scrape;
        }
        if tokio::time::Instant::now() >= deadline {
            let lines: Vec<String> = scrape
                .samples
                .iter()
                .filter(|s| s.name.starts_with("hyper_mcp_proxy_") && s.value != 0.0)
                .filter(|s| !s.name.starts_with(DURATION))
                .map(|s| format!("{}{:?} {}", s.name, s.labels, s.value))
                .collect();
            panic!(
                "timed out waiting until {what}; non-zero series:\n{}",
                lines.join("\n")
            );
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
