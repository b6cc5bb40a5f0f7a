//! `tools/call`: what each demo tool does. The catalog `tools/list` shows
//! lives in `tool_list.rs`; argument checking lives in `args.rs`; the tools
//! that need the client live in `asking.rs`.
//!
//! On a modern-pinned process a tool may send only notifications about its
//! own request (progress, logs the request asked for, `notifications/demo/custom`):
//! `ping_client` and `tick`, which cannot work so, answer a tool error (`isError`),
//! and `notify` sends the list-changed and resource-updated notifications only to
//! the open `subscriptions/listen` streams that opted in, tagged with their ids.

use std::time::Duration;

use serde_json::{Number, Value, json};
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;

use super::args::{ToolArguments, required_param_str};
use super::asking;
use super::error::RpcError;
use super::logging::LogLevel;
use super::raw_answers;
use super::request::{Reply, RequestContext, json_text, text_result, tool_error_result};
use super::state::ServerState;
use super::tool_list;
use super::wire;

/// Upper bound for `big`, so a typo cannot make the server abort on allocation.
pub const BIG_MAX_BYTES: u64 = 512 * 1024 * 1024;
/// The line the `garbage` tool writes to stdout.
pub const GARBAGE_LINE: &str = "this is not json";

/// Runs one `tools/call`. Every tool answers with a single text content item, except the
/// tools of `raw_answers.rs`, which write their answer themselves.
pub async fn call(state: &ServerState, request: &RequestContext) -> Result<Reply, RpcError> {
    let params = request.params_or_null();
    let name = required_param_str(params, "name", "tools/call")?;
    if !tool_list::is_known(name) {
        return Err(RpcError::invalid_params(format!("Unknown tool: {name}")));
    }
    let args = ToolArguments::new(name, params.get("arguments"))?;
    let text = match name {
        "answer_and_exit" => raw_answers::answer_and_exit(state, request, &args).await?,
        "invalid_utf8" => return raw_answers::invalid_utf8(state, request).await,
        "broken_answer" => return raw_answers::broken_answer(state, request).await,
        "sample" | "elicit" | "roots" => {
            return asking::call(state, request, &args, name)
                .await
                .map(Reply::Result);
        }
        "ping_client" | "tick" if request.is_modern() => {
            return Ok(Reply::Result(tool_error_result(format!(
                "tool `{name}` needs what a 2026-07-28 server must not do \
                 (a request to the client, or notifications after its request ended)"
            ))));
        }
        "tick" => tick(state, &args)?,
        "echo" => args.required_str("message")?.to_owned(),
        "add" => add(&args)?,
        "sleep" => sleep(state, request, &args).await?,
        "crash" => crash(&args)?,
        "ping_client" => {
            state
                .client_requests
                .call(&state.outbox, "ping", None)
                .await?;
            "pong".to_owned()
        }
        "notify" => notify(state, request).await,
        "log" => log(state, request, &args).await?,
        "big" => big(&args)?,
        "fail" => return Err(fail(&args)?),
        "garbage" => {
            state.outbox.send_raw_line(GARBAGE_LINE).await;
            "garbage sent".to_owned()
        }
        "stderr" => write_stderr_lines(&args).await?,
        "pid" => std::process::id().to_string(),
        "received" => {
            let received = Value::Array(state.received_except(request.received_index));
            json_text(&received)?
        }
        other => {
            return Err(RpcError::internal(format!(
                "tool `{other}` is listed but not implemented"
            )));
        }
    };
    Ok(Reply::Result(text_result(text)))
}

/// Integer operands (as their source text says) add exactly; anything else
/// adds as `f64` and prints the way JSON numbers print.
pub fn add(args: &ToolArguments<'_>) -> Result<String, RpcError> {
    let a = args.required_number("a")?;
    let b = args.required_number("b")?;
    if let (Some(a), Some(b)) = (as_i128(a), as_i128(b)) {
        return Ok((a + b).to_string());
    }
    let (Some(a), Some(b)) = (a.as_f64(), b.as_f64()) else {
        return Err(args.invalid("`a` and `b` must be finite numbers"));
    };
    Number::from_f64(a + b)
        .map(|sum| sum.to_string())
        .ok_or_else(|| args.invalid("the sum is not a finite number"))
}

fn as_i128(number: &Number) -> Option<i128> {
    number
        .as_i64()
        .map(i128::from)
        .or_else(|| number.as_u64().map(i128::from))
}

async fn sleep(
    state: &ServerState,
    request: &RequestContext,
    args: &ToolArguments<'_>,
) -> Result<String, RpcError> {
    let ms = args.required_u64("ms")?;
    let steps = args.optional_u64("steps", 5)?;
    if steps == 0 {
        return Err(args.invalid("`steps` must be at least 1"));
    }
    let progress_token = request.progress_token().cloned();
    let start = Instant::now();
    for step in 1..=steps {
        let elapsed_ms = slice_end_ms(ms, step, steps);
        match start.checked_add(Duration::from_millis(elapsed_ms)) {
            Some(deadline) => tokio::time::sleep_until(deadline).await,
            // Beyond what the clock can represent: sleep until cancelled.
            None => std::future::pending::<()>().await,
        }
        if let Some(token) = &progress_token {
            let progress = json!({
                "progressToken": token,
                "progress": step,
                "total": steps,
                "message": format!("step {step} of {steps}"),
            });
            state.notify("notifications/progress", Some(progress)).await;
        }
    }
    Ok(format!("slept {ms} ms"))
}

/// When slice `step` of `steps` ends, in ms after the start (never overflows).
pub fn slice_end_ms(total_ms: u64, step: u64, steps: u64) -> u64 {
    let end = u128::from(total_ms) * u128::from(step) / u128::from(steps.max(1));
    u64::try_from(end).unwrap_or(total_ms)
}

fn crash(args: &ToolArguments<'_>) -> Result<String, RpcError> {
    let code = args.optional_i64("code", 1)?;
    let code =
        i32::try_from(code).map_err(|_| args.invalid("`code` must fit in a 32-bit integer"))?;
    note!("demo server: crashing with exit code {code} as asked");
    std::process::exit(code)
}

async fn notify(state: &ServerState, request: &RequestContext) -> String {
    let list_changed = [
        "notifications/tools/list_changed",
        "notifications/resources/list_changed",
        "notifications/prompts/list_changed",
    ];
    if request.is_modern() {
        for message in state.listens.changes() {
            state.outbox.send(&message).await;
        }
    } else {
        for method in list_changed {
            state.notify(method, None).await;
        }
        for uri in state.subscriptions() {
            state
                .notify(
                    "notifications/resources/updated",
                    Some(json!({ "uri": uri })),
                )
                .await;
        }
    }
    state
        .log(request, LogLevel::Info, json!("notify called"))
        .await;
    state
        .notify(
            "notifications/demo/custom",
            Some(json!({ "hello": "world" })),
        )
        .await;
    "notified".to_owned()
}

async fn log(
    state: &ServerState,
    request: &RequestContext,
    args: &ToolArguments<'_>,
) -> Result<String, RpcError> {
    let level_name = args.required_str("level")?;
    let level = LogLevel::parse(level_name).ok_or_else(|| {
        args.invalid(&format!("`level` must be one of {}", LogLevel::spellings()))
    })?;
    let message = args.required_str("message")?;
    state.log(request, level, json!(message)).await;
    Ok("logged".to_owned())
}

fn big(args: &ToolArguments<'_>) -> Result<String, RpcError> {
    let too_big = || args.invalid(&format!("`bytes` must be at most {BIG_MAX_BYTES}"));
    let bytes = args.required_u64("bytes")?;
    if bytes > BIG_MAX_BYTES {
        return Err(too_big());
    }
    let bytes = usize::try_from(bytes).map_err(|_| too_big())?;
    Ok("x".repeat(bytes))
}

/// The error the `fail` tool answers with (`Err` when its own arguments are bad).
fn fail(args: &ToolArguments<'_>) -> Result<RpcError, RpcError> {
    let code = args.required_i64("code")?;
    let message = args.required_str("message")?;
    let error = RpcError::new(code, message);
    Ok(match args.raw("data") {
        Some(data) => error.with_data(data.clone()),
        None => error,
    })
}

/// Starts a background task that sends `notifications/message` (`tick 1`, `tick 2`, ...)
/// every `ms` milliseconds until the process ends: a server that talks while its client is
/// silent.
fn tick(state: &ServerState, args: &ToolArguments<'_>) -> Result<String, RpcError> {
    let ms = args.required_u64("ms")?;
    if ms == 0 {
        return Err(args.invalid("`ms` must be at least 1"));
    }
    let outbox = state.outbox.clone();
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_millis(ms));
        // The first tick of an interval completes at once: skip it, so ticks come every `ms`.
        interval.tick().await;
        for count in 1u64.. {
            interval.tick().await;
            let params =
                json!({ "level": "info", "logger": "demo", "data": format!("tick {count}") });
            outbox
                .send(&wire::notification("notifications/message", Some(params)))
                .await;
        }
    });
    Ok(format!("ticking every {ms} ms"))
}

async fn write_stderr_lines(args: &ToolArguments<'_>) -> Result<String, RpcError> {
    const BATCH_BYTES: usize = 64 * 1024;
    let lines = args.required_u64("lines")?;
    let mut stderr = tokio::io::stderr();
    let mut batch = String::new();
    for line in 1..=lines {
        batch.push_str(&format!("demo stderr line {line}\n"));
        if batch.len() >= BATCH_BYTES || line == lines {
            stderr.write_all(batch.as_bytes()).await.map_err(|cause| {
                RpcError::internal(format!("writing to stderr failed: {cause}"))
            })?;
            batch.clear();
        }
    }
    stderr
        .flush()
        .await
        .map_err(|cause| RpcError::internal(format!("flushing stderr failed: {cause}")))?;
    Ok(format!("wrote {lines} lines"))
}

#[cfg(test)]
mod tests {
    use super::super::error::INVALID_PARAMS;
    use super::*;

    fn sum(arguments: Value) -> Result<String, RpcError> {
        add(&ToolArguments::new("add", Some(&arguments))?)
    }

    #[test]
    fn add_keeps_integers_integral() {
        assert_eq!(sum(json!({"a": 2, "b": 3})), Ok("5".to_owned()));
        assert_eq!(sum(json!({"a": -7, "b": 3})), Ok("-4".to_owned()));
        assert_eq!(
            sum(json!({"a": u64::MAX, "b": u64::MAX})),
            Ok("36893488147419103230".to_owned())
        );
        assert_eq!(sum(json!({"a": 2.5, "b": 0.25})), Ok("2.75".to_owned()));
        assert_eq!(sum(json!({"a": 1, "b": 0.5})), Ok("1.5".to_owned()));
    }

    #[test]
    fn add_rejects_non_numbers() {
        let error = sum(json!({"a": "2", "b": 3})).expect_err("string");
        assert_eq!(error.code, INVALID_PARAMS);
        assert_eq!(
            error.message,
            "Invalid arguments for tool `add`: `a` must be a number"
        );
        assert!(sum(json!({"a": 1})).is_err());
        assert!(
            sum(json!({"a": 1e308, "b": 1e308})).is_err(),
            "overflows to infinity"
        );
    }

    #[test]
    fn sleep_slices_are_equal_and_end_exactly_at_the_total() {
        assert_eq!(slice_end_ms(100, 1, 5), 20);
        assert_eq!(slice_end_ms(100, 5, 5), 100);
        assert_eq!(slice_end_ms(10, 1, 3), 3);
        assert_eq!(slice_end_ms(10, 3, 3), 10);
        assert_eq!(slice_end_ms(u64::MAX, u64::MAX, u64::MAX), u64::MAX);
    }

    #[test]
    fn big_and_fail_follow_their_arguments() {
        let args = ToolArguments::new("big", Some(&json!({"bytes": 3}))).expect("object");
        assert_eq!(big(&args), Ok("xxx".to_owned()));
        let args =
            ToolArguments::new("big", Some(&json!({"bytes": BIG_MAX_BYTES + 1}))).expect("object");
        assert!(big(&args).is_err());

        let args = ToolArguments::new("fail", Some(&json!({"code": -32001, "message": "m"})))
            .expect("object");
        assert_eq!(fail(&args), Ok(RpcError::new(-32001, "m")));
        let args = ToolArguments::new(
            "fail",
            Some(&json!({"code": 1, "message": "m", "data": null})),
        )
        .expect("object");
        assert_eq!(
            fail(&args),
            Ok(RpcError::new(1, "m").with_data(Value::Null))
        );
        let args = ToolArguments::new("fail", Some(&json!({"code": 1.5, "message": "m"})))
            .expect("object");
        assert!(fail(&args).is_err());
    }
}
