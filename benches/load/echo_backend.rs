//! The echo backend: what this bench executable becomes when its first argument is
//! [`ECHO_BACKEND_ARG`]. A minimal, fast stdio MCP server (`initialize`, `ping`,
//! `tools/list`, `tools/call` of `echo` and `big`): one blocking loop over stdin lines, the
//! echoed text copied verbatim, so nearly all the measured work is the proxy's.
//!
//! Options: `--startup-delay-ms N` (sleep before reading anything), [`INIT_DELAY_ARG`] `N`
//! (sleep before answering `initialize`) and [`NEVER_READ_ARG`] (answer `initialize`, then
//! never read stdin again).

use std::borrow::Cow;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::process::ExitCode;
use std::time::Duration;

use serde::Deserialize;
use serde_json::value::RawValue;

/// First argument that turns this executable into the echo backend.
pub const ECHO_BACKEND_ARG: &str = "__hyper_mcp_bench_echo_backend";

/// Option: milliseconds to wait before answering `initialize`.
pub const INIT_DELAY_ARG: &str = "--init-delay-ms";

/// Option: after answering `initialize`, stop reading stdin (a stuck server).
pub const NEVER_READ_ARG: &str = "--never-read";

/// How long a backend that stopped reading waits at most before it exits anyway.
const NEVER_READ_LIMIT: Duration = Duration::from_secs(300);

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
    let mut init_delay = Duration::ZERO;
    let mut never_read = false;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        if arg == "--startup-delay-ms"
            && let Some(ms) = args.next().and_then(|ms| ms.parse().ok())
        {
            std::thread::sleep(Duration::from_millis(ms));
        } else if arg == INIT_DELAY_ARG
            && let Some(ms) = args.next().and_then(|ms| ms.parse().ok())
        {
            init_delay = Duration::from_millis(ms);
        } else if arg == NEVER_READ_ARG {
            never_read = true;
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
        let answered_initialize = match answer(&line, init_delay, &mut output) {
            Ok(answered_initialize) => answered_initialize,
            Err(_) => return ExitCode::FAILURE,
        };
        if never_read && answered_initialize {
            if output.flush().is_err() {
                return ExitCode::FAILURE;
            }
            return stop_reading();
        }
        // Flush only when no further request is already buffered.
        if input.buffer().is_empty() && output.flush().is_err() {
            return ExitCode::FAILURE;
        }
    }
}

/// Never reads stdin again: sleeps until the proxy that started it is gone (or a limit
/// passes), so a stuck backend cannot outlive the bench.
fn stop_reading() -> ExitCode {
    // SAFETY: getppid(2) has no preconditions.
    let parent = unsafe { libc::getppid() };
    let deadline = std::time::Instant::now() + NEVER_READ_LIMIT;
    // SAFETY: as above.
    while unsafe { libc::getppid() } == parent && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    ExitCode::SUCCESS
}

/// Answers one line; returns whether it was `initialize`.
fn answer(line: &[u8], init_delay: Duration, out: &mut impl Write) -> std::io::Result<bool> {
    let line = line.trim_ascii();
    if line.is_empty() {
        return Ok(false);
    }
    let Ok(message) = serde_json::from_slice::<Message<'_>>(line) else {
        eprintln!("echo backend: unparsable line ignored");
        return Ok(false);
    };
    let (Some(id), Some(method)) = (message.id, message.method) else {
        // Notifications and responses need no answer.
        return Ok(false);
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
            if !init_delay.is_zero() {
                std::thread::sleep(init_delay);
            }
            writeln!(
                out,
                r#"{{"jsonrpc":"2.0","id":{id},"result":{{"protocolVersion":{version},"capabilities":{{"tools":{{}}}},"serverInfo":{{"name":"bench-echo","version":"1.0.0"}}}}}}"#
            )?;
            return Ok(true);
        }
        "ping" => writeln!(out, r#"{{"jsonrpc":"2.0","id":{id},"result":{{}}}}"#)?,
        "tools/list" => writeln!(
            out,
            r#"{{"jsonrpc":"2.0","id":{id},"result":{{"tools":[{{"name":"echo","inputSchema":{{"type":"object","properties":{{"message":{{"type":"string"}}}},"required":["message"]}}}},{{"name":"big","inputSchema":{{"type":"object","properties":{{"bytes":{{"type":"integer"}}}},"required":["bytes"]}}}}]}}}}"#
        )?,
        "tools/call" => call(id, params, out)?,
        other => {
            let other = serde_json::to_string(other).unwrap_or_default();
            writeln!(
                out,
                r#"{{"jsonrpc":"2.0","id":{id},"error":{{"code":-32601,"message":"method not found","data":{other}}}}}"#
            )?
        }
    }
    Ok(false)
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
