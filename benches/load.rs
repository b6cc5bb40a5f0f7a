//! End-to-end load benchmark of the real `hyper-mcp-proxy` binary.
//!
//! Run all scenarios: `cargo bench --bench load`
//! Run some:          `cargo bench --bench load -- calls single`
//! Other backend:     `cargo bench --bench load -- --backend=demo`
//!
//! Each scenario starts a fresh proxy on 127.0.0.1:0 (the bench profile builds it in release
//! mode) and drives it over loopback with a keep-alive HTTP/1.1 connection pool speaking
//! Streamable HTTP MCP: `initialize`, `notifications/initialized`, then `tools/call` of `echo`,
//! reading both `application/json` and `text/event-stream` answers.
//!
//! Backends (`--backend=`):
//! - `echo` (default): this bench executable re-run as a minimal stdio MCP server
//!   (`initialize`, `ping`, `tools/list`, `tools/call` of `echo` and `big`): one blocking loop,
//!   the echoed text is copied verbatim, so nearly all the measured work is the proxy's.
//! - `demo`: `hyper-mcp-proxy demo-server --no-record`.
//!
//! Output: exactly one line per scenario on stdout, `<scenario>: key=value ...`; diagnostics
//! go to stderr. The process exits non-zero if any scenario saw an error.
//!
//! Scenarios:
//! - `calls`:   10 sessions x 10 concurrent callers x 500 calls (after a warm-up): requests/s,
//!   p50/p99 latency and the proxy's own CPU time per call (utime+stime of the proxy process
//!   from /proc/<pid>/stat, children excluded).
//! - `single`:  one caller, one session, sequential calls: p50/p99 round trip.
//! - `setup`:   100 sessions opened 10 at a time: initialize p50/p99 (child spawn included),
//!   sessions/s; then DELETE of all of them.
//! - `churn`:   calls on 5 open sessions while >= 20 new sessions are opening against a
//!   backend that takes 300 ms to start; latency of the calls made meanwhile.
//! - `memory`:  proxy RSS idle after start and with 100 idle sessions.
//! - `payload`: a 10 MiB `echo` and a 10 MiB `big` result, round-trip time.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::process::{Child, Command, ExitCode, Stdio};
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

/// The proxy under test.
const PROXY_BIN: &str = env!("CARGO_BIN_EXE_hyper-mcp-proxy");
/// First argument that turns this executable into the echo backend.
const ECHO_BACKEND_ARG: &str = "__hyper_mcp_bench_echo_backend";
/// Every scenario's names, in the order they run.
const SCENARIOS: [&str; 6] = ["calls", "single", "setup", "churn", "memory", "payload"];
/// Upper bound of any single HTTP exchange.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(ECHO_BACKEND_ARG) {
        return echo_backend::run(&args[1..]);
    }
    if args.iter().any(|arg| arg == "--list") {
        // A test runner asking for tests: this bench has none.
        return ExitCode::SUCCESS;
    }
    let mut backend = Backend::Echo;
    let mut selected = Vec::new();
    for arg in &args {
        if let Some(name) = arg.strip_prefix("--backend=") {
            match name.parse() {
                Ok(parsed) => backend = parsed,
                Err(()) => {
                    eprintln!("load: unknown backend {name:?} (use echo or demo)");
                    return ExitCode::FAILURE;
                }
            }
        } else if !arg.starts_with('-') {
            if !SCENARIOS.contains(&arg.as_str()) {
                eprintln!(
                    "load: unknown scenario {arg:?}; known: {}",
                    SCENARIOS.join(" ")
                );
                return ExitCode::FAILURE;
            }
            selected.push(arg.clone());
        }
    }
    if selected.is_empty() && !args.iter().any(|arg| arg == "--bench") {
        // `cargo test --benches` runs bench targets without `--bench`: stay quick there.
        println!("load: not run (pass --bench, as `cargo bench` does, or a scenario name)");
        return ExitCode::SUCCESS;
    }
    if selected.is_empty() {
        selected = SCENARIOS.iter().map(|name| name.to_string()).collect();
    }
    if let Ok(load) = std::fs::read_to_string("/proc/loadavg") {
        eprintln!("load: machine load average before the run: {}", load.trim());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let mut failed = false;
    for name in &selected {
        let outcome = runtime.block_on(async {
            match name.as_str() {
                "calls" => scenario_calls(backend).await,
                "single" => scenario_single(backend).await,
                "setup" => scenario_setup(backend).await,
                "churn" => scenario_churn(backend).await,
                "memory" => scenario_memory(backend).await,
                "payload" => scenario_payload(backend).await,
                _ => unreachable!("checked above"),
            }
        });
        match outcome {
            Ok(errors) => failed |= errors > 0,
            Err(err) => {
                println!("{name}: errors=1 failed={err:?}");
                failed = true;
            }
        }
    }
    if failed {
        eprintln!("load: some scenario had errors");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

// ================================ scenarios ================================

/// K sessions x C concurrent callers per session x M calls each.
async fn scenario_calls(backend: Backend) -> Result<u64, String> {
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
    let calls = latencies.len() as u64;
    let stats = Stats::of(&mut latencies);
    let per_call = |ticks: u64| ticks_to_us(ticks) / calls.max(1) as f64;
    let errors_n = errors.count();
    println!(
        "calls: sessions={SESSIONS} callers={CALLERS} calls={calls} errors={errors_n} secs={:.2} rps={:.0} p50_ms={:.3} p99_ms={:.3} max_ms={:.3} proxy_cpu_us_per_call={:.1} backend_cpu_us_per_call={:.1} loader_cpu_us_per_call={:.1} backend={}",
        elapsed.as_secs_f64(),
        calls as f64 / elapsed.as_secs_f64(),
        stats.p50_ms,
        stats.p99_ms,
        stats.max_ms,
        per_call(cpu_after.proxy - cpu_before.proxy),
        per_call(cpu_after.children - cpu_before.children),
        per_call(cpu_after.loader - cpu_before.loader),
        backend.name(),
    );
    close_sessions(&mcp, &sessions, &errors).await;
    proxy.report_log_problems("calls");
    Ok(errors_n)
}

/// One caller, one session, sequential calls.
async fn scenario_single(backend: Backend) -> Result<u64, String> {
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
    let calls = latencies.len() as u64;
    let stats = Stats::of(&mut latencies);
    println!(
        "single: calls={calls} errors={} p50_ms={:.3} p99_ms={:.3} mean_ms={:.3} max_ms={:.3} proxy_cpu_us_per_call={:.1} backend={}",
        errors.count(),
        stats.p50_ms,
        stats.p99_ms,
        stats.mean_ms,
        stats.max_ms,
        ticks_to_us(cpu_after.proxy - cpu_before.proxy) / calls.max(1) as f64,
        backend.name(),
    );
    close_sessions(&mcp, &[session], &errors).await;
    proxy.report_log_problems("single");
    Ok(errors.count())
}

/// S sessions opened with concurrency C, then deleted.
async fn scenario_setup(backend: Backend) -> Result<u64, String> {
    const SESSIONS: usize = 100;
    const CONCURRENCY: usize = 10;

    let proxy = Proxy::start(&backend.command(None))?;
    let mcp = Mcp::new(&proxy);
    // Warm the connection pool and the proxy with one session that is not counted.
    let warm = mcp.open_session().await?.0;
    mcp.delete(&warm).await?;

    let errors = Arc::new(Errors::new("setup"));
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
    let elapsed = started.elapsed();
    let (sessions, mut init_latencies): (Vec<Session>, Vec<Duration>) =
        opened.into_iter().flatten().unzip();
    let live = proxy.children().len();
    let init = Stats::of(&mut init_latencies);

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
    let delete_elapsed = delete_started.elapsed();
    let mut delete_latencies: Vec<Duration> = deletes.into_iter().flatten().collect();
    let delete = Stats::of(&mut delete_latencies);
    let leftover = wait_for_children(&proxy, 0, Duration::from_secs(10)).await;
    if leftover != 0 {
        errors.record(format!("{leftover} backend processes left after DELETE"));
    }
    println!(
        "setup: sessions={} concurrency={CONCURRENCY} errors={} init_p50_ms={:.2} init_p99_ms={:.2} init_max_ms={:.2} sessions_per_s={:.1} live_children={live} delete_p50_ms={:.2} delete_p99_ms={:.2} deletes_per_s={:.1} leftover_children={leftover} backend={}",
        init_latencies.len(),
        errors.count(),
        init.p50_ms,
        init.p99_ms,
        init.max_ms,
        init_latencies.len() as f64 / elapsed.as_secs_f64(),
        delete.p50_ms,
        delete.p99_ms,
        delete_latencies.len() as f64 / delete_elapsed.as_secs_f64(),
        backend.name(),
    );
    proxy.report_log_problems("setup");
    Ok(errors.count())
}

/// Calls on open sessions while many new sessions are opening against a slow-starting backend.
async fn scenario_churn(backend: Backend) -> Result<u64, String> {
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
async fn scenario_memory(backend: Backend) -> Result<u64, String> {
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

/// A 10 MiB echo request and a 10 MiB result to a small request.
async fn scenario_payload(backend: Backend) -> Result<u64, String> {
    const BYTES: usize = 10 * 1024 * 1024;
    const RUNS: usize = 5;

    let proxy = Proxy::start(&backend.command(None))?;
    let mcp = Mcp::new(&proxy);
    let session = mcp.open_session().await?.0;
    let errors = Errors::new("payload");
    let message = "x".repeat(BYTES);
    let mut echo_times = Vec::new();
    let mut big_times = Vec::new();
    let (mut echo_ok, mut big_ok) = (0, 0);
    // One warm-up round, then the measured runs.
    for run in 0..=RUNS {
        let id = 10 * run as u64;
        let arguments = json!({ "message": message });
        match mcp.call_tool_timed(&session, id, "echo", &arguments).await {
            Ok((elapsed, answer)) => match check_text(&answer, id, &message) {
                Ok(()) if run > 0 => {
                    echo_ok += 1;
                    echo_times.push(elapsed);
                }
                Ok(()) => {}
                Err(err) => errors.record(format!("echo 10 MiB: {err}")),
            },
            Err(err) => errors.record(format!("echo 10 MiB: {err}")),
        }
        let arguments = json!({ "bytes": BYTES });
        match mcp
            .call_tool_timed(&session, id + 1, "big", &arguments)
            .await
        {
            Ok((elapsed, answer)) => match check_text(&answer, id + 1, &message) {
                Ok(()) if run > 0 => {
                    big_ok += 1;
                    big_times.push(elapsed);
                }
                Ok(()) => {}
                Err(err) => errors.record(format!("big 10 MiB: {err}")),
            },
            Err(err) => errors.record(format!("big 10 MiB: {err}")),
        }
    }
    let echo = Stats::of(&mut echo_times);
    let big = Stats::of(&mut big_times);
    println!(
        "payload: bytes={BYTES} runs={RUNS} errors={} echo_ok={echo_ok} echo_p50_ms={:.1} echo_max_ms={:.1} big_ok={big_ok} big_p50_ms={:.1} big_max_ms={:.1} proxy_rss_kib={} backend={}",
        errors.count(),
        echo.p50_ms,
        echo.max_ms,
        big.p50_ms,
        big.max_ms,
        rss_kib(proxy.pid).unwrap_or(0),
        backend.name(),
    );
    close_sessions(&mcp, &[session], &errors).await;
    proxy.report_log_problems("payload");
    Ok(errors.count())
}

// ================================ helpers ================================

/// Which stdio MCP server the proxy spawns per session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    /// This executable as a minimal echo server.
    Echo,
    /// `hyper-mcp-proxy demo-server --no-record`.
    Demo,
}

impl FromStr for Backend {
    type Err = ();

    fn from_str(text: &str) -> Result<Backend, ()> {
        match text {
            "echo" => Ok(Backend::Echo),
            "demo" => Ok(Backend::Demo),
            _ => Err(()),
        }
    }
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Echo => "echo",
            Backend::Demo => "demo",
        }
    }

    /// The backend command line, optionally slow to start.
    fn command(self, startup_delay_ms: Option<u64>) -> Vec<String> {
        let mut command = match self {
            Backend::Echo => {
                let me = std::env::current_exe().expect("path of the bench executable");
                vec![me.display().to_string(), ECHO_BACKEND_ARG.to_string()]
            }
            Backend::Demo => vec![
                PROXY_BIN.to_string(),
                "demo-server".to_string(),
                "--no-record".to_string(),
            ],
        };
        if let Some(ms) = startup_delay_ms {
            command.push("--startup-delay-ms".to_string());
            command.push(ms.to_string());
        }
        command
    }
}

/// A running proxy process.
struct Proxy {
    child: Child,
    pid: u32,
    url: Uri,
    /// Last lines of its log, and how many WARN/ERROR lines it wrote.
    log: Arc<Mutex<ProxyLog>>,
}

#[derive(Default)]
struct ProxyLog {
    tail: std::collections::VecDeque<String>,
    problems: usize,
}

impl Proxy {
    /// Starts the proxy on 127.0.0.1:0 with `backend` after `--`; waits for its address.
    fn start(backend: &[String]) -> Result<Proxy, String> {
        // For profiling: HYPER_MCP_BENCH_WRAP="valgrind --tool=callgrind" runs the proxy
        // under that command (CPU figures then describe the wrapped process).
        let wrap: Vec<String> = std::env::var("HYPER_MCP_BENCH_WRAP")
            .map(|wrap| wrap.split_whitespace().map(String::from).collect())
            .unwrap_or_default();
        let mut command = match wrap.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(PROXY_BIN);
                command
            }
            None => Command::new(PROXY_BIN),
        };
        let mut child = command
            .args(["-H", "127.0.0.1", "-p", "0", "--"])
            .args(backend)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| format!("cannot start {PROXY_BIN}: {err}"))?;
        let pid = child.id();
        let stderr = child.stderr.take().ok_or("no stderr pipe")?;
        let log = Arc::new(Mutex::new(ProxyLog::default()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(rest) = line.split("listening on http://").nth(1)
                    && let Some(sender) = tx.take()
                {
                    let _ = sender.send(rest.split_whitespace().next().unwrap_or("").to_string());
                }
                let mut log = sink.lock().unwrap();
                if line.contains(" WARN ") || line.contains(" ERROR ") {
                    log.problems += 1;
                }
                if log.tail.len() == 40 {
                    log.tail.pop_front();
                }
                log.tail.push_back(line);
            }
        });
        let mut proxy = Proxy {
            child,
            pid,
            url: Uri::from_static("http://127.0.0.1/"),
            log,
        };
        let address = rx.recv_timeout(Duration::from_secs(20)).map_err(|_| {
            format!(
                "the proxy did not log its address; log: {}",
                proxy.log_tail()
            )
        })?;
        proxy.url = format!("http://{address}")
            .parse()
            .map_err(|err| format!("bad address {address:?}: {err}"))?;
        if !wrap.is_empty() {
            // A wrapper may run the proxy as its child: measure the proxy itself.
            proxy.pid = proxy_pid_below(proxy.pid);
        }
        eprintln!("proxy pid {} at {}", proxy.pid, proxy.url);
        Ok(proxy)
    }

    fn log_tail(&self) -> String {
        let log = self.log.lock().unwrap();
        log.tail.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// Prints (to stderr) the proxy's warnings and errors, if it logged any.
    fn report_log_problems(&self, scenario: &str) {
        let log = self.log.lock().unwrap();
        if log.problems > 0 {
            eprintln!(
                "{scenario}: the proxy logged {} WARN/ERROR lines; last lines:\n{}",
                log.problems,
                log.tail.iter().cloned().collect::<Vec<_>>().join("\n")
            );
        }
    }

    /// Live (non-zombie) child processes of the proxy.
    fn children(&self) -> Vec<u32> {
        processes()
            .into_iter()
            .filter(|p| p.ppid == self.pid && p.state != 'Z')
            .map(|p| p.pid)
            .collect()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        // SAFETY: kill(2) on the pid of a child process this bench started and has not reaped.
        unsafe {
            libc::kill(self.pid as i32, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A session as the client knows it.
#[derive(Clone)]
struct Session {
    id: HeaderValue,
    version: HeaderValue,
}

/// A Streamable HTTP MCP client over a keep-alive HTTP/1.1 connection pool.
#[derive(Clone)]
struct Mcp {
    http: HttpClient<HttpConnector, Full<Bytes>>,
    url: Uri,
}

/// One HTTP answer, fully read.
struct Answer {
    status: u16,
    session: Option<HeaderValue>,
    /// The JSON-RPC messages: one for a JSON body, one per event for SSE.
    messages: Vec<Value>,
}

impl Mcp {
    fn new(proxy: &Proxy) -> Mcp {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let http = HttpClient::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(usize::MAX)
            .build(connector);
        Mcp {
            http,
            url: proxy.url.clone(),
        }
    }

    /// POSTs `body`; returns the time until the whole body arrived and the raw answer.
    async fn post_raw(
        &self,
        session: Option<&Session>,
        body: Bytes,
    ) -> Result<(Duration, u16, Option<HeaderValue>, bool, Bytes), String> {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(self.url.clone())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json, text/event-stream");
        if let Some(session) = session {
            request = request
                .header("mcp-session-id", session.id.clone())
                .header("mcp-protocol-version", session.version.clone());
        }
        let request = request
            .body(Full::new(body))
            .map_err(|err| format!("request: {err}"))?;
        let start = Instant::now();
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|err| format!("POST failed: {err:?}"))?;
            let (parts, body) = response.into_parts();
            let bytes = body
                .collect()
                .await
                .map_err(|err| format!("reading the body failed: {err}"))?
                .to_bytes();
            Ok::<_, String>((parts, bytes))
        };
        let (parts, bytes) = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| "POST timed out".to_string())??;
        let elapsed = start.elapsed();
        let is_sse = parts
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("text/event-stream"));
        Ok((
            elapsed,
            parts.status.as_u16(),
            parts.headers.get("mcp-session-id").cloned(),
            is_sse,
            bytes,
        ))
    }

    async fn post(&self, session: Option<&Session>, body: Bytes) -> Result<Answer, String> {
        let (_, status, session, is_sse, bytes) = self.post_raw(session, body).await?;
        Ok(Answer {
            status,
            session,
            messages: parse_body(is_sse, &bytes)?,
        })
    }

    /// `initialize` + `notifications/initialized`; returns the session and the initialize
    /// round-trip time (the child is spawned during it).
    async fn open_session(&self) -> Result<(Session, Duration), String> {
        let body = json!({
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "hyper-mcp-proxy-load-bench", "version": "1.0.0"}
            }
        });
        let start = Instant::now();
        let answer = self.post(None, Bytes::from(body.to_string())).await?;
        let elapsed = start.elapsed();
        if answer.status != 200 {
            return Err(format!("initialize: HTTP {}", answer.status));
        }
        let id = answer.session.ok_or("initialize: no Mcp-Session-Id")?;
        let last = answer.messages.last().ok_or("initialize: empty answer")?;
        let version = last["result"]["protocolVersion"]
            .as_str()
            .ok_or_else(|| format!("initialize: no protocolVersion in {last}"))?;
        let session = Session {
            id,
            version: HeaderValue::from_str(version).map_err(|err| err.to_string())?,
        };
        let ack = self
            .post(
                Some(&session),
                Bytes::from_static(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#),
            )
            .await?;
        if ack.status != 202 {
            return Err(format!("notifications/initialized: HTTP {}", ack.status));
        }
        Ok((session, elapsed))
    }

    /// `tools/call` of `echo`; checks that the answer carries our id and our text.
    async fn call_echo(&self, session: &Session, id: u64, message: &str) -> Result<(), String> {
        let text = serde_json::to_string(message).map_err(|err| err.to_string())?;
        let body = format!(
            r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"echo","arguments":{{"message":{text}}}}}}}"#
        );
        let answer = self.post(Some(session), Bytes::from(body)).await?;
        if answer.status != 200 {
            return Err(format!("tools/call: HTTP {}", answer.status));
        }
        let last = answer.messages.last().ok_or("tools/call: empty answer")?;
        check_text(last, id, message)
    }

    /// `tools/call` of any tool; returns the round-trip time (until the whole body arrived)
    /// and the final message.
    async fn call_tool_timed(
        &self,
        session: &Session,
        id: u64,
        name: &str,
        arguments: &Value,
    ) -> Result<(Duration, Value), String> {
        let body = json!({
            "jsonrpc": "2.0",
            "id": id,
            "method": "tools/call",
            "params": {"name": name, "arguments": arguments}
        });
        let body = Bytes::from(serde_json::to_vec(&body).map_err(|err| err.to_string())?);
        let (elapsed, status, _, is_sse, bytes) = self.post_raw(Some(session), body).await?;
        if status != 200 {
            return Err(format!("tools/call {name}: HTTP {status}"));
        }
        let mut messages = parse_body(is_sse, &bytes)?;
        let last = messages.pop().ok_or("tools/call: empty answer")?;
        Ok((elapsed, last))
    }

    /// DELETEs the session; expects 200.
    async fn delete(&self, session: &Session) -> Result<(), String> {
        let request = Request::builder()
            .method(Method::DELETE)
            .uri(self.url.clone())
            .header("mcp-session-id", session.id.clone())
            .header("mcp-protocol-version", session.version.clone())
            .body(Full::new(Bytes::new()))
            .map_err(|err| format!("request: {err}"))?;
        let exchange = async {
            let response = self
                .http
                .request(request)
                .await
                .map_err(|err| format!("DELETE failed: {err:?}"))?;
            let status = response.status().as_u16();
            let _ = response.into_body().collect().await;
            Ok::<_, String>(status)
        };
        let status = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| "DELETE timed out".to_string())??;
        if status != 200 {
            return Err(format!("DELETE: HTTP {status}"));
        }
        Ok(())
    }
}

/// JSON-RPC messages of a JSON or SSE body.
fn parse_body(is_sse: bool, bytes: &[u8]) -> Result<Vec<Value>, String> {
    if !is_sse {
        if bytes.is_empty() {
            return Ok(Vec::new());
        }
        return serde_json::from_slice(bytes)
            .map(|value| vec![value])
            .map_err(|err| format!("JSON body: {err}"));
    }
    let text = std::str::from_utf8(bytes).map_err(|err| format!("SSE body: {err}"))?;
    let mut messages = Vec::new();
    for event in text.split("\n\n") {
        let data: Vec<&str> = event
            .lines()
            .filter_map(|line| line.strip_prefix("data:"))
            .map(|data| data.strip_prefix(' ').unwrap_or(data))
            .collect();
        if !data.is_empty() {
            let value =
                serde_json::from_str(&data.join("\n")).map_err(|err| format!("SSE data: {err}"))?;
            messages.push(value);
        }
    }
    Ok(messages)
}

/// Checks that `answer` is the text result `text` for request `id`.
fn check_text(answer: &Value, id: u64, text: &str) -> Result<(), String> {
    if answer["id"] != json!(id) {
        return Err(format!("answer id {} is not {id}", answer["id"]));
    }
    match answer["result"]["content"][0]["text"].as_str() {
        Some(got) if got == text => Ok(()),
        Some(got) => Err(format!(
            "wrong text ({} bytes instead of {})",
            got.len(),
            text.len()
        )),
        None => {
            let shown: String = answer.to_string().chars().take(300).collect();
            Err(format!("not a text result: {shown}"))
        }
    }
}

/// Opens `count` sessions, `concurrency` at a time; fails on the first error.
async fn open_sessions(
    mcp: &Mcp,
    count: usize,
    concurrency: usize,
) -> Result<Vec<Session>, String> {
    let opened = run_bounded(count, concurrency, {
        let mcp = mcp.clone();
        move |_| {
            let mcp = mcp.clone();
            async move { mcp.open_session().await }
        }
    })
    .await;
    opened
        .into_iter()
        .map(|result| result.map(|(session, _)| session))
        .collect()
}

/// DELETEs every session, 10 at a time; errors are recorded.
async fn close_sessions(mcp: &Mcp, sessions: &[Session], errors: &Errors) {
    let sessions = Arc::new(sessions.to_vec());
    let results = run_bounded(sessions.len(), 10, {
        let mcp = mcp.clone();
        let sessions = sessions.clone();
        move |i| {
            let mcp = mcp.clone();
            let sessions = sessions.clone();
            async move { mcp.delete(&sessions[i]).await }
        }
    })
    .await;
    for result in results {
        if let Err(err) = result {
            errors.record(err);
        }
    }
}

/// Runs `job(0..count)` with at most `concurrency` jobs at once; results in index order.
async fn run_bounded<T, F, Fut>(count: usize, concurrency: usize, job: F) -> Vec<T>
where
    T: Send + 'static,
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = T> + Send + 'static,
{
    let job = Arc::new(job);
    let next = Arc::new(AtomicUsize::new(0));
    let results = Arc::new(Mutex::new(HashMap::new()));
    let mut workers = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (job, next, results) = (job.clone(), next.clone(), results.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::AcqRel);
                if i >= count {
                    break;
                }
                let result = job(i).await;
                results.lock().unwrap().insert(i, result);
            }
        }));
    }
    for worker in workers {
        let _ = worker.await;
    }
    let mut results = std::mem::take(&mut *results.lock().unwrap());
    (0..count).filter_map(|i| results.remove(&i)).collect()
}

/// Waits (bounded) until the proxy has at most `target` children; returns how many are left.
async fn wait_for_children(proxy: &Proxy, target: usize, limit: Duration) -> usize {
    let deadline = Instant::now() + limit;
    loop {
        let left = proxy.children().len();
        if left <= target || Instant::now() >= deadline {
            return left;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Error counter that prints the first few errors to stderr.
struct Errors {
    scenario: &'static str,
    count: AtomicU64,
}

impl Errors {
    fn new(scenario: &'static str) -> Errors {
        Errors {
            scenario,
            count: AtomicU64::new(0),
        }
    }

    fn record(&self, error: impl std::fmt::Display) {
        let seen = self.count.fetch_add(1, Ordering::AcqRel);
        if seen < 5 {
            eprintln!("{}: error: {error}", self.scenario);
        }
    }

    fn count(&self) -> u64 {
        self.count.load(Ordering::Acquire)
    }
}

/// Latency summary.
struct Stats {
    p50_ms: f64,
    p99_ms: f64,
    mean_ms: f64,
    max_ms: f64,
}

impl Stats {
    fn of(samples: &mut [Duration]) -> Stats {
        if samples.is_empty() {
            return Stats {
                p50_ms: f64::NAN,
                p99_ms: f64::NAN,
                mean_ms: f64::NAN,
                max_ms: f64::NAN,
            };
        }
        samples.sort_unstable();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let at = |q: f64| {
            let rank = (q * samples.len() as f64).ceil() as usize;
            ms(samples[rank.clamp(1, samples.len()) - 1])
        };
        let total: Duration = samples.iter().sum();
        Stats {
            p50_ms: at(0.50),
            p99_ms: at(0.99),
            mean_ms: ms(total) / samples.len() as f64,
            max_ms: ms(samples[samples.len() - 1]),
        }
    }
}

/// CPU clock ticks (utime + stime) of the proxy, of its children, and of this process.
struct Cpu {
    proxy: u64,
    children: u64,
    loader: u64,
}

impl Cpu {
    fn sample(proxy: u32, children: &[u32]) -> Cpu {
        Cpu {
            proxy: cpu_ticks(proxy).unwrap_or(0),
            children: children.iter().filter_map(|pid| cpu_ticks(*pid)).sum(),
            loader: cpu_ticks(std::process::id()).unwrap_or(0),
        }
    }
}

/// utime + stime (fields 14 and 15 of /proc/<pid>/stat) of the process itself, every
/// thread included, its children excluded; in clock ticks.
fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may contain spaces) start at field 3.
    let (_, rest) = stat.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(14 - 3)?.parse().ok()?;
    let stime: u64 = fields.get(15 - 3)?.parse().ok()?;
    Some(utime + stime)
}

/// A count from the environment (for shorter profiling runs), or `default`.
fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// Clock ticks to microseconds.
fn ticks_to_us(ticks: u64) -> f64 {
    // SAFETY: sysconf only reads a system constant.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1);
    ticks as f64 * 1e6 / per_second as f64
}

/// VmRSS of a process, in KiB.
fn rss_kib(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|err| format!("/proc/{pid}/status: {err}"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .ok_or_else(|| format!("no VmRSS for {pid}"))
}

/// The process running the proxy binary in the process tree below `root` (itself included).
fn proxy_pid_below(root: u32) -> u32 {
    let table = processes();
    let mut queue = vec![root];
    while let Some(pid) = queue.pop() {
        let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
        if exe.is_some_and(|exe| exe == std::path::Path::new(PROXY_BIN)) {
            return pid;
        }
        queue.extend(table.iter().filter(|p| p.ppid == pid).map(|p| p.pid));
    }
    root
}

struct ProcessRow {
    pid: u32,
    ppid: u32,
    state: char,
}

/// The process table, from /proc.
fn processes() -> Vec<ProcessRow> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(entry.path().join("stat")).ok()?;
            let (_, rest) = stat.rsplit_once(')')?;
            let mut fields = rest.split_whitespace();
            let state = fields.next()?.chars().next()?;
            let ppid = fields.next()?.parse().ok()?;
            Some(ProcessRow { pid, ppid, state })
        })
        .collect()
}

// ============================ the echo backend ============================

/// A minimal, fast stdio MCP server: one blocking loop over stdin lines.
mod echo_backend {
    use super::*;
    use serde::Deserialize;
    use serde_json::value::RawValue;
    use std::borrow::Cow;

    #[derive(Deserialize)]
    struct Message<'a> {
        #[serde(borrow)]
        id: Option<&'a RawValue>,
        #[serde(borrow)]
        method: Option<Cow<'a, str>>,
        #[serde(borrow)]
        params: Option<&'a RawValue>,
    }

    #[derive(Deserialize)]
    struct CallParams<'a> {
        #[serde(borrow)]
        name: Cow<'a, str>,
        #[serde(borrow)]
        arguments: Option<&'a RawValue>,
    }

    #[derive(Deserialize)]
    struct EchoArguments<'a> {
        #[serde(borrow)]
        message: &'a RawValue,
    }

    #[derive(Deserialize)]
    struct BigArguments {
        bytes: usize,
    }

    #[derive(Deserialize)]
    struct InitializeParams<'a> {
        #[serde(borrow, rename = "protocolVersion")]
        protocol_version: Option<Cow<'a, str>>,
    }

    pub fn run(args: &[String]) -> ExitCode {
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            if arg == "--startup-delay-ms"
                && let Some(ms) = args.next().and_then(|ms| ms.parse().ok())
            {
                std::thread::sleep(Duration::from_millis(ms));
            }
        }
        let stdin = std::io::stdin().lock();
        let mut input = BufReader::with_capacity(64 * 1024, stdin);
        let mut output = BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
        let mut line = Vec::new();
        loop {
            line.clear();
            match input.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return ExitCode::SUCCESS,
                Ok(_) => {}
            }
            if answer(&line, &mut output).is_err() {
                return ExitCode::FAILURE;
            }
            // Flush only when no further request is already buffered.
            if input.buffer().is_empty() && output.flush().is_err() {
                return ExitCode::FAILURE;
            }
        }
    }

    fn answer(line: &[u8], out: &mut impl Write) -> std::io::Result<()> {
        let line = line.trim_ascii();
        if line.is_empty() {
            return Ok(());
        }
        let Ok(message) = serde_json::from_slice::<Message<'_>>(line) else {
            eprintln!("echo backend: unparsable line ignored");
            return Ok(());
        };
        let (Some(id), Some(method)) = (message.id, message.method) else {
            // Notifications and responses need no answer.
            return Ok(());
        };
        let id = id.get();
        let params = message.params.map_or("null", RawValue::get);
        match method.as_ref() {
            "initialize" => {
                let version = serde_json::from_str::<InitializeParams<'_>>(params)
                    .ok()
                    .and_then(|p| p.protocol_version)
                    .unwrap_or(Cow::Borrowed("2025-06-18"));
                let version = serde_json::to_string(&version).unwrap_or_default();
                writeln!(
                    out,
                    r#"{{"jsonrpc":"2.0","id":{id},"result":{{"protocolVersion":{version},"capabilities":{{"tools":{{}}}},"serverInfo":{{"name":"bench-echo","version":"1.0.0"}}}}}}"#
                )
            }
            "ping" => writeln!(out, r#"{{"jsonrpc":"2.0","id":{id},"result":{{}}}}"#),
            "tools/list" => writeln!(
                out,
                r#"{{"jsonrpc":"2.0","id":{id},"result":{{"tools":[{{"name":"echo","inputSchema":{{"type":"object","properties":{{"message":{{"type":"string"}}}},"required":["message"]}}}},{{"name":"big","inputSchema":{{"type":"object","properties":{{"bytes":{{"type":"integer"}}}},"required":["bytes"]}}}}]}}}}"#
            ),
            "tools/call" => call(id, params, out),
            other => {
                let other = serde_json::to_string(other).unwrap_or_default();
                writeln!(
                    out,
                    r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32601,"message":"method not found","data":{other}}}}}"#
                )
            }
        }
    }

    fn call(id: &str, params: &str, out: &mut impl Write) -> std::io::Result<()> {
        let call = serde_json::from_str::<CallParams<'_>>(params).ok();
        let arguments = call
            .as_ref()
            .and_then(|call| call.arguments)
            .map_or("null", RawValue::get);
        match call.as_ref().map(|call| call.name.as_ref()) {
            Some("echo") => {
                if let Ok(args) = serde_json::from_str::<EchoArguments<'_>>(arguments) {
                    write!(
                        out,
                        r#"{{"jsonrpc":"2.0","id":{id},"result":{{"content":[{{"type":"text","text":"#
                    )?;
                    out.write_all(args.message.get().as_bytes())?;
                    return out.write_all(b"}]}}\n");
                }
            }
            Some("big") => {
                if let Ok(args) = serde_json::from_str::<BigArguments>(arguments) {
                    write!(
                        out,
                        r#"{{"jsonrpc":"2.0","id":{id},"result":{{"content":[{{"type":"text","text":""#
                    )?;
                    let chunk = [b'x'; 64 * 1024];
                    let mut left = args.bytes;
                    while left > 0 {
                        let n = left.min(chunk.len());
                        out.write_all(&chunk[..n])?;
                        left -= n;
                    }
                    return out.write_all(b"\"}]}}\n");
                }
            }
            _ => {}
        }
        writeln!(
            out,
            r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32602,"message":"unknown tool or bad arguments"}}}}"#
        )
    }
}
