//! `interactive`: 2026-07-28 calls that need the client mid-call, through `--modern
//! translate` over the demo server (pinned to the 2025 era by the proxy's `initialize`): each
//! round trip is a `tools/call` answered with an `InputRequiredResult` (the call parked on a
//! child it holds alone) and its retry with the elicitation's answer. Reports round trips per
//! second, their latency, and the proxy's CPU per round trip.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::env_usize;
use crate::backend::Backend;
use crate::mcp_client::Mcp;
use crate::modern_client::elicit_round_trip;
use crate::procfs::cpu_ns;
use crate::proxy::Proxy;
use crate::stats::{Errors, Stats};

/// Concurrent callers: as many as interactive children the pool keeps (`--modern-pool-max`).
const CALLERS: usize = 4;
const WARMUP_EACH: usize = 20;
const TIME_LIMIT: Duration = Duration::from_secs(60);

pub async fn scenario_interactive() -> Result<u64, String> {
    let rounds_each = env_usize("HYPER_MCP_BENCH_ROUNDS_EACH", 500).min(2_000);
    let flags = ["--modern", "translate", "--child-era", "legacy"];
    let proxy = Proxy::start_with(&flags, &Backend::Demo.command(None))?;
    let mcp = Mcp::new(&proxy);
    let errors = Arc::new(Errors::new("interactive"));
    let warm = Arc::new(tokio::sync::Barrier::new(CALLERS + 1));
    let go = Arc::new(tokio::sync::Barrier::new(CALLERS + 1));
    let mut tasks = Vec::new();
    for caller in 0..CALLERS as u64 {
        let (mcp, errors, warm, go) = (mcp.clone(), errors.clone(), warm.clone(), go.clone());
        tasks.push(tokio::spawn(async move {
            let mut ids = (caller * 10_000_000..).step_by(2);
            for _ in 0..WARMUP_EACH {
                if let Err(err) = elicit_round_trip(&mcp, ids.next().unwrap_or_default()).await {
                    errors.record(err);
                }
            }
            warm.wait().await;
            go.wait().await;
            let stop = Instant::now() + TIME_LIMIT;
            let mut latencies = Vec::with_capacity(rounds_each);
            for _ in 0..rounds_each {
                if Instant::now() >= stop {
                    break;
                }
                let start = Instant::now();
                match elicit_round_trip(&mcp, ids.next().unwrap_or_default()).await {
                    Ok(()) => latencies.push(start.elapsed()),
                    Err(err) => errors.record(err),
                }
            }
            latencies
        }));
    }
    warm.wait().await;
    let cpu_before = cpu_ns(proxy.pid).unwrap_or(0);
    let started = Instant::now();
    go.wait().await;
    let mut latencies = Vec::new();
    for task in tasks {
        match task.await {
            Ok(mine) => latencies.extend(mine),
            Err(err) => errors.record(format!("caller task failed: {err}")),
        }
    }
    let elapsed = started.elapsed();
    let cpu_after = cpu_ns(proxy.pid).unwrap_or(0);
    let rounds = latencies.len() as u64;
    let stats = Stats::of(&mut latencies);
    let errors_n = errors.count();
    println!(
        "interactive: callers={CALLERS} round_trips={rounds} errors={errors_n} secs={:.2} round_trips_per_s={:.0} p50_ms={:.3} p99_ms={:.3} proxy_cpu_us_per_round_trip={:.1}",
        elapsed.as_secs_f64(),
        rounds as f64 / elapsed.as_secs_f64(),
        stats.p50_ms,
        stats.p99_ms,
        cpu_after.saturating_sub(cpu_before) as f64 / 1000.0 / rounds.max(1) as f64,
    );
    proxy.report_log_problems("interactive");
    Ok(errors_n)
}
