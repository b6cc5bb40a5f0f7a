//! The cost of sessions: `setup` (opening and deleting), `churn` (calls while many sessions
//! open) and `memory` (proxy RSS per idle session, over rounds of open/close).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::backend::Backend;
use crate::bounded::run_bounded;
use crate::mcp_client::{Mcp, Session, close_sessions, open_sessions};
use crate::procfs::{cpu_ticks, rss_kib, ticks_to_us};
use crate::proxy::{Proxy, wait_for_children};
use crate::stats::{Errors, Stats};

/// S sessions opened with concurrency C, then deleted; R rounds on one proxy. Besides the
/// latencies, the proxy's own CPU time (utime+stime from /proc/<pid>/stat, children excluded)
/// per session: while opening (`initialize` + `notifications/initialized`), and for the whole
/// life cycle (open, DELETE, child reaped). Several rounds, so the 10 ms clock tick of
/// /proc is a small fraction of the total.
pub async fn scenario_setup(backend: Backend) -> Result<u64, String> {
    const SESSIONS: usize = 100;
    const CONCURRENCY: usize = 10;
    const ROUNDS: usize = 3;

    let proxy = Proxy::start(&backend.command(None))?;
    let mcp = Mcp::new(&proxy);
    // Warm the connection pool and the proxy with one session that is not counted.
    let warm = mcp.open_session().await?.0;
    mcp.delete(&warm).await?;
    wait_for_children(&proxy, 0, Duration::from_secs(10)).await;

    let errors = Arc::new(Errors::new("setup"));
    let mut init_latencies: Vec<Duration> = Vec::new();
    let mut delete_latencies: Vec<Duration> = Vec::new();
    let (mut open_secs, mut delete_secs) = (0.0, 0.0);
    let (mut open_ticks, mut cycle_ticks) = (0u64, 0u64);
    let mut live = 0;
    let mut leftover = 0;
    for round in 0..ROUNDS {
        let cpu_before = cpu_ticks(proxy.pid).unwrap_or(0);
        let started = Instant::now();
        let opened = run_bounded(SESSIONS, CONCURRENCY, {
            let mcp = mcp.clone();
            let errors = errors.clone();
            move |_| {
                let mcp = mcp.clone();
                let errors = errors.clone();
                async move {
                    match mcp.open_session().await {
                        Ok(opened) => Some(opened),
                        Err(err) => {
                            errors.record(err);
                            None
                        }
                    }
                }
            }
        })
        .await;
        open_secs += started.elapsed().as_secs_f64();
        let cpu_opened = cpu_ticks(proxy.pid).unwrap_or(0);
        open_ticks += cpu_opened.saturating_sub(cpu_before);
        let (sessions, latencies): (Vec<Session>, Vec<Duration>) =
            opened.into_iter().flatten().unzip();
        init_latencies.extend(latencies);
        if round == 0 {
            live = proxy.children().len();
        }

        let delete_started = Instant::now();
        let deletes = run_bounded(sessions.len(), CONCURRENCY, {
            let mcp = mcp.clone();
            let errors = errors.clone();
            let sessions = Arc::new(sessions.clone());
            move |i| {
                let mcp = mcp.clone();
                let errors = errors.clone();
                let sessions = sessions.clone();
                async move {
                    let start = Instant::now();
                    match mcp.delete(&sessions[i]).await {
                        Ok(()) => Some(start.elapsed()),
                        Err(err) => {
                            errors.record(err);
                            None
                        }
                    }
                }
            }
        })
        .await;
        delete_secs += delete_started.elapsed().as_secs_f64();
        delete_latencies.extend(deletes.into_iter().flatten());
        leftover = wait_for_children(&proxy, 0, Duration::from_secs(10)).await;
        cycle_ticks += cpu_ticks(proxy.pid).unwrap_or(0).saturating_sub(cpu_before);
        if leftover != 0 {
            errors.record(format!("{leftover} backend processes left after DELETE"));
            break;
        }
    }
    let opened = init_latencies.len();
    let deleted = delete_latencies.len();
    let init = Stats::of(&mut init_latencies);
    let delete = Stats::of(&mut delete_latencies);
    let per_session_ms = |ticks: u64| ticks_to_us(ticks) / 1000.0 / opened.max(1) as f64;
    println!(
        "setup: sessions={opened} rounds={ROUNDS} concurrency={CONCURRENCY} errors={} init_p50_ms={:.2} init_p99_ms={:.2} init_max_ms={:.2} sessions_per_s={:.1} proxy_cpu_ms_per_session={:.3} proxy_cpu_ms_per_session_with_delete={:.3} live_children={live} delete_p50_ms={:.2} delete_p99_ms={:.2} deletes_per_s={:.1} leftover_children={leftover} backend={}",
        errors.count(),
        init.p50_ms,
        init.p99_ms,
        init.max_ms,
        opened as f64 / open_secs,
        per_session_ms(open_ticks),
        per_session_ms(cycle_ticks),
        delete.p50_ms,
        delete.p99_ms,
        deleted as f64 / delete_secs,
        backend.name(),
    );
    proxy.report_log_problems("setup");
    Ok(errors.count())
}

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
