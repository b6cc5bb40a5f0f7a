//! Large messages: `payload`, a 10 MiB `echo` request and a 10 MiB `big` result.

use serde_json::json;

use crate::backend::Backend;
use crate::mcp_client::{Mcp, check_text, close_sessions};
use crate::procfs::rss_kib;
use crate::proxy::Proxy;
use crate::stats::{Errors, Stats};

/// A 10 MiB echo request and a 10 MiB result to a small request.
pub async fn scenario_payload(backend: Backend) -> Result<u64, String> {
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
        "payload: bytes={BYTES} runs={RUNS} errors={} echo_ok={echo_ok} echo_p50_ms={:.1} echo_max_ms={:.1} big_ok={big_ok} big_p50_ms={:.1} big_max_ms={:.1} proxy_rss_kib={} backend={} against={}",
        errors.count(),
        echo.p50_ms,
        echo.max_ms,
        big.p50_ms,
        big.max_ms,
        rss_kib(proxy.pid).unwrap_or(0),
        backend.name(),
        crate::proxy::against_name(),
    );
    close_sessions(&mcp, &[session], &errors).await;
    proxy.report_log_problems("payload");
    Ok(errors.count())
}
