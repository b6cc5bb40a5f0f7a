//! The cost of opening sessions: `setup` (echo backend) and `setup_node`
//! (`@modelcontextprotocol/server-everything`), each with and without `--prespawn 4`.
//!
//! One line per variant, `<scenario>: variant=<name> ...`:
//! - `burst`: R rounds of S sessions opened C at a time, then DELETEd. Besides the latencies,
//!   `sessions_per_s`.
//! - `sequential`: the same, one session at a time.
//! - `paced` (with `--prespawn`): one session at a time, each once the pool is full again and
//!   a pause has passed, so every session finds a ready spare whose program has loaded: the
//!   warm start `--prespawn` is for.
//!
//! The proxy's own CPU per session (children excluded) is measured from the pool being full
//! (or no child) before a round until the pool is full again after its sessions opened, so
//! starting the replacement spares is included: `proxy_cpu_ms_per_session` sums the proxy's
//! threads' `schedstat` (nanoseconds); `proxy_cpu_ticks_ms_per_session` is the same from
//! `/proc/<pid>/stat` (10 ms ticks, exited threads included), as a cross-check;
//! `proxy_cpu_ms_per_session_with_delete` goes on until every session's child was reaped.
//! Where the rest of the machine's CPU goes, over the same whole cycle: `child_cpu_ms_per_session`
//! (the backends the proxy reaped: their start, `initialize`, exit) and
//! `client_cpu_ms_per_session` (this bench). With C sessions opening at once, initialize p50
//! cannot be below about C × (the three together) / cores.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backend::Backend;
use crate::bounded::run_bounded;
use crate::mcp_client::{Mcp, Session};
use crate::node_backend;
use crate::procfs::{cpu_ns, cpu_ticks, live_children, reaped_children_ticks, ticks_to_us};
use crate::proxy::Proxy;
use crate::stats::{Errors, Stats};

/// Spares in the pre-spawning variants (the issue's `--prespawn 4`).
const PRESPAWN: usize = 4;

/// How long the pool may take to fill up or a round's children to be reaped.
const SETTLE_LIMIT: Duration = Duration::from_secs(30);

/// How sessions are opened in one variant.
#[derive(Clone, Copy)]
enum Opening {
    /// `concurrency` at a time, as fast as they open.
    Burst { concurrency: usize },
    /// One at a time, each once the pool is full and `pause` has passed.
    Paced { pause: Duration },
}

/// One variant: a fresh proxy, `rounds` × `sessions`.
struct Variant<'a> {
    scenario: &'static str,
    name: &'static str,
    backend: &'a str,
    command: &'a [String],
    prespawn: usize,
    rounds: usize,
    sessions: usize,
    opening: Opening,
}

/// Echo backend: burst (3 × 100, 10 at a time) and sequential (100), without and with
/// `--prespawn 4`, then paced with it.
pub async fn scenario_setup(backend: Backend) -> Result<u64, String> {
    let command = backend.command(None);
    let base = Variant {
        scenario: "setup",
        name: "burst",
        backend: backend.name(),
        command: &command,
        prespawn: 0,
        rounds: 3,
        sessions: 100,
        opening: Opening::Burst { concurrency: 10 },
    };
    let variants = [
        Variant { ..base },
        Variant {
            name: "sequential",
            rounds: 1,
            opening: Opening::Burst { concurrency: 1 },
            ..base
        },
        Variant {
            prespawn: PRESPAWN,
            ..base
        },
        Variant {
            name: "sequential",
            prespawn: PRESPAWN,
            rounds: 1,
            opening: Opening::Burst { concurrency: 1 },
            ..base
        },
        Variant {
            name: "paced",
            prespawn: PRESPAWN,
            rounds: 1,
            opening: Opening::Paced {
                pause: Duration::from_millis(20),
            },
            ..base
        },
    ];
    run_all(&variants).await
}

/// `server-everything` on node: sequential (12 sessions) without `--prespawn`, paced with it
/// (a pause of 1 s, well beyond node's start, so each spare has loaded its code).
pub async fn scenario_setup_node() -> Result<u64, String> {
    let command = match node_backend::command() {
        Ok(command) => command,
        Err(reason) => {
            println!("setup_node: skipped ({reason})");
            return Ok(0);
        }
    };
    let base = Variant {
        scenario: "setup_node",
        name: "sequential",
        backend: "server-everything",
        command: &command,
        prespawn: 0,
        rounds: 1,
        sessions: 12,
        opening: Opening::Burst { concurrency: 1 },
    };
    let variants = [
        Variant { ..base },
        Variant {
            name: "paced",
            prespawn: PRESPAWN,
            opening: Opening::Paced {
                pause: Duration::from_secs(1),
            },
            ..base
        },
    ];
    run_all(&variants).await
}

/// Runs each variant on a proxy of its own; the errors of all.
async fn run_all(variants: &[Variant<'_>]) -> Result<u64, String> {
    let mut errors = 0;
    for variant in variants {
        errors += measure(variant).await?;
    }
    Ok(errors)
}

/// Runs one variant and prints its line.
async fn measure(variant: &Variant<'_>) -> Result<u64, String> {
    let prespawn = variant.prespawn.to_string();
    let flags: Vec<&str> = if variant.prespawn > 0 {
        vec!["--prespawn", &prespawn]
    } else {
        Vec::new()
    };
    let proxy = Proxy::start_with(&flags, variant.command)?;
    let mcp = Mcp::new(&proxy);
    // Warm the connection pool and the proxy with one session that is not counted.
    let warm = mcp.open_session().await?.0;
    mcp.delete(&warm).await?;
    settle(&proxy, variant.prespawn).await?;

    let errors = Arc::new(Errors::new(variant.scenario));
    let mut init_latencies = Vec::new();
    let mut delete_latencies = Vec::new();
    let (mut open_secs, mut open_ns, mut open_ticks, mut cycle_ns) = (0.0, 0, 0, 0);
    let (mut child_ticks, mut client_ticks) = (0, 0);
    let me = std::process::id();
    for _ in 0..variant.rounds {
        let (ns_before, ticks_before) = cpu(&proxy);
        let children_before = reaped_children_ticks(proxy.pid).unwrap_or(0);
        let client_before = cpu_ticks(me).unwrap_or(0);
        let started = Instant::now();
        let opened = open(&proxy, &mcp, variant, &errors).await;
        open_secs += started.elapsed().as_secs_f64();
        if let Err(err) = settle(&proxy, opened.len() + variant.prespawn).await {
            errors.record(err);
        }
        let (ns_opened, ticks_opened) = cpu(&proxy);
        open_ns += ns_opened.saturating_sub(ns_before);
        open_ticks += ticks_opened.saturating_sub(ticks_before);
        let (sessions, latencies): (Vec<Session>, Vec<Duration>) = opened.into_iter().unzip();
        init_latencies.extend(latencies);
        delete_latencies.extend(delete_all(&mcp, sessions, &errors).await);
        if let Err(err) = settle(&proxy, variant.prespawn).await {
            errors.record(err);
            break;
        }
        cycle_ns += cpu(&proxy).0.saturating_sub(ns_before);
        child_ticks += reaped_children_ticks(proxy.pid)
            .unwrap_or(0)
            .saturating_sub(children_before);
        client_ticks += cpu_ticks(me).unwrap_or(0).saturating_sub(client_before);
    }
    let opened = init_latencies.len().max(1) as f64;
    let init = Stats::of(&mut init_latencies);
    let delete = Stats::of(&mut delete_latencies);
    let per_session_ms = |ns: u64| ns as f64 / 1e6 / opened;
    let ticks_per_session_ms = |ticks: u64| ticks_to_us(ticks) / 1000.0 / opened;
    let (opening, rate) = match variant.opening {
        Opening::Burst { concurrency } => (
            format!("concurrency={concurrency}"),
            format!(" sessions_per_s={:.1}", opened / open_secs),
        ),
        Opening::Paced { pause } => (format!("pause_ms={}", pause.as_millis()), String::new()),
    };
    println!(
        "{}: variant={} prespawn={} {opening} sessions={} rounds={} errors={} init_p50_ms={:.2} init_p99_ms={:.2} init_max_ms={:.2}{rate} proxy_cpu_ms_per_session={:.3} proxy_cpu_ticks_ms_per_session={:.3} proxy_cpu_ms_per_session_with_delete={:.3} child_cpu_ms_per_session={:.3} client_cpu_ms_per_session={:.3} delete_p50_ms={:.2} delete_p99_ms={:.2} backend={}",
        variant.scenario,
        variant.name,
        variant.prespawn,
        init_latencies.len(),
        variant.rounds,
        errors.count(),
        init.p50_ms,
        init.p99_ms,
        init.max_ms,
        per_session_ms(open_ns),
        ticks_per_session_ms(open_ticks),
        per_session_ms(cycle_ns),
        ticks_per_session_ms(child_ticks),
        ticks_per_session_ms(client_ticks),
        delete.p50_ms,
        delete.p99_ms,
        variant.backend,
    );
    proxy.report_log_problems(variant.scenario);
    Ok(errors.count())
}

/// The proxy's CPU so far: (nanoseconds from schedstat, clock ticks).
fn cpu(proxy: &Proxy) -> (u64, u64) {
    let ticks = cpu_ticks(proxy.pid).unwrap_or(0);
    // Without schedstat, fall back to the ticks (10 ms each).
    let ns = cpu_ns(proxy.pid).unwrap_or_else(|| (ticks_to_us(ticks) * 1000.0) as u64);
    (ns, ticks)
}

/// Opens the round's sessions the way `variant` says; the ones that opened, with their
/// initialize round-trip times.
async fn open(
    proxy: &Proxy,
    mcp: &Mcp,
    variant: &Variant<'_>,
    errors: &Arc<Errors>,
) -> Vec<(Session, Duration)> {
    match variant.opening {
        Opening::Burst { concurrency } => {
            let opened = run_bounded(variant.sessions, concurrency, {
                let mcp = mcp.clone();
                let errors = errors.clone();
                move |_| {
                    let mcp = mcp.clone();
                    let errors = errors.clone();
                    async move {
                        mcp.open_session()
                            .await
                            .map_err(|err| errors.record(err))
                            .ok()
                    }
                }
            })
            .await;
            opened.into_iter().flatten().collect()
        }
        Opening::Paced { pause } => {
            let mut opened = Vec::new();
            for _ in 0..variant.sessions {
                if let Err(err) = settle(proxy, opened.len() + variant.prespawn).await {
                    errors.record(err);
                    break;
                }
                tokio::time::sleep(pause).await;
                match mcp.open_session().await {
                    Ok(session) => opened.push(session),
                    Err(err) => errors.record(err),
                }
            }
            opened
        }
    }
}

/// DELETEs every session, 10 at a time; the DELETE latencies.
async fn delete_all(mcp: &Mcp, sessions: Vec<Session>, errors: &Arc<Errors>) -> Vec<Duration> {
    let sessions = Arc::new(sessions);
    let deletes = run_bounded(sessions.len(), 10, {
        let mcp = mcp.clone();
        let errors = errors.clone();
        move |i| {
            let (mcp, errors, sessions) = (mcp.clone(), errors.clone(), sessions.clone());
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
    deletes.into_iter().flatten().collect()
}

/// Waits (bounded) until the proxy has exactly `children` live children: the sessions' and
/// a full pool of spares.
async fn settle(proxy: &Proxy, children: usize) -> Result<(), String> {
    let deadline = Instant::now() + SETTLE_LIMIT;
    loop {
        let live = live_children(proxy.pid).unwrap_or_else(|| proxy.children().len());
        if live == children {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "{live} backend processes after {SETTLE_LIMIT:?}, expected {children}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
