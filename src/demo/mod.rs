//! The built-in demo stdio MCP server (`hyper-mcp-proxy demo-server`).
//!
//! It speaks newline-delimited JSON-RPC 2.0 on stdin/stdout and offers a set
//! of tools, resources and prompts designed to exercise a proxy: progress,
//! cancellation, server-to-client requests, notifications, crashes, huge and
//! malformed output (`raw_answers.rs`: answers written by hand), stderr noise. The options in [`DemoOptions`] simulate
//! awkward process behaviour (slow start, early exit, ignoring SIGTERM,
//! lingering, stray grandchildren).
//!
//! Like the official SDKs' stdio servers it speaks both MCP eras, one per process: the first
//! request pins the era (`era.rs`). A legacy process (2024-11-05 … 2025-11-25, `initialize`
//! first) behaves as the demo always has; a modern one (2026-07-28, an envelope on every
//! request) answers `server/discover`, completes every result (`modern.rs`) and asks the
//! client for input with `input_required` results instead of requests (`input_required.rs`)
//! and serves `subscriptions/listen` streams (`listens.rs`).
//!
//! This file owns the options and the serve loop: reading stdin line by line,
//! spawning one task per request, and the orderly shutdown at EOF.

/// Writes a line to the demo server's stderr and ignores a failure: a server whose parent
/// stopped reading its stderr (the era probe does, before stopping it) must not panic the
/// way `eprintln!` does on a closed pipe.
macro_rules! note {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

mod args;
mod asking;
mod catalog;
mod client_requests;
mod dispatch;
mod envelope;
mod era;
mod error;
mod in_flight;
mod input_required;
#[cfg(test)]
mod input_required_tests;
mod listens;
mod logging;
mod modern;
#[cfg(test)]
mod modern_tests;
mod raw_answers;
mod request;
mod state;
#[cfg(test)]
mod test_client;
#[cfg(test)]
mod tests;
mod tool_list;
mod tools;
mod wire;

use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, BufReader};

use in_flight::{TaskToken, TaskTracker, Ticket};
use request::{Reply, RequestContext};
use state::ServerState;
use wire::Incoming;

/// Options of `hyper-mcp-proxy demo-server`; they exist for tests and
/// benchmarks of the proxy.
#[derive(Debug, Clone, Default, clap::Parser)]
#[command(
    name = "hyper-mcp-proxy demo-server",
    bin_name = "hyper-mcp-proxy demo-server",
    about = "Demo stdio MCP server for testing and benchmarking hyper-mcp-proxy"
)]
pub struct DemoOptions {
    /// Sleep this many milliseconds before reading stdin (a slow-starting server).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub startup_delay_ms: u64,

    /// Print a note to stderr and exit with this code before reading anything.
    #[arg(long, value_name = "CODE")]
    pub exit_before_init: Option<i32>,

    /// Answer every `initialize` with this protocol version, whatever the client asked.
    #[arg(long, value_name = "VERSION")]
    pub protocol_version: Option<String>,

    /// Ignore SIGTERM, so that a graceful stop has to escalate to SIGKILL.
    #[arg(long)]
    pub ignore_sigterm: bool,

    /// After stdin reaches EOF, keep running (and answering) this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub linger_after_eof_ms: u64,

    /// At start, spawn `sleep 1000` in this process group and never wait for
    /// it, to check that the proxy kills the whole group.
    #[arg(long)]
    pub fork_grandchild: bool,

    /// Do not record received messages (the `received` tool then answers `[]`), so a
    /// long benchmark run keeps neither the memory nor the copy of every message.
    #[arg(long)]
    pub no_record: bool,
}

/// Serves MCP on this process's stdin/stdout until stdin reaches EOF.
///
/// At EOF it lingers for `--linger-after-eof-ms`, then stops: requests still
/// in flight are cancelled (those that can answer without waiting still do),
/// every queued line is written, and it returns `Ok`. Some tools and options
/// end the process directly (`crash`, `--exit-before-init`).
pub async fn serve_stdio(options: DemoOptions) -> io::Result<()> {
    if let Some(code) = options.exit_before_init {
        note!("demo server: exiting before initialize as asked");
        std::process::exit(code);
    }
    // Before ignoring SIGTERM, so the grandchild keeps the default disposition.
    if options.fork_grandchild {
        spawn_grandchild();
    }
    if options.ignore_sigterm {
        ignore_sigterm();
    }
    if options.startup_delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(options.startup_delay_ms)).await;
    }
    serve(&options, tokio::io::stdin(), tokio::io::stdout()).await
}

/// The serve loop over any byte streams (stdin/stdout in production, in-memory
/// pipes in tests).
async fn serve<R, W>(options: &DemoOptions, input: R, output: W) -> io::Result<()>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let (outbox, writer) = wire::spawn_writer(output);
    let mut state = ServerState::new(outbox.clone(), options.protocol_version.clone());
    if options.no_record {
        state = state.without_recording();
    }
    let state = Arc::new(state);
    let tracker = TaskTracker::new();

    let read_result = read_messages(&state, &tracker, input).await;
    match &read_result {
        Ok(()) => note!("demo server: stdin closed"),
        Err(cause) => note!("demo server: reading stdin failed: {cause}"),
    }
    if options.linger_after_eof_ms > 0 {
        tokio::time::sleep(Duration::from_millis(options.linger_after_eof_ms)).await;
    }
    // Requests that can answer without waiting still do; see `spawn_request`.
    state.in_flight.cancel_all();
    tracker.wait_for_all().await;
    outbox.close().await;
    drop(state);
    let write_result = match writer.await {
        Ok(Err(cause)) if cause.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Ok(result) => result,
        Err(join_error) => Err(io::Error::other(join_error)),
    };
    read_result.and(write_result)
}

async fn read_messages<R>(
    state: &Arc<ServerState>,
    tracker: &TaskTracker,
    input: R,
) -> io::Result<()>
where
    R: AsyncRead + Unpin,
{
    let mut input = BufReader::new(input);
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line).await? == 0 {
            return Ok(());
        }
        handle_line(state, tracker, &line).await;
    }
}

async fn handle_line(state: &Arc<ServerState>, tracker: &TaskTracker, line: &[u8]) {
    let message = match wire::parse_line(line) {
        Ok(Some(message)) => message,
        Ok(None) => return,
        Err(error) => {
            state.outbox.send(&wire::failure(Value::Null, &error)).await;
            return;
        }
    };
    let received_index = state.record_received(line.trim_ascii());
    match wire::classify(message) {
        Ok(Incoming::Request { id, method, params }) => {
            // Admitted here, in arrival order, so the first request line pins the era even if a
            // later one's task happens to run first.
            match era::admit(&state.era, &method, params.as_ref()) {
                Ok(envelope) => {
                    let request = RequestContext {
                        id,
                        method,
                        params,
                        received_index,
                        envelope,
                    };
                    spawn_request(Arc::clone(state), tracker.token(), request);
                }
                Err(refusal) => state.outbox.send(&wire::failure(id, &refusal)).await,
            }
        }
        Ok(Incoming::Notification { method, params }) => {
            dispatch::handle_notification(state, &method, params.as_ref());
        }
        Ok(Incoming::Response { id, outcome }) => {
            if !state.client_requests.resolve(&id, outcome) {
                note!("demo server: ignoring a response to unknown request id {id}");
            }
        }
        Err(invalid) => state.outbox.send(&invalid.reply()).await,
    }
}

/// Handles one request on its own task so slow requests never block others.
/// A cancelled request gets no response at all.
fn spawn_request(state: Arc<ServerState>, token: TaskToken, request: RequestContext) {
    let Ticket { number, cancelled } = state.in_flight.register(&request.id);
    tokio::spawn(async move {
        let _token = token;
        let outcome = tokio::select! {
            // Handler first: a request that can answer at once still does,
            // even when cancelled before its task first ran.
            biased;
            outcome = dispatch::handle_request(&state, &request) => Some(outcome),
            _ = cancelled => None,
        };
        state.in_flight.finish(number);
        let reply = match outcome {
            Some(Ok(Reply::Result(result))) => wire::success(request.id, result),
            Some(Ok(Reply::Written)) => return,
            Some(Err(error)) => wire::failure(request.id, &error),
            None => {
                note!(
                    "demo server: request {} cancelled; not answering",
                    request.id
                );
                return;
            }
        };
        state.outbox.send(&reply).await;
    });
}

fn ignore_sigterm() {
    // SAFETY: `signal` with `SIG_IGN` installs no handler code, so nothing can
    // run in signal context; it only changes this process's SIGTERM disposition.
    let previous = unsafe { libc::signal(libc::SIGTERM, libc::SIG_IGN) };
    if previous == libc::SIG_ERR {
        note!(
            "demo server: could not ignore SIGTERM: {}",
            io::Error::last_os_error()
        );
    } else {
        note!("demo server: ignoring SIGTERM as asked");
    }
}

/// Spawns `sleep 1000` in our process group. A detached thread reaps it if it
/// ever exits, so the server itself never waits for it.
fn spawn_grandchild() {
    let spawned = std::process::Command::new("sleep")
        .arg("1000")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    match spawned {
        Ok(mut child) => {
            note!(
                "demo server: spawned grandchild `sleep 1000` with pid {}",
                child.id()
            );
            std::thread::spawn(move || child.wait());
        }
        Err(cause) => note!("demo server: could not spawn grandchild: {cause}"),
    }
}

/// Locks a mutex, ignoring poisoning: every critical section in this module
/// leaves its data consistent, so a panic elsewhere cannot corrupt it.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
