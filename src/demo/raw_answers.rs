//! Tools that write their answer to stdout themselves, the way a careless or abrupt server
//! does: an answer followed at once by the process's exit, an answer with a raw invalid UTF-8
//! byte, and an answer cut off mid-line. They exist so the proxy's tests can check that such an
//! answer is still delivered (or, when it cannot be read, fails its request at once).

use serde_json::Value;

use super::args::ToolArguments;
use super::error::RpcError;
use super::logging::LogLevel;
use super::request::text_result;
use super::request::{Reply, RequestContext};
use super::state::ServerState;
use super::wire;

/// The text `answer_and_exit` answers with.
pub const ANSWER_AND_EXIT_TEXT: &str = "answered, then exited";
/// The text `invalid_utf8` answers with; [`INVALID_BYTE`] replaces the `?` on the wire.
pub const INVALID_UTF8_TEXT: &str = "before?after";
/// The byte `invalid_utf8` writes: never valid in UTF-8.
pub const INVALID_BYTE: u8 = 0xff;

/// Sends `logs` log notifications, writes the answer, waits until it is flushed to stdout and
/// exits the process with code 0 at once: the answer is the last thing the process does.
pub async fn answer_and_exit(
    state: &ServerState,
    request: &RequestContext,
    args: &ToolArguments<'_>,
) -> Result<String, RpcError> {
    let logs = args.optional_u64("logs", 0)?;
    for number in 1..=logs {
        state
            .log(
                request,
                LogLevel::Info,
                Value::from(format!("log {number} of {logs}")),
            )
            .await;
    }
    let answer = wire::success(
        request.id.clone(),
        request.era_result(text_result(ANSWER_AND_EXIT_TEXT.to_owned())),
    );
    state.outbox.send(&answer).await;
    state.outbox.flushed().await;
    note!("demo server: answered, exiting with code 0 as asked");
    std::process::exit(0)
}

/// Writes a successful answer whose text holds the raw byte [`INVALID_BYTE`] (so the line is
/// not UTF-8), then goes on serving.
pub async fn invalid_utf8(
    state: &ServerState,
    request: &RequestContext,
) -> Result<Reply, RpcError> {
    let answer = wire::success(
        request.id.clone(),
        request.era_result(text_result(INVALID_UTF8_TEXT.to_owned())),
    );
    let mut line = serde_json::to_vec(&answer).map_err(|e| RpcError::internal(e.to_string()))?;
    let marker = line
        .windows(INVALID_UTF8_TEXT.len())
        .position(|window| window == INVALID_UTF8_TEXT.as_bytes())
        .ok_or_else(|| RpcError::internal("the answer lost its text".to_owned()))?;
    line[marker + INVALID_UTF8_TEXT.find('?').unwrap_or(0)] = INVALID_BYTE;
    state.outbox.send_raw_bytes(line).await;
    Ok(Reply::Written)
}

/// Writes the start of an answer to this request, cut off inside its result (so the line is
/// not JSON, but its id can be read), then goes on serving.
pub async fn broken_answer(
    state: &ServerState,
    request: &RequestContext,
) -> Result<Reply, RpcError> {
    let id = serde_json::to_string(&request.id).map_err(|e| RpcError::internal(e.to_string()))?;
    let line = format!(
        r#"{{"jsonrpc":"2.0","id":{id},"result":{{"content":[{{"type":"text","text":"cut off"#
    );
    state.outbox.send_raw_line(&line).await;
    Ok(Reply::Written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_invalid_byte_is_not_utf8_and_replaces_one_ascii_character() {
        assert!(std::str::from_utf8(&[INVALID_BYTE]).is_err());
        assert_eq!(INVALID_UTF8_TEXT.matches('?').count(), 1);
    }
}
