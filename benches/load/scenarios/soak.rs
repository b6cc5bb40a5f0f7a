//! `soak`: 10,000 sessions opened and closed on one proxy (half by DELETE, a quarter
//! abandoned during `initialize`, a quarter left to idle expiry) must leave its RSS and open
//! descriptors flat, and no child and no zombie behind.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::backend::Backend;
use crate::bounded::run_bounded;
use crate::echo_backend::INIT_DELAY_ARG;
use crate::mcp_client::Mcp;
use crate::metrics::Metrics;
use crate::procfs::{open_fds, rss_kib};
use crate::proxy::{Proxy, wait_for_children};
use crate::stats::Errors;

/// Sessions in all, the first [`WARM_UP`] of them before the first reading.
const SESSIONS: usize = 10_000;
const WARM_UP: usize = 1_000;
const CONCURRENCY: usize = 20;
/// The backend answers `initialize` this late, so an abandoning client leaves before it.
const INIT_DELAY_MS: u64 = 20;
/// An abandoning client closes its connection this long after sending `initialize`.
const ABANDON_AFTER: Duration = Duration::from_millis(8);
const IDLE_TIMEOUT: &str = "2s";
/// Bounds: on driving all sessions, and on each wait for the proxy to have no session.
const DRIVE_LIMIT: Duration = Duration::from_secs(240);
const QUIET_LIMIT: Duration = Duration::from_secs(30);
/// Pass thresholds.
const MAX_RSS_GROWTH_KIB: i64 = 5 * 1024;
const MAX_FD_DRIFT: i64 = 2;

const SESSIONS_GAUGE: &str = "hyper_mcp_proxy_sessions";
const CLOSED_TOTAL: &str = "hyper_mcp_proxy_sessions_closed_total";
const OPENED_TOTAL: &str = "hyper_mcp_proxy_sessions_opened_total";

/// How a session of the soak ends; session `i` ends the way `i % 4` says.
#[derive(Clone, Copy)]
enum Ending {
    Delete,
    Abandon,
    Idle,
}

impl Ending {
    fn of(i: usize) -> Ending {
        match i % 4 {
            0 | 1 => Ending::Delete,
            2 => Ending::Abandon,
            _ => Ending::Idle,
        }
    }
}

/// What one session did: whether an abandoning client got its answer before leaving.
#[derive(Default)]
struct Outcome {
    answered_before_abandon: bool,
}

/// Readings of the proxy once it has no session.
struct Quiet {
    rss_kib: u64,
    fds: usize,
    sessions_left: f64,
}

pub async fn scenario_soak(backend: Backend) -> Result<u64, String> {
    if backend != Backend::Echo {
        eprintln!("soak: runs on the echo backend (it needs its --init-delay-ms option)");
    }
    let init_delay = INIT_DELAY_MS.to_string();
    let proxy = Proxy::start_with(
        &["--session-idle-timeout", IDLE_TIMEOUT],
        &Backend::echo_with(&[INIT_DELAY_ARG, &init_delay]),
    )?;
    let errors = Arc::new(Errors::new("soak"));
    let deadline = Instant::now() + DRIVE_LIMIT;

    let (warm_secs, warm_done, warm_early) = drive(&proxy, 0..WARM_UP, deadline, &errors).await;
    let start = quiet(&proxy, &errors).await?;
    let (main_secs, main_done, main_early) =
        drive(&proxy, WARM_UP..SESSIONS, deadline, &errors).await;
    let end = quiet(&proxy, &errors).await?;

    let rows = proxy.all_children();
    let children_left = rows.len();
    let zombies = rows.iter().filter(|(_, state)| *state == 'Z').count();
    let metrics = Metrics::scrape(&proxy.metrics_url()).await?;

    let done = warm_done + main_done;
    if done < SESSIONS {
        errors.record(format!(
            "only {done} of {SESSIONS} sessions were driven within {DRIVE_LIMIT:?}"
        ));
    }
    let answered_early = warm_early + main_early;
    let growth_kib = end.rss_kib as i64 - start.rss_kib as i64;
    let thousands = main_done.max(1) as f64 / 1000.0;
    let fd_drift = end.fds as i64 - start.fds as i64;
    let checks = [
        ("rss_growth", growth_kib < MAX_RSS_GROWTH_KIB),
        ("fds_flat", fd_drift.abs() <= MAX_FD_DRIFT),
        ("no_children", children_left == 0),
        ("no_zombies", zombies == 0),
        ("no_sessions", end.sessions_left == 0.0),
    ];
    let failed = checks.iter().filter(|(_, ok)| !ok).count() as u64;
    let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
    println!(
        "soak: sessions={done} concurrency={CONCURRENCY} errors={} secs={:.1} sessions_per_s={:.0} rss_start_kib={} rss_end_kib={} rss_growth_kib={growth_kib} kib_per_1000_sessions={:.1} fds_start={} fds_end={} children_left={children_left} zombies={zombies} sessions_left={} opened={} closed={} abandon_answered_first={answered_early} {} backend=echo",
        errors.count(),
        warm_secs + main_secs,
        done as f64 / (warm_secs + main_secs),
        start.rss_kib,
        end.rss_kib,
        growth_kib as f64 / thousands,
        start.fds,
        end.fds,
        end.sessions_left,
        metrics.sum(OPENED_TOTAL),
        metrics.nonzero_by_label(CLOSED_TOTAL, "reason"),
        checks
            .iter()
            .map(|(name, ok)| format!("{name}={}", verdict(*ok)))
            .collect::<Vec<_>>()
            .join(" "),
    );
    proxy.report_log_problems("soak");
    Ok(errors.count() + failed)
}

/// Runs sessions `range` (their endings by index), [`CONCURRENCY`] at a time, on a client of
/// their own that is dropped at the end (so no keep-alive connection stays open). Returns the
/// time taken, how many ran, and how many abandoning clients got their answer first.
async fn drive(
    proxy: &Proxy,
    range: std::ops::Range<usize>,
    deadline: Instant,
    errors: &Arc<Errors>,
) -> (f64, usize, usize) {
    let mcp = Mcp::new(proxy);
    let first = range.start;
    let started = Instant::now();
    let outcomes = run_bounded(range.len(), CONCURRENCY, {
        let errors = errors.clone();
        move |n| {
            let (mcp, errors) = (mcp.clone(), errors.clone());
            async move {
                if Instant::now() >= deadline {
                    return None;
                }
                match one_session(&mcp, first + n).await {
                    Ok(outcome) => Some(outcome),
                    Err(err) => {
                        errors.record(err);
                        Some(Outcome::default())
                    }
                }
            }
        }
    })
    .await;
    let secs = started.elapsed().as_secs_f64();
    let done = outcomes.iter().flatten().count();
    let early = outcomes
        .iter()
        .flatten()
        .filter(|o| o.answered_before_abandon)
        .count();
    (secs, done, early)
}

/// Session `i`: open it, then end it the way [`Ending::of`] says.
async fn one_session(mcp: &Mcp, i: usize) -> Result<Outcome, String> {
    let ending = Ending::of(i);
    if let Ending::Abandon = ending {
        let answered = mcp.abandon_initialize(ABANDON_AFTER).await?;
        return Ok(Outcome {
            answered_before_abandon: answered,
        });
    }
    let (session, _) = mcp.open_session().await?;
    mcp.call_echo(&session, i as u64, "soak").await?;
    if let Ending::Delete = ending {
        mcp.delete(&session).await?;
    }
    Ok(Outcome::default())
}

/// Waits (bounded) until the proxy has no session and no child, lets it close the
/// connections of the dropped client, then reads its RSS and descriptor count.
async fn quiet(proxy: &Proxy, errors: &Errors) -> Result<Quiet, String> {
    let deadline = Instant::now() + QUIET_LIMIT;
    let mut sessions_left;
    loop {
        sessions_left = Metrics::scrape(&proxy.metrics_url())
            .await?
            .sum(SESSIONS_GAUGE);
        if sessions_left == 0.0 || Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if sessions_left != 0.0 {
        errors.record(format!(
            "{sessions_left} sessions still live after {QUIET_LIMIT:?}"
        ));
    }
    let left =
        wait_for_children(proxy, 0, deadline.saturating_duration_since(Instant::now())).await;
    if left != 0 {
        errors.record(format!("{left} backend processes still live"));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(Quiet {
        rss_kib: rss_kib(proxy.pid)?,
        fds: open_fds(proxy.pid)?,
        sessions_left,
    })
}
