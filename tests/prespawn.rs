//! Pre-spawned children (`--prespawn N`), against the real binary: spares exist before any
//! session, a new session (and a restart after a crash) takes one, so its `initialize` skips
//! the server's slow start, and a replacement is started; a spare that dies while waiting is
//! replaced and counted, a spare older than `--prespawn-max-age` is stopped, reaped and
//! replaced, and SIGTERM stops every spare with the sessions' children.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::demo::server_pid;
use common::metric_names::{EXITS, RESTARTS, SPARES, SPARES_REPLACED as REPLACED, SPAWNS};
use common::restart::{assert_server_exited, exited_with_code, send_signal};
use common::{BIN, Proxy};
use serde_json::json;

/// The demo server's slow start in the tests that need one.
const SLOW_START: Duration = Duration::from_millis(2000);

/// The proxy's live (non-zombie) direct children.
fn children(proxy: &Proxy) -> BTreeSet<u32> {
    common::children_of(proxy.pid()).into_iter().collect()
}

/// Waits (bounded) until the proxy has exactly `count` live children; returns them.
async fn wait_children(proxy: &Proxy, count: usize) -> BTreeSet<u32> {
    let mut seen = BTreeSet::new();
    common::eventually(&format!("the proxy has {count} children"), || {
        seen = children(proxy);
        seen.len() == count
    })
    .await;
    seen
}

/// Waits (bounded) until the scrape shows `value` for `name{labels}`.
async fn wait_metric(proxy: &Proxy, name: &str, labels: &[(&str, &str)], value: f64) {
    let what = format!("{name}{labels:?} is {value}");
    common::eventually_async(&what, || async {
        proxy.scrape().await.get(name, labels) == value
    })
    .await;
}

/// Time of a whole `initialize` (request and answer) on a new session of `proxy`.
async fn timed_initialize(proxy: &Proxy) -> (common::Client, Duration) {
    let mut client = proxy.client();
    let started = Instant::now();
    client.initialize().await;
    let took = started.elapsed();
    (client, took)
}

#[tokio::test]
async fn a_session_takes_a_spare_that_already_did_its_slow_start() {
    let delay = SLOW_START.as_millis().to_string();
    let proxy = Proxy::start(
        &["--prespawn", "2"],
        &[BIN, "demo-server", "--startup-delay-ms", &delay],
    );
    let spares = wait_children(&proxy, 2).await;
    wait_metric(&proxy, SPARES, &[], 2.0).await;
    // The spares sleep through their slow start before reading stdin; nothing outside them
    // shows when it ends, so wait it out (plus a margin).
    tokio::time::sleep(SLOW_START + Duration::from_millis(300)).await;

    let (client, took) = timed_initialize(&proxy).await;
    eprintln!("initialize with --prespawn 2 on a {SLOW_START:?} slow start: {took:?}");
    assert!(
        took < Duration::from_millis(1000),
        "initialize took {took:?}: the slow start was not done ahead"
    );
    let pid = server_pid(&client, 1).await;
    assert!(
        spares.contains(&pid),
        "the session's server {pid} is not one of the spares {spares:?}"
    );

    // A replacement starts: the session's child and two spares again.
    let now = wait_children(&proxy, 3).await;
    assert!(now.contains(&pid), "{now:?}");
    assert_eq!(now.difference(&spares).count(), 1, "{spares:?} → {now:?}");
    wait_metric(&proxy, SPARES, &[], 2.0).await;
    let scraped = proxy.scrape().await;
    assert_eq!(scraped.get(SPAWNS, &[("outcome", "ok")]), 3.0);
    assert_eq!(scraped.get(SPAWNS, &[("outcome", "failed")]), 0.0);
    proxy
        .logged("the session's child is a spare", |line| {
            line.contains("MCP server process started") && line.contains("spare=true")
        })
        .await;
}

#[tokio::test]
async fn without_prespawn_initialize_waits_for_the_slow_start() {
    let delay = SLOW_START.as_millis().to_string();
    let proxy = Proxy::start(&[], &[BIN, "demo-server", "--startup-delay-ms", &delay]);
    assert!(children(&proxy).is_empty(), "a child before any session");
    let (client, took) = timed_initialize(&proxy).await;
    eprintln!("initialize without --prespawn on a {SLOW_START:?} slow start: {took:?}");
    assert!(took >= SLOW_START, "initialize took {took:?}");
    let pid = server_pid(&client, 1).await;
    assert_eq!(children(&proxy), BTreeSet::from([pid]));
    let scraped = proxy.scrape().await;
    assert_eq!(scraped.get(SPARES, &[]), 0.0);
}

#[tokio::test]
async fn a_spare_killed_while_waiting_is_replaced_and_counted() {
    let proxy = Proxy::start(&["--prespawn", "2"], &[]);
    let spares = wait_children(&proxy, 2).await;
    let victim = *spares.first().expect("a spare");
    send_signal(victim, libc::SIGKILL);

    common::eventually("the killed spare is replaced", || {
        let now = children(&proxy);
        now.len() == 2 && !now.contains(&victim)
    })
    .await;
    wait_metric(&proxy, REPLACED, &[("reason", "exited")], 1.0).await;
    wait_metric(&proxy, SPARES, &[], 2.0).await;
    let scraped = proxy.scrape().await;
    assert_eq!(scraped.get(REPLACED, &[("reason", "expired")]), 0.0);
    assert_eq!(scraped.get(EXITS, &[("cause", "signal")]), 1.0);
    assert_eq!(scraped.get(SPAWNS, &[("outcome", "ok")]), 3.0);
    common::eventually("the killed spare is reaped", || {
        !std::path::Path::new(&format!("/proc/{victim}")).exists()
    })
    .await;
}

#[tokio::test]
async fn spares_older_than_max_age_are_stopped_reaped_and_replaced() {
    let proxy = Proxy::start(&["--prespawn", "1", "--prespawn-max-age", "1s"], &[]);
    let first = *wait_children(&proxy, 1).await.first().expect("a spare");
    common::eventually("the expired spare is replaced", || {
        let now = children(&proxy);
        now.len() == 1 && !now.contains(&first)
    })
    .await;
    // Stopped and reaped by the proxy: not even a zombie is left.
    common::eventually("the expired spare is reaped", || {
        !std::path::Path::new(&format!("/proc/{first}")).exists()
    })
    .await;
    let scraped = proxy.scrape().await;
    assert!(scraped.get(REPLACED, &[("reason", "expired")]) >= 1.0);
    assert_eq!(scraped.get(REPLACED, &[("reason", "exited")]), 0.0);
    assert!(scraped.get(EXITS, &[("cause", "stopped")]) >= 1.0);
    let zombies: Vec<_> = common::processes()
        .into_iter()
        .filter(|p| p.ppid == proxy.pid() && p.state == 'Z')
        .collect();
    assert!(zombies.is_empty(), "{zombies:?}");
}

#[tokio::test]
async fn sigterm_with_spares_ready_stops_every_child_and_exits_0() {
    let proxy = Proxy::start(&["--prespawn", "2"], &[]);
    let client = common::session(&proxy).await;
    let session_child = server_pid(&client, 1).await;
    let all = wait_children(&proxy, 3).await;
    assert!(all.contains(&session_child));

    proxy.signal(libc::SIGTERM);
    let (proxy, code) = tokio::task::spawn_blocking(move || {
        let mut proxy = proxy;
        let code = proxy.wait_exit();
        (proxy, code)
    })
    .await
    .expect("wait for the proxy");
    assert_eq!(code, Some(0), "log:\n{}", proxy.log());
    for pid in all {
        assert!(!common::group_alive(pid), "process group {pid} survived");
    }
    assert!(
        proxy.log().contains("every spare child stopped"),
        "{}",
        proxy.log()
    );
}

#[tokio::test]
async fn a_crash_restart_takes_a_spare() {
    let proxy = Proxy::start(&["--prespawn", "2"], &[]);
    let client = common::session(&proxy).await;
    let first = server_pid(&client, 1).await;
    let mut all = wait_children(&proxy, 3).await;
    wait_metric(&proxy, SPARES, &[], 2.0).await;
    assert!(all.remove(&first));
    let spares = all;

    let answer = client.call_tool(2, "crash", json!({})).await;
    assert_server_exited(&answer, 2, exited_with_code(1, 1));
    let second = server_pid(&client, 3).await;
    assert!(
        spares.contains(&second),
        "the restarted server {second} is not one of the spares {spares:?}"
    );
    // The taken spare is replaced: the session's child and two spares again.
    let now = wait_children(&proxy, 3).await;
    assert!(now.contains(&second) && !now.contains(&first), "{now:?}");
    wait_metric(&proxy, SPARES, &[], 2.0).await;
    let scraped = proxy.scrape().await;
    assert_eq!(scraped.get(RESTARTS, &[]), 1.0);
}
