//! `SparePool` against real processes: filling, replacement, expiry, backoff, shutdown.

use std::path::PathBuf;

use super::*;
use crate::budget::GlobalBudgets;
use crate::index::SessionIndex;

const DEADLINE: Duration = Duration::from_secs(10);

fn sh(script: &str) -> CommandSpec {
    CommandSpec {
        program: PathBuf::from("sh"),
        args: vec!["-c".into(), script.into()],
    }
}

fn config(command: CommandSpec, count: usize) -> PoolConfig {
    PoolConfig {
        command,
        count,
        max_age: None,
        kill_grace: Duration::from_secs(2),
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(200),
        refill_pause: Duration::ZERO,
    }
}

fn metrics() -> Arc<ProxyMetrics> {
    Arc::new(ProxyMetrics::new(
        Arc::new(SessionIndex::default()),
        GlobalBudgets::new(1024),
    ))
}

/// The value of the sample named exactly `series` (with its labels).
fn sample(metrics: &ProxyMetrics, series: &str) -> u64 {
    let text = metrics.render();
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no sample {series}:\n{text}"))
        .parse()
        .unwrap()
}

async fn eventually(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + DEADLINE;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Whether `pid` runs (a zombie does not).
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| Some(stat.rsplit_once(')')?.1.trim_start().starts_with('Z')))
        .is_some_and(|zombie| !zombie)
}

/// Whether `pid` is gone from the process table: exited and reaped.
fn reaped(pid: u32) -> bool {
    !std::path::Path::new(&format!("/proc/{pid}")).exists()
}

#[tokio::test]
async fn fills_to_count_and_a_taken_spare_is_replaced() {
    let metrics = metrics();
    let pool = SparePool::start(config(sh("exec cat"), 2), metrics.clone());
    eventually("two spares are ready", || pool.pids().len() == 2).await;
    let before = pool.pids();
    assert!(before.iter().all(|pid| alive(*pid)), "{before:?}");
    assert_eq!(sample(&metrics, "hyper_mcp_proxy_spare_children"), 2);

    let (mut process, pipes, first_answer) = pool.take().expect("a spare is ready");
    drop(first_answer);
    assert_eq!(process.pid(), before[0], "the oldest spare goes first");
    eventually("a replacement is ready", || pool.pids().len() == 2).await;
    let after = pool.pids();
    assert_eq!(after[0], before[1]);
    assert!(!before.contains(&after[1]), "{before:?} {after:?}");
    assert_eq!(
        sample(
            &metrics,
            "hyper_mcp_proxy_child_spawns_total{outcome=\"ok\"}"
        ),
        3
    );

    // The taken spare is a working child: it answers on its pipes.
    let ChildPipes {
        mut stdin, stdout, ..
    } = pipes;
    use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
    stdin.write_all(b"hello\n").await.unwrap();
    let mut line = String::new();
    let mut reader = tokio::io::BufReader::new(stdout);
    tokio::time::timeout(DEADLINE, reader.read_line(&mut line))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(line, "hello\n");
    assert_eq!(
        process.stop(Some(stdin), Duration::from_secs(2)).await,
        ExitReport::Code(0)
    );

    pool.shutdown().await;
    for pid in after {
        assert!(reaped(pid), "spare {pid} survived the shutdown");
    }
    assert_eq!(sample(&metrics, "hyper_mcp_proxy_spare_children"), 0);
    assert_eq!(
        sample(
            &metrics,
            "hyper_mcp_proxy_child_exits_total{cause=\"stopped\"}"
        ),
        2
    );
}

#[tokio::test]
async fn a_replacement_waits_for_the_refill_pause_after_the_first_take() {
    const PAUSE: Duration = Duration::from_millis(400);
    let metrics = metrics();
    let pool = SparePool::start(
        PoolConfig {
            refill_pause: PAUSE,
            ..config(sh("exec cat"), 3)
        },
        metrics.clone(),
    );
    eventually("three spares are ready", || pool.pids().len() == 3).await;
    let first_take = Instant::now();
    let first = pool.take().expect("a spare is ready");
    eventually("the first take is seen", || pool.pids().len() == 2).await;
    // A second take within the pause does not push the refill further out.
    let second = pool.take().expect("a spare is ready");
    eventually("both replacements are ready", || pool.pids().len() == 3).await;
    let borns = pool.borns();
    assert!(
        borns[1..].iter().all(|born| *born >= first_take + PAUSE),
        "a replacement started before the pause had passed: {:?} after the take",
        borns
            .iter()
            .map(|born| born.saturating_duration_since(first_take))
            .collect::<Vec<_>>()
    );
    for (mut process, pipes, _first_answer) in [first, second] {
        process
            .stop(Some(pipes.stdin), Duration::from_secs(2))
            .await;
    }
    pool.shutdown().await;
}

#[tokio::test]
async fn a_replacement_starts_once_the_taken_spare_has_answered() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let metrics = metrics();
    let pool = SparePool::start(
        PoolConfig {
            // Longer than the test's deadline: only the answer can start the refill.
            refill_pause: Duration::from_secs(3600),
            ..config(sh("exec cat"), 1)
        },
        metrics.clone(),
    );
    eventually("a spare is ready", || pool.pids().len() == 1).await;
    let (mut process, pipes, first_answer) = pool.take().expect("a spare is ready");
    let ChildPipes {
        mut stdin, stdout, ..
    } = pipes;
    let mut stdout = AnswerWatch::new(stdout, first_answer);
    stdin.write_all(b"{}\n").await.unwrap();
    let mut answer = [0u8; 3];
    tokio::time::timeout(DEADLINE, stdout.read_exact(&mut answer))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&answer, b"{}\n");
    eventually("the replacement is ready", || pool.pids().len() == 1).await;
    process.stop(Some(stdin), Duration::from_secs(2)).await;
    pool.shutdown().await;
}

#[tokio::test]
async fn a_spare_that_exits_while_waiting_is_replaced_and_counted() {
    let metrics = metrics();
    let pool = SparePool::start(config(sh("exec cat"), 2), metrics.clone());
    eventually("two spares are ready", || pool.pids().len() == 2).await;
    let before = pool.pids();
    // SAFETY: plain kill(2) on a child this test started.
    assert_eq!(unsafe { libc::kill(before[0] as i32, libc::SIGKILL) }, 0);
    eventually("the killed spare is replaced", || {
        let pids = pool.pids();
        pids.len() == 2 && !pids.contains(&before[0])
    })
    .await;
    assert!(reaped(before[0]), "the killed spare was not reaped");
    assert_eq!(
        sample(
            &metrics,
            "hyper_mcp_proxy_spare_children_replaced_total{reason=\"exited\"}"
        ),
        1
    );
    assert_eq!(
        sample(
            &metrics,
            "hyper_mcp_proxy_child_exits_total{cause=\"signal\"}"
        ),
        1
    );
    pool.shutdown().await;
}

#[tokio::test]
async fn a_dead_spare_is_never_handed_out() {
    let metrics = metrics();
    let pool = SparePool::start(config(sh("exec cat"), 1), metrics.clone());
    eventually("a spare is ready", || pool.pids().len() == 1).await;
    let dead = pool.pids()[0];
    // Whether the maintainer swept it first or `take` meets it, a dead spare is skipped:
    // `take` hands out a live replacement or nothing.
    // SAFETY: plain kill(2) on a child this test started.
    assert_eq!(unsafe { libc::kill(dead as i32, libc::SIGKILL) }, 0);
    eventually("the spare's exit is published", || reaped(dead)).await;
    if let Some((process, _pipes, _first_answer)) = pool.take() {
        assert_ne!(process.pid(), dead, "an exited spare was handed out");
    }
    pool.shutdown().await;
}

#[tokio::test]
async fn a_spare_older_than_max_age_is_stopped_and_replaced() {
    let metrics = metrics();
    let pool = SparePool::start(
        PoolConfig {
            max_age: Some(Duration::from_millis(300)),
            ..config(sh("exec cat"), 1)
        },
        metrics.clone(),
    );
    eventually("a spare is ready", || pool.pids().len() == 1).await;
    let first = pool.pids()[0];
    eventually(
        "the spare is replaced",
        || matches!(pool.pids().as_slice(), [pid] if *pid != first),
    )
    .await;
    eventually("the expired spare is stopped and reaped", || reaped(first)).await;
    assert!(
        sample(
            &metrics,
            "hyper_mcp_proxy_spare_children_replaced_total{reason=\"expired\"}"
        ) >= 1
    );
    assert_eq!(
        sample(
            &metrics,
            "hyper_mcp_proxy_spare_children_replaced_total{reason=\"exited\"}"
        ),
        0
    );
    pool.shutdown().await;
}

#[tokio::test]
async fn a_command_that_cannot_start_is_retried_with_backoff() {
    let metrics = metrics();
    let command = CommandSpec {
        program: PathBuf::from("/nonexistent/server"),
        args: vec![],
    };
    let pool = SparePool::start(config(command, 2), metrics.clone());
    let failed = "hyper_mcp_proxy_child_spawns_total{outcome=\"failed\"}";
    eventually("a spawn failed", || sample(&metrics, failed) >= 1).await;
    // Backoff 50 ms doubling to 200 ms: about 6 attempts a second, not thousands.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let attempts = sample(&metrics, failed);
    assert!((3..=12).contains(&attempts), "{attempts} attempts in ~1 s");
    assert!(pool.pids().is_empty());
    pool.shutdown().await;
}

#[tokio::test]
async fn a_server_that_exits_at_once_is_not_restarted_in_a_hot_loop() {
    let metrics = metrics();
    let pool = SparePool::start(config(sh("exit 3"), 1), metrics.clone());
    let exited = "hyper_mcp_proxy_spare_children_replaced_total{reason=\"exited\"}";
    eventually("a spare exited", || sample(&metrics, exited) >= 1).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let spawns = sample(
        &metrics,
        "hyper_mcp_proxy_child_spawns_total{outcome=\"ok\"}",
    );
    assert!((3..=12).contains(&spawns), "{spawns} spawns in ~1 s");
    pool.shutdown().await;
}

#[tokio::test]
async fn draining_stops_the_refills_and_shutdown_stops_every_spare() {
    let metrics = metrics();
    let pool = SparePool::start(config(sh("exec cat"), 2), metrics.clone());
    eventually("two spares are ready", || pool.pids().len() == 2).await;
    pool.drain();
    let (mut taken, pipes, _first_answer) = pool.take().expect("a spare is ready");
    // Nothing to await: the absence of a replacement needs a little time to show.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let left = pool.pids();
    assert_eq!(left.len(), 1, "a taken spare was replaced while draining");
    assert_eq!(
        sample(
            &metrics,
            "hyper_mcp_proxy_child_spawns_total{outcome=\"ok\"}"
        ),
        2
    );
    pool.shutdown().await;
    assert!(reaped(left[0]), "a spare survived the shutdown");
    taken.stop(Some(pipes.stdin), Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_spare_ignoring_stdin_and_sigterm_is_killed_at_shutdown() {
    let metrics = metrics();
    let pool = SparePool::start(
        PoolConfig {
            kill_grace: Duration::from_millis(100),
            ..config(sh("trap '' TERM; while true; do sleep 1; done"), 1)
        },
        metrics.clone(),
    );
    eventually("a spare is ready", || pool.pids().len() == 1).await;
    let pid = pool.pids()[0];
    tokio::time::timeout(DEADLINE, pool.shutdown())
        .await
        .expect("the shutdown is bounded");
    assert!(reaped(pid), "the stubborn spare survived");
}
