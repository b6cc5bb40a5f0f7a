//! The proxy's `/metrics`, scraped over a connection that is closed after each scrape (so a
//! scrape leaves no descriptor open in the proxy), and read series by series.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::Uri;
use hyper::header::CONNECTION;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::TokioExecutor;

/// Upper bound of one scrape.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(10);

/// One scrape: `(series, value)` per sample line, series as written (`name{labels}`).
pub struct Metrics {
    samples: Vec<(String, f64)>,
}

impl Metrics {
    /// GETs `url` once.
    pub async fn scrape(url: &Uri) -> Result<Metrics, String> {
        let http = HttpClient::builder(TokioExecutor::new())
            .pool_max_idle_per_host(0)
            .build_http::<Empty<Bytes>>();
        let request = hyper::Request::get(url.clone())
            .header(CONNECTION, "close")
            .body(Empty::new())
            .map_err(|err| format!("request: {err}"))?;
        let exchange = async {
            let response = http
                .request(request)
                .await
                .map_err(|err| format!("GET /metrics failed: {err:?}"))?;
            if !response.status().is_success() {
                return Err(format!("GET /metrics: HTTP {}", response.status()));
            }
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|err| format!("reading /metrics failed: {err}"))?
                .to_bytes();
            String::from_utf8(body.to_vec()).map_err(|err| format!("/metrics: {err}"))
        };
        let text = tokio::time::timeout(SCRAPE_TIMEOUT, exchange)
            .await
            .map_err(|_| "GET /metrics timed out".to_string())??;
        Ok(Metrics::parse(&text))
    }

    fn parse(text: &str) -> Metrics {
        let samples = text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| {
                let (series, value) = line.rsplit_once(' ')?;
                Some((series.to_string(), value.parse().ok()?))
            })
            .collect();
        Metrics { samples }
    }

    /// `(label value, sample value)` of every series of `metric` that has `label`.
    pub fn by_label(&self, metric: &str, label: &str) -> Vec<(String, f64)> {
        let prefix = format!("{metric}{{");
        let key = format!("{label}=\"");
        self.samples
            .iter()
            .filter_map(|(series, value)| {
                let labels = series.strip_prefix(&prefix)?;
                let (_, rest) = labels.split_once(&key)?;
                let (label_value, _) = rest.split_once('"')?;
                Some((label_value.to_string(), *value))
            })
            .collect()
    }

    /// The sum over every series of `metric` (with or without labels).
    pub fn sum(&self, metric: &str) -> f64 {
        self.samples
            .iter()
            .filter(|(series, _)| {
                series == metric
                    || series
                        .strip_prefix(metric)
                        .is_some_and(|rest| rest.starts_with('{'))
            })
            .map(|(_, value)| value)
            .sum()
    }

    /// `label=value/label=value...` of every non-zero series of `metric`, for a report.
    pub fn nonzero_by_label(&self, metric: &str, label: &str) -> String {
        let parts: Vec<String> = self
            .by_label(metric, label)
            .into_iter()
            .filter(|(_, value)| *value != 0.0)
            .map(|(name, value)| format!("{name}:{value}"))
            .collect();
        if parts.is_empty() {
            "none".to_string()
        } else {
            parts.join(",")
        }
    }
}
