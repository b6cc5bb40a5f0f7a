//! Call throughput and latency on open sessions: `calls` (many concurrent callers) and
//! `single` (one sequential caller).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::env_usize;
use crate::backend::Backend;
use crate::mcp_client::{Mcp, close_sessions, open_sessions};
use crate::procfs::{Cpu, cpu_ns, ticks_to_us};
use crate::proxy::Proxy;
use crate::stats::{Errors, Stats};

/// K sessions x C concurrent callers per session x M calls each.
pub async fn scenario_calls(backend: Backend) -> Result<u64, String> {
    const SESSIONS: usize = 10;
    const CALLERS: usize = 10;
    const WARMUP_EACH: usize = 30;
    const TIME_LIMIT: Duration = Duration::from_secs(60);
    // 500 by default: 50,000 calls in all. Smaller for profiling runs.
    let calls_each = env_usize("HYPER_MCP_BENCH_CALLS_EACH", 500).min(500);

    let proxy = Proxy::start(&backend.command(None))?;
    let mcp = Mcp::new(&proxy);
    let sessions = open_sessions(&mcp, SESSIONS, SESSIONS).await?;
    let children = proxy.children();
    if children.len() != SESSIONS {
        eprintln!(
            "calls: expected {SESSIONS} backend processes, found {}",
            children.len()
        );
    }
    let errors = Arc::new(Errors::new("calls"));
    // Callers warm up, wait at `warm` (then the CPU counters are read), start at `go`.
    let warm = Arc::new(tokio::sync::Barrier::new(SESSIONS * CALLERS + 1));
    let go = Arc::new(tokio::sync::Barrier::new(SESSIONS * CALLERS + 1));
    let mut tasks = Vec::new();
    for (s, session) in sessions.iter().enumerate() {
        for c in 0..CALLERS {
            let (mcp, session, errors) = (mcp.clone(), session.clone(), errors.clone());
            let (warm, go) = (warm.clone(), go.clone());
            let caller = (s * CALLERS + c) as u64;
            tasks.push(tokio::spawn(async move {
                let mut ids = caller * 1_000_000..;
                for _ in 0..WARMUP_EACH {
                    let id = ids.next().unwrap_or_default();
                    let message = format!("warm-up {caller}/{id}");
                    if let Err(err) = mcp.call_echo(&session, id, &message).await {
                        errors.record(err);
                    }
                }
                warm.wait().await;
                go.wait().await;
                let stop = Instant::now() + TIME_LIMIT;
                let mut latencies = Vec::with_capacity(calls_each);
                for n in 0..calls_each {
                    if Instant::now() >= stop {
                        break;
                    }
                    let id = ids.next().unwrap_or_default();
                    let message =
                        format!("hello from caller {caller}, call {n}: lorem ipsum dolor sit amet");
                    let start = Instant::now();
                    match mcp.call_echo(&session, id, &message).await {
                        Ok(()) => latencies.push(start.elapsed()),
                        Err(err) => errors.record(err),
                    }
                }
                latencies
            }));
        }
    }
    warm.wait().await;
    let cpu_before = Cpu::sample(proxy.pid, &children);
    let ns_before = cpu_ns(proxy.pid);
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
    let cpu_after = Cpu::sample(proxy.pid, &children);
    let proxy_us = proxy_cpu_us(ns_before, proxy.pid, &cpu_before, &cpu_after);
    let calls = latencies.len() as u64;
    let stats = Stats::of(&mut latencies);
    let per_call = |ticks: u64| ticks_to_us(ticks) / calls.max(1) as f64;
    let errors_n = errors.count();
    println!(
        "calls: sessions={SESSIONS} callers={CALLERS} calls={calls} errors={errors_n} secs={:.2} rps={:.0} p50_ms={:.3} p99_ms={:.3} max_ms={:.3} proxy_cpu_us_per_call={:.1} backend_cpu_us_per_call={:.1} loader_cpu_us_per_call={:.1} backend={} against={}",
        elapsed.as_secs_f64(),
        calls as f64 / elapsed.as_secs_f64(),
        stats.p50_ms,
        stats.p99_ms,
        stats.max_ms,
        proxy_us / calls.max(1) as f64,
        per_call(cpu_after.children - cpu_before.children),
        per_call(cpu_after.loader - cpu_before.loader),
        backend.name(),
        crate::proxy::against_name(),
    );
    close_sessions(&mcp, &sessions, &errors).await;
    proxy.report_log_problems("calls");
    Ok(errors_n)
}

/// One caller, one session, sequential calls.
pub async fn scenario_single(backend: Backend) -> Result<u64, String> {
    const WARMUP: usize = 300;
    const TIME_LIMIT: Duration = Duration::from_secs(30);
    let calls_total = env_usize("HYPER_MCP_BENCH_CALLS_EACH", 5_000).min(5_000);

    let proxy = Proxy::start(&backend.command(None))?;
    let mcp = Mcp::new(&proxy);
    let session = mcp.open_session().await?.0;
    let errors = Errors::new("single");
    for id in 0..WARMUP as u64 {
        if let Err(err) = mcp.call_echo(&session, id, "warm-up").await {
            errors.record(err);
        }
    }
    let children = proxy.children();
    let cpu_before = Cpu::sample(proxy.pid, &children);
    let ns_before = cpu_ns(proxy.pid);
    let started = Instant::now();
    let mut latencies = Vec::with_capacity(calls_total);
    for n in 0..calls_total {
        if started.elapsed() >= TIME_LIMIT {
            break;
        }
        let message = format!("hello, call {n}: lorem ipsum dolor sit amet, consectetur");
        let start = Instant::now();
        match mcp.call_echo(&session, 1_000 + n as u64, &message).await {
            Ok(()) => latencies.push(start.elapsed()),
            Err(err) => errors.record(err),
        }
    }
    let cpu_after = Cpu::sample(proxy.pid, &children);
    let proxy_us = proxy_cpu_us(ns_before, proxy.pid, &cpu_before, &cpu_after);
    let calls = latencies.len() as u64;
    let stats = Stats::of(&mut latencies);
    println!(
        "single: calls={calls} errors={} p50_ms={:.3} p99_ms={:.3} mean_ms={:.3} max_ms={:.3} proxy_cpu_us_per_call={:.1} backend={} against={}",
        errors.count(),
        stats.p50_ms,
        stats.p99_ms,
        stats.mean_ms,
        stats.max_ms,
        proxy_us / calls.max(1) as f64,
        backend.name(),
        crate::proxy::against_name(),
    );
    close_sessions(&mcp, &[session], &errors).await;
    proxy.report_log_problems("single");
    Ok(errors.count())
}

/// The proxy's CPU time between two samples, in microseconds: from the threads' schedstat
/// (nanoseconds, exact) where the kernel has it, else from the 10 ms clock ticks of
/// /proc/<pid>/stat, which sample whoever runs at each tick and so misattribute short bursts.
fn proxy_cpu_us(ns_before: Option<u64>, pid: u32, before: &Cpu, after: &Cpu) -> f64 {
    match (ns_before, cpu_ns(pid)) {
        (Some(before), Some(after)) => after.saturating_sub(before) as f64 / 1000.0,
        _ => ticks_to_us(after.proxy - before.proxy),
    }
}
