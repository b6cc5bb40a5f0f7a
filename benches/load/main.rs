//! End-to-end load benchmark of the real `hyper-mcp-proxy` binary.
//!
//! Run the default scenarios: `cargo bench --bench load`
//! Run some:                  `cargo bench --bench load -- calls single`
//! Run an opt-in one:         `cargo bench --bench load -- soak` (or `flood`)
//! Other backend:     `cargo bench --bench load -- --backend=demo`
//! The machine's floor: `cargo bench --bench load -- --against=floor calls single payload`
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
//! `--against=floor` runs the scenarios against the floor server instead of the proxy (see
//! [`floor_server`]: the least any HTTP-to-stdio bridge must do per call; meaningful for
//! `calls`, `single` and `payload`), so that the proxy's figures can be split into what the
//! machine costs and what the proxy adds.
//!
//! Output: one line per scenario (per variant for `setup` and `setup_node`) on stdout,
//! `<scenario>: key=value ...`; diagnostics go to stderr. The process exits non-zero if any scenario saw an error.
//!
//! Scenarios:
//! - `calls`:   10 sessions x 10 concurrent callers x 500 calls (after a warm-up): requests/s,
//!   p50/p99 latency and the proxy's own CPU time per call (the sum of its threads'
//!   `schedstat`, nanoseconds; children excluded; 10 ms ticks of /proc/<pid>/stat where the
//!   kernel has no schedstat).
//! - `single`:  one caller, one session, sequential calls: p50/p99 round trip and the
//!   proxy's CPU per call (as for `calls`).
//! - `setup`:   sessions opened and DELETEd, without and with `--prespawn 4`, one line per
//!   variant: `burst` (3 rounds of 100 sessions opened 10 at a time), `sequential` (100, one
//!   at a time) and, with spares, `paced` (one at a time once the pool is full again):
//!   initialize p50/p99 (child spawn included), sessions/s, and the proxy's own CPU time per
//!   session (children excluded; replacement spares included) while opening and over open +
//!   DELETE. See `scenarios/setup.rs`.
//! - `setup_node`: the same against `@modelcontextprotocol/server-everything` on node
//!   (installed by npm under the target directory if absent; skipped with the reason when
//!   node or npm is unavailable): `sequential` (12 sessions) without spares, `paced` with
//!   `--prespawn 4`.
//! - `churn`:   calls on 5 open sessions while >= 20 new sessions are opening against a
//!   backend that takes 300 ms to start; latency of the calls made meanwhile.
//! - `memory`:  proxy RSS idle after start and with 100 idle sessions (`kib_per_session`),
//!   then 3 more open/close rounds of 100 sessions on the same proxy (`rounds_kib`):
//!   `kib_per_session_after_churn` is the resident cost once freed memory gets reused.
//! - `payload`: a 10 MiB `echo` and a 10 MiB `big` result, round-trip time.
//! - `interactive`: 2026-07-28 round trips through `--modern translate` over the demo server,
//!   4 callers x 500: each a `tools/call` answered `input_required` (elicitation) and its
//!   retry with the answer; round trips/s, p50/p99 and the proxy's CPU per round trip
//!   (schedstat). `HYPER_MCP_BENCH_ROUNDS_EACH=N` shortens it.
//!
//! Opt-in scenarios (run only when named; they take minutes or gigabytes, and print
//! `PASS`/`FAIL` per criterion; a `FAIL` makes the bench exit non-zero):
//! - `soak`:    10,000 sessions, 20 at a time, on one proxy with `--session-idle-timeout 2s`
//!   and a backend that answers `initialize` after 20 ms: half end by DELETE, a quarter are
//!   abandoned (the client closes its connection before the `initialize` answer), a quarter
//!   expire idle. RSS and open descriptors of the quiet proxy after the first 1,000 sessions
//!   and at the end (RSS growth < 5 MiB, descriptors ±2), children and zombies left (0),
//!   `sessions_closed_total` by reason.
//! - `flood`:   a backend that stops reading stdin after `initialize`; 150 POSTs of 8 MiB
//!   notifications as fast as possible (60 s at most) to a proxy started with
//!   `--max-session-buffer-bytes 32MiB --max-buffer-bytes 64MiB`: statuses by code and the
//!   proxy's peak RSS (sampled every 50 ms), which must stay under idle RSS + 64 MiB.
//!
//! The proxy runs with its default flags and log filter; `TOKIO_WORKER_THREADS` and the
//! proxy's `HYPER_MCP_PROXY_*` variables pass through to it. Profiling knobs:
//! - `HYPER_MCP_BENCH_WRAP="valgrind --tool=callgrind"` (or `heaptrack -o FILE`) runs the
//!   proxy under that command; /proc figures then follow the wrapped proxy process.
//! - `HYPER_MCP_BENCH_CALLS_EACH=N` shortens `calls` (N per caller) and `single` (N calls).
//!
//! This file owns the command line and the running of the selected scenarios; the modules
//! below own the rest.

mod backend;
mod bounded;
mod echo_backend;
mod floor_server;
mod mcp_client;
mod metrics;
mod modern_client;
mod node_backend;
mod procfs;
mod proxy;
mod scenarios;
mod stats;

use std::process::ExitCode;

use backend::Backend;
use echo_backend::ECHO_BACKEND_ARG;
use scenarios::flood::scenario_flood;
use scenarios::interactive::scenario_interactive;
use scenarios::payload::scenario_payload;
use scenarios::sessions::{scenario_churn, scenario_memory};
use scenarios::setup::{scenario_setup, scenario_setup_node};
use scenarios::soak::scenario_soak;
use scenarios::throughput::{scenario_calls, scenario_single};

/// The scenarios a run without names runs, in the order they run.
const SCENARIOS: [&str; 8] = [
    "calls",
    "single",
    "setup",
    "setup_node",
    "churn",
    "memory",
    "payload",
    "interactive",
];

/// Scenarios that run only when named (long, or heavy on memory).
const OPT_IN: [&str; 2] = ["soak", "flood"];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some(ECHO_BACKEND_ARG) {
        return echo_backend::run(&args[1..]);
    }
    if args.first().map(String::as_str) == Some(floor_server::FLOOR_ARG) {
        return floor_server::run(&args[1..]);
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
        } else if let Some(target) = arg.strip_prefix("--against=") {
            let against = match target {
                "proxy" => proxy::Against::Proxy,
                "floor" => proxy::Against::Floor,
                _ => {
                    eprintln!("load: unknown --against {target:?} (use proxy or floor)");
                    return ExitCode::FAILURE;
                }
            };
            proxy::AGAINST.get_or_init(|| against);
        } else if !arg.starts_with('-') {
            if !SCENARIOS.contains(&arg.as_str()) && !OPT_IN.contains(&arg.as_str()) {
                eprintln!(
                    "load: unknown scenario {arg:?}; known: {} (opt-in: {})",
                    SCENARIOS.join(" "),
                    OPT_IN.join(" ")
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
                "setup_node" => scenario_setup_node().await,
                "churn" => scenario_churn(backend).await,
                "memory" => scenario_memory(backend).await,
                "payload" => scenario_payload(backend).await,
                "interactive" => scenario_interactive().await,
                "soak" => scenario_soak(backend).await,
                "flood" => scenario_flood(backend).await,
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
        eprintln!("load: some scenario had errors or failed a check");
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
