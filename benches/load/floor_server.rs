//! The floor: what this bench executable becomes when its first argument is [`FLOOR_ARG`].
//! The least any Streamable-HTTP-to-stdio bridge must do per call, so that `--against=floor`
//! measures the machine (loopback TCP, pipes, the wake-ups of two processes) rather than a
//! design, and the proxy's figures can be read as "floor + the proxy's own work".
//!
//! What it does: the proxy's runtime shape (one tokio worker thread), hyper HTTP/1.1, one
//! child per session, each POST body written to the child's stdin as one line (one `write`),
//! each stdout line matched to its waiting request by the raw text of its `id`, and sent back
//! as the JSON body. What it skips is everything that makes the proxy a product: no checks of
//! headers or JSON-RPC, no limits or budgets, no id rewriting (callers' ids must be unique
//! per session, as the bench's are), no SSE, no supervision, restarts, metrics or logs.
//!
//! Command line: `-p PORT -- COMMAND [ARGS...]` (other options before `--` are ignored);
//! it binds 127.0.0.1 and prints `listening on http://ADDRESS/mcp` on stderr, as the proxy does.

use std::collections::HashMap;
use std::convert::Infallible;
use std::process::{ExitCode, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};
use tokio::sync::oneshot;

/// First argument that turns this executable into the floor server.
pub const FLOOR_ARG: &str = "__hyper_mcp_bench_floor";

/// Longest wait for a child's answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(30);

/// The one member the floor reads from a message.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    id: Option<&'a RawValue>,
}

/// One session's child and the requests waiting for its answers.
struct Session {
    stdin: tokio::sync::Mutex<ChildStdin>,
    waiting: Mutex<HashMap<Box<[u8]>, oneshot::Sender<Bytes>>>,
    process: Mutex<Option<Child>>,
}

/// Every session, by the id the floor gave it.
#[derive(Default)]
struct Sessions {
    by_id: Mutex<HashMap<String, Arc<Session>>>,
    next: AtomicU64,
}

/// Runs the floor server until it is killed.
pub fn run(args: &[String]) -> ExitCode {
    let Some(split) = args.iter().position(|arg| arg == "--") else {
        eprintln!("floor: usage: -p PORT -- COMMAND [ARGS...]");
        return ExitCode::FAILURE;
    };
    let port = args[..split]
        .windows(2)
        .find(|pair| pair[0] == "-p")
        .and_then(|pair| pair[1].parse::<u16>().ok())
        .unwrap_or(0);
    let command: Arc<[String]> = args[split + 1..].into();
    if command.is_empty() {
        eprintln!("floor: no command after --");
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("floor: cannot start the runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(serve(port, command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("floor: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(port: u16, command: Arc<[String]>) -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    eprintln!("floor listening on http://{}/mcp", listener.local_addr()?);
    let sessions = Arc::new(Sessions::default());
    loop {
        let (stream, _) = listener.accept().await?;
        stream.set_nodelay(true)?;
        let (sessions, command) = (sessions.clone(), command.clone());
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let (sessions, command) = (sessions.clone(), command.clone());
                async move { Ok::<_, Infallible>(handle(request, &sessions, &command).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(
    request: Request<Incoming>,
    sessions: &Sessions,
    command: &[String],
) -> Response<Full<Bytes>> {
    let header = request
        .headers()
        .get("mcp-session-id")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    if request.method() == Method::DELETE {
        let removed = header.and_then(|id| sessions.by_id.lock().ok()?.remove(&id));
        if let Some(session) = removed {
            let process = session.process.lock().ok().and_then(|mut p| p.take());
            if let Some(mut process) = process {
                let _ = process.start_kill();
                tokio::spawn(async move { process.wait().await });
            }
        }
        return status(StatusCode::OK);
    }
    let body = match request.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return status(StatusCode::BAD_REQUEST),
    };
    let (session, new_id) = match header {
        Some(id) => match sessions
            .by_id
            .lock()
            .ok()
            .and_then(|map| map.get(&id).cloned())
        {
            Some(session) => (session, None),
            None => return status(StatusCode::NOT_FOUND),
        },
        None => match start_session(sessions, command) {
            Ok(opened) => opened,
            Err(_) => return status(StatusCode::INTERNAL_SERVER_ERROR),
        },
    };
    let id = match serde_json::from_slice::<Envelope<'_>>(&body) {
        Ok(envelope) => envelope.id.map(|id| Box::<[u8]>::from(id.get().as_bytes())),
        Err(_) => return status(StatusCode::BAD_REQUEST),
    };
    let answer = id.map(|id| {
        let (tx, rx) = oneshot::channel();
        if let Ok(mut waiting) = session.waiting.lock() {
            waiting.insert(id, tx);
        }
        rx
    });
    let mut line = Vec::with_capacity(body.len() + 1);
    line.extend_from_slice(&body);
    line.push(b'\n');
    if session.stdin.lock().await.write_all(&line).await.is_err() {
        return status(StatusCode::BAD_GATEWAY);
    }
    let Some(answer) = answer else {
        return status(StatusCode::ACCEPTED);
    };
    match tokio::time::timeout(ANSWER_TIMEOUT, answer).await {
        Ok(Ok(bytes)) => {
            let mut response = Response::new(Full::new(bytes));
            let headers = response.headers_mut();
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            if let Some(id) = new_id.and_then(|id| HeaderValue::from_str(&id).ok()) {
                headers.insert("mcp-session-id", id);
            }
            response
        }
        _ => status(StatusCode::GATEWAY_TIMEOUT),
    }
}

/// Spawns a child for a new session and the task that routes its answers.
fn start_session(
    sessions: &Sessions,
    command: &[String],
) -> std::io::Result<(Arc<Session>, Option<String>)> {
    let mut child = Command::new(&command[0])
        .args(&command[1..])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(std::io::ErrorKind::BrokenPipe.into());
    };
    let session = Arc::new(Session {
        stdin: tokio::sync::Mutex::new(stdin),
        waiting: Mutex::new(HashMap::new()),
        process: Mutex::new(Some(child)),
    });
    let reader = session.clone();
    tokio::spawn(async move {
        let mut lines = BufReader::new(stdout);
        let mut line = Vec::new();
        while lines
            .read_until(b'\n', &mut line)
            .await
            .is_ok_and(|n| n > 0)
        {
            let text = line.strip_suffix(b"\n").unwrap_or(&line);
            let id = serde_json::from_slice::<Envelope<'_>>(text)
                .ok()
                .and_then(|envelope| envelope.id)
                .map(|id| Box::<[u8]>::from(id.get().as_bytes()));
            let waiter = id.and_then(|id| reader.waiting.lock().ok()?.remove(&id));
            if let Some(waiter) = waiter {
                let _ = waiter.send(Bytes::copy_from_slice(text));
            }
            line.clear();
        }
    });
    let id = format!("floor-{}", sessions.next.fetch_add(1, Ordering::Relaxed));
    if let Ok(mut map) = sessions.by_id.lock() {
        map.insert(id.clone(), session.clone());
    }
    Ok((session, Some(id)))
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = code;
    response
}
