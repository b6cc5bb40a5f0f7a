//! The cost of sessions beyond their setup (see `setup`): `churn` (calls while many sessions
//! open) and `memory` (proxy RSS per idle session, over rounds of open/close).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::backend::Backend;
use crate::mcp_client::{Mcp, close_sessions, open_sessions};
use crate::procfs::rss_kib;
use crate::proxy::{Proxy, wait_for_children};
use crate::stats::{Errors, Stats};

/// Calls on open sessions while many new sessions are opening against a slow-starting backend.
pub async fn scenario_churn(backend: Backend) -> Result<u64, String> {
    const STARTUP_DELAY_MS: u64 = 300;
    const EXISTING: usize = 5;
    const CALLERS_EACH: usize = 2;
    const OPENERS: usize = 25;
    const NEW_SESSIONS: usize = 100;
    const MIN_OPENING: usize = 20;
    const TIME_LIMIT: Duration = Duration::from_secs(30);
    const MAX_CALLS_EACH: usize = 20_000;

    let proxy = Proxy::start(&backend.command(Some(STARTUP_DELAY_MS)))?;
    let mcp = Mcp::new(&proxy);
    // Every backend takes 300 ms to start: open the existing sessions first, together.
    let existing = open_sessions(&mcp, EXISTING, EXISTING).await?;
    let errors = Arc::new(Errors::new("churn"));
    for (s, session) in existing.iter().enumerate() {
        for n in 0..50u64 {
            if let Err(err) = mcp.call_echo(session, s as u64 * 1000 + n, "warm-up").await {
                errors.record(err);
            }
        }
    }

    let opening = Arc::new(AtomicUsize::new(0));
    let max_opening = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let stop_at = started + TIME_LIMIT;

    let mut callers = Vec::new();
    for (s, session) in existing.iter().enumerate() {
        for c in 0..CALLERS_EACH {
            let (mcp, session, errors) = (mcp.clone(), session.clone(), errors.clone());
            let (opening, done) = (opening.clone(), done.clone());
            let caller = (s * CALLERS_EACH + c) as u64;
            callers.push(tokio::spawn(async move {
                let mut during = Vec::new();
                let mut all = 0usize;
                for n in 0..MAX_CALLS_EACH {
                    if done.load(Ordering::Acquire) || Instant::now() >= stop_at {
                        break;
                    }
                    let id = 1_000_000 * (caller + 1) + n as u64;
                    let busy_before = opening.load(Ordering::Acquire);
                    let start = Instant::now();
                    let result = mcp
                        .call_echo(&session, id, "churn call on an existing session")
                        .await;
                    let latency = start.elapsed();
                    let busy_after = opening.load(Ordering::Acquire);
                    match result {
                        Ok(()) => {
                            all += 1;
                            if busy_before >= MIN_OPENING && busy_after >= MIN_OPENING {
                                during.push(latency);
                            }
                        }
                        Err(err) => errors.record(err),
                    }
                }
                (during, all)
            }));
        }
    }
    // Let the callers get going before the churn starts.
    tokio::time::sleep(Duration::from_millis(50)).await;

    let next = Arc::new(AtomicUsize::new(0));
    let mut openers = Vec::new();
    for _ in 0..OPENERS {
        let (mcp, errors, next) = (mcp.clone(), errors.clone(), next.clone());
        let (opening, max_opening) = (opening.clone(), max_opening.clone());
        openers.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while next.fetch_add(1, Ordering::AcqRel) < NEW_SESSIONS && Instant::now() < stop_at {
                let now_opening = opening.fetch_add(1, Ordering::AcqRel) + 1;
                max_opening.fetch_max(now_opening, Ordering::AcqRel);
                let result = mcp.open_session().await;
                opening.fetch_sub(1, Ordering::AcqRel);
                match result {
                    Ok(opened) => mine.push(opened),
                    Err(err) => errors.record(err),
                }
            }
            mine
        }));
    }
    let mut new_sessions = Vec::new();
    let mut open_latencies = Vec::new();
    for opener in openers {
        match opener.await {
            Ok(mine) => {
                for (session, latency) in mine {
                    new_sessions.push(session);
                    open_latencies.push(latency);
                }
            }
            Err(err) => errors.record(format!("opener task failed: {err}")),
        }
    }
    let churn_secs = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Release);
    let mut during = Vec::new();
    let mut all_calls = 0;
    for caller in callers {
        match caller.await {
            Ok((mine, count)) => {
                during.extend(mine);
                all_calls += count;
            }
            Err(err) => errors.record(format!("caller task failed: {err}")),
        }
    }
    let stats = Stats::of(&mut during);
    let open = Stats::of(&mut open_latencies);
    if during.is_empty() {
        errors.record(format!(
            "no call completed while {MIN_OPENING} sessions were opening"
        ));
    }
    println!(
        "churn: existing={EXISTING} callers={} startup_delay_ms={STARTUP_DELAY_MS} opened={} max_opening={} calls_while_opening={} calls_total={all_calls} errors={} p50_ms={:.3} p99_ms={:.3} max_ms={:.3} open_p50_ms={:.1} open_p99_ms={:.1} churn_secs={churn_secs:.2} backend={}",
        EXISTING * CALLERS_EACH,
        new_sessions.len(),
        max_opening.load(Ordering::Acquire),
        during.len(),
        errors.count(),
        stats.p50_ms,
        stats.p99_ms,
        stats.max_ms,
        open.p50_ms,
        open.p99_ms,
        backend.name(),
    );
    let mut everything = existing;
    everything.extend(new_sessions);
    close_sessions(&mcp, &everything, &errors).await;
    proxy.report_log_problems("churn");
    Ok(errors.count())
}

/// Proxy RSS idle and with 100 idle sessions.
pub async fn scenario_memory(backend: Backend) -> Result<u64, String> {
    const SESSIONS: usize = 100;
    const ROUNDS: usize = 4;

    let proxy = Proxy::start(&backend.command(None))?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle = rss_kib(proxy.pid)?;
    let mcp = Mcp::new(&proxy);
    let errors = Errors::new("memory");
    let sessions = match open_sessions(&mcp, SESSIONS, 10).await {
        Ok(sessions) => sessions,
        Err(err) => {
            errors.record(err);
            Vec::new()
        }
    };
    // One call per session, so each session's buffers have seen traffic.
    for (n, session) in sessions.iter().enumerate() {
        if let Err(err) = mcp.call_echo(session, n as u64, "memory probe").await {
            errors.record(err);
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let loaded = rss_kib(proxy.pid)?;
    close_sessions(&mcp, &sessions, &errors).await;
    wait_for_children(&proxy, 0, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after_delete = rss_kib(proxy.pid)?;
    // More rounds on the same proxy: RSS that keeps growing round after round would be a
    // leak; RSS that stays put is memory the allocator keeps for reuse.
    let mut rounds = vec![loaded];
    for _ in 1..ROUNDS {
        let again = match open_sessions(&mcp, SESSIONS, 10).await {
            Ok(again) => again,
            Err(err) => {
                errors.record(err);
                Vec::new()
            }
        };
        for (n, session) in again.iter().enumerate() {
            if let Err(err) = mcp.call_echo(session, n as u64, "memory probe").await {
                errors.record(err);
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        rounds.push(rss_kib(proxy.pid)?);
        close_sessions(&mcp, &again, &errors).await;
        wait_for_children(&proxy, 0, Duration::from_secs(10)).await;
    }
    let per_session = (loaded as f64 - idle as f64) / SESSIONS as f64;
    // After churn, freed buffers are reused (and re-touched): the resident cost per session.
    let peak = rounds.iter().copied().max().unwrap_or(loaded);
    let per_session_churned = (peak as f64 - idle as f64) / SESSIONS as f64;
    println!(
        "memory: sessions={} errors={} idle_kib={idle} loaded_kib={loaded} kib_per_session={per_session:.1} after_delete_kib={after_delete} rounds_kib={} kib_per_session_after_churn={per_session_churned:.1} backend={}",
        sessions.len(),
        errors.count(),
        rounds
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join("/"),
        backend.name(),
    );
    proxy.report_log_problems("memory");
    Ok(errors.count())
}
