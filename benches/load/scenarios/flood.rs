//! `flood`: a server that stops reading stdin after `initialize`, and a client that POSTs
//! large notifications to it as fast as it can. The proxy's byte budgets must refuse the
//! excess (429/503) instead of queueing it: its peak RSS must stay under the global budget
//! plus its idle RSS.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::backend::Backend;
use crate::echo_backend::{ECHO_BACKEND_ARG, NEVER_READ_ARG};
use crate::mcp_client::Mcp;
use crate::metrics::Metrics;
use crate::procfs::{rss_kib, runs_with_arg, status_kib};
use crate::proxy::{Proxy, wait_for_children};
use crate::stats::Errors;

const POSTS: usize = 150;
const BODY_BYTES: usize = 8 * 1024 * 1024;
const TIME_LIMIT: Duration = Duration::from_secs(60);
const SESSION_BUDGET: u64 = 32 * 1024 * 1024;
const GLOBAL_BUDGET: u64 = 64 * 1024 * 1024;
const SAMPLE_EVERY: Duration = Duration::from_millis(50);
/// The flood stops early if the proxy grows past this, to spare the machine.
const RSS_SAFETY_CAP_KIB: u64 = 3 * 1024 * 1024;

pub async fn scenario_flood(backend: Backend) -> Result<u64, String> {
    if backend != Backend::Echo {
        eprintln!("flood: runs on the echo backend (it needs its --never-read option)");
    }
    let command = Backend::echo_with(&[NEVER_READ_ARG]);
    let (session_budget, global_budget) = (SESSION_BUDGET.to_string(), GLOBAL_BUDGET.to_string());
    let flags = [
        "--max-session-buffer-bytes",
        session_budget.as_str(),
        "--max-buffer-bytes",
        global_budget.as_str(),
    ];
    let (proxy, budgets) = match Proxy::start_with(&flags, &command) {
        Ok(proxy) => (proxy, "set"),
        Err(err) => {
            eprintln!("flood: the proxy refused the budget flags ({err}); running without them");
            (Proxy::start(&command)?, "unsupported")
        }
    };
    let mcp = Mcp::new(&proxy);
    let errors = Errors::new("flood");
    let session = mcp.open_session().await?.0;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle_kib = rss_kib(proxy.pid)?;
    let backends: Vec<u32> = proxy.children();

    // Peak RSS, sampled while the flood runs.
    let peak_kib = Arc::new(AtomicU64::new(idle_kib));
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = tokio::spawn({
        let (peak_kib, stop, pid) = (peak_kib.clone(), stop.clone(), proxy.pid);
        async move {
            while !stop.load(Ordering::Acquire) {
                if let Ok(kib) = rss_kib(pid) {
                    peak_kib.fetch_max(kib, Ordering::AcqRel);
                }
                tokio::time::sleep(SAMPLE_EVERY).await;
            }
        }
    });

    let body = notification(BODY_BYTES);
    let mut statuses: BTreeMap<String, usize> = BTreeMap::new();
    let started = Instant::now();
    let mut stopped_early = "no";
    for _ in 0..POSTS {
        if started.elapsed() >= TIME_LIMIT {
            stopped_early = "time_limit";
            break;
        }
        if peak_kib.load(Ordering::Acquire) > RSS_SAFETY_CAP_KIB {
            stopped_early = "rss_safety_cap";
            break;
        }
        let outcome = match mcp.post_raw(Some(&session), body.clone()).await {
            Ok((_, status, ..)) => status.to_string(),
            Err(err) => {
                errors.record(&err);
                if err.contains("timed out") {
                    "timeout".to_string()
                } else {
                    "error".to_string()
                }
            }
        };
        *statuses.entry(outcome).or_default() += 1;
    }
    let flood_secs = started.elapsed().as_secs_f64();
    // One more sample after the last POST, while the proxy still holds what it queued.
    tokio::time::sleep(SAMPLE_EVERY * 2).await;
    stop.store(true, Ordering::Release);
    let _ = sampler.await;
    let peak_kib = peak_kib.load(Ordering::Acquire);
    let hwm_kib = status_kib(proxy.pid, "VmHWM").unwrap_or(0);
    let metrics = Metrics::scrape(&proxy.metrics_url()).await;
    let limit_hits = metrics.as_ref().map_or_else(
        |err| err.clone(),
        |m| m.nonzero_by_label("hyper_mcp_proxy_limit_hits_total", "limit"),
    );

    // The session ends; its backend (which never reads again) must go with it.
    let delete_started = Instant::now();
    let delete = match mcp.delete(&session).await {
        Ok(()) => "200".to_string(),
        Err(err) => {
            errors.record(&err);
            err.replace(' ', "_")
        }
    };
    let delete_secs = delete_started.elapsed().as_secs_f64();
    let children_left = wait_for_children(&proxy, 0, Duration::from_secs(15)).await;
    if children_left != 0 {
        errors.record(format!(
            "{children_left} backend processes left after DELETE"
        ));
    }
    let limit_kib = idle_kib + GLOBAL_BUDGET / 1024;
    let under_budget = peak_kib <= limit_kib;
    let accepted = statuses.get("202").copied().unwrap_or(0);
    println!(
        "flood: posts={} body_bytes={BODY_BYTES} budgets={budgets} errors={} secs={flood_secs:.2} statuses={} accepted_mib={} idle_rss_kib={idle_kib} peak_rss_kib={peak_kib} vm_hwm_kib={hwm_kib} limit_kib={limit_kib} limit_hits={limit_hits} stopped_early={stopped_early} delete={delete} delete_secs={delete_secs:.2} children_left={children_left} peak_under_budget={} backend=echo",
        statuses.values().sum::<usize>(),
        errors.count(),
        statuses
            .iter()
            .map(|(status, count)| format!("{status}:{count}"))
            .collect::<Vec<_>>()
            .join(","),
        accepted * BODY_BYTES / (1024 * 1024),
        if under_budget { "PASS" } else { "FAIL" },
    );
    proxy.report_log_problems("flood");
    drop(proxy);
    stop_leftovers(&backends);
    Ok(errors.count() + u64::from(!under_budget))
}

/// `{"jsonrpc":"2.0","method":"notifications/x","params":{"pad":"xxx…"}}` of about `bytes`.
fn notification(bytes: usize) -> Bytes {
    let head = br#"{"jsonrpc":"2.0","method":"notifications/x","params":{"pad":""#;
    let tail = br#""}}"#;
    let mut body = Vec::with_capacity(bytes);
    body.extend_from_slice(head);
    body.resize(bytes.saturating_sub(tail.len()).max(head.len()), b'x');
    body.extend_from_slice(tail);
    Bytes::from(body)
}

/// SIGKILLs, by pid, any backend this scenario's proxy started that outlived the proxy.
fn stop_leftovers(backends: &[u32]) {
    for &pid in backends {
        if runs_with_arg(pid, ECHO_BACKEND_ARG) {
            eprintln!("flood: backend {pid} outlived the proxy; killing it");
            // SAFETY: kill(2) on a pid just checked to be one of this bench's backends.
            unsafe {
                libc::kill(pid as i32, libc::SIGKILL);
            }
        }
    }
}
