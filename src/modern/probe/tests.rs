//! The era probe against real `sh` children: every fixture records its pid first, so each
//! test can check that the probe child was reaped once the verdict is in.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use super::*;

/// Probe timeout for fixtures that answer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// Probe timeout for fixtures that never answer.
const SILENCE_TIMEOUT: Duration = Duration::from_millis(300);
/// Each step of the stop's escalation.
const GRACE: Duration = Duration::from_millis(100);
/// How long a condition checked by polling may take.
const POLL_DEADLINE: Duration = Duration::from_secs(5);

/// Exits once a descendant recorded in `$3` has left the fixture's process group.
const AFTER_ESCAPE: &str = r#"while [ ! -s "$3" ]; do sleep 0.01; done; exit 0"#;

/// A dual-era server's answer to the probe.
const MODERN_ANSWER: &str = r#"{"jsonrpc":"2.0","id":"hyper-mcp-proxy-era-probe","result":{"resultType":"complete","supportedVersions":["2026-07-28"],"capabilities":{"tools":{}},"ttlMs":0,"cacheScope":"private","_meta":{"io.modelcontextprotocol/serverInfo":{"name":"fixture","version":"1.0"}}}}"#;

/// The `result` of [`MODERN_ANSWER`].
fn modern_discover() -> Value {
    let answer: Value = serde_json::from_str(MODERN_ANSWER).unwrap();
    answer["result"].clone()
}

/// A per-test directory for the fixture's pid and the request it read; removed on drop.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new(test: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("era-probe-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch { dir }
    }

    fn pid_file(&self) -> PathBuf {
        self.dir.join("pid")
    }

    fn request_file(&self) -> PathBuf {
        self.dir.join("request")
    }

    /// Where a fixture records the pid of a descendant that escaped its process group.
    fn escaped_file(&self) -> PathBuf {
        self.dir.join("escaped")
    }

    /// `sh -c script` that first writes its pid to the pid file; `$2` is the request file,
    /// `$3` the escaped descendant's pid file.
    fn fixture(&self, script: &str) -> CommandSpec {
        CommandSpec {
            program: PathBuf::from("sh"),
            args: vec![
                "-c".into(),
                format!("echo $$ > \"$1\"; {script}"),
                "sh".into(),
                self.pid_file().display().to_string(),
                self.request_file().display().to_string(),
                self.escaped_file().display().to_string(),
            ],
        }
    }

    /// The fixture's pid, once it has written it.
    async fn pid(&self) -> i32 {
        read_pid(self.pid_file()).await
    }

    /// Asserts that the fixture's process no longer exists: not running, not a zombie.
    async fn assert_child_gone(&self) {
        let pid = self.pid().await;
        let deadline = Instant::now() + POLL_DEADLINE;
        while !pid_gone(pid) {
            assert!(
                Instant::now() < deadline,
                "the probe child {pid} still exists"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The pid in `path`, once a fixture has written it.
async fn read_pid(path: PathBuf) -> i32 {
    let deadline = Instant::now() + POLL_DEADLINE;
    loop {
        if let Ok(text) = std::fs::read_to_string(&path)
            && let Ok(pid) = text.trim().parse()
        {
            return pid;
        }
        assert!(Instant::now() < deadline, "no pid in {}", path.display());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// SIGKILLs a process that left the probe child's group (which the probe cannot reach).
struct KillOnDrop(i32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe {
            libc::kill(self.0, libc::SIGKILL);
        }
    }
}

/// Whether `kill(pid, 0)` says there is no such process (a zombie still counts as one).
fn pid_gone(pid: i32) -> bool {
    // SAFETY: signal 0 only checks that the process exists; nothing is delivered.
    let status = unsafe { libc::kill(pid, 0) };
    status == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

/// Reads the request, records it, writes `lines` to stdout, then waits for stdin to close.
fn answering(lines: &[&str]) -> String {
    let mut script = String::from("read -r request; printf '%s\\n' \"$request\" > \"$2\"; ");
    for line in lines {
        script.push_str(&format!("printf '%s\\n' '{line}'; "));
    }
    script.push_str("cat >/dev/null");
    script
}

fn legacy(reason: ProbeReason) -> ProbeVerdict {
    ProbeVerdict {
        era: ChildEra::Legacy,
        reason,
        discover: None,
    }
}

fn modern() -> ProbeVerdict {
    ProbeVerdict {
        era: ChildEra::Modern,
        reason: ProbeReason::Offered,
        discover: Some(modern_discover()),
    }
}

#[test]
fn the_request_is_one_discover_line_with_the_envelope() {
    let expected = format!(
        concat!(
            r#"{{"jsonrpc":"2.0","id":"hyper-mcp-proxy-era-probe","method":"server/discover","#,
            r#""params":{{"_meta":{{"io.modelcontextprotocol/protocolVersion":"2026-07-28","#,
            r#""io.modelcontextprotocol/clientCapabilities":{{}},"#,
            r#""io.modelcontextprotocol/clientInfo":{{"name":"hyper-mcp-proxy","version":"{}"}}}}}}}}"#,
            "\n"
        ),
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(
        std::str::from_utf8(&discover_request_line()).unwrap(),
        expected
    );
}

#[tokio::test]
async fn a_discover_result_offering_the_modern_version_makes_the_command_modern() {
    let scratch = Scratch::new("modern");
    let command = scratch.fixture(&answering(&[MODERN_ANSWER]));
    let verdict = probe_child_era(&command, ANSWER_TIMEOUT, GRACE).await;
    assert_eq!(verdict, modern());
    let request = std::fs::read(scratch.request_file()).unwrap();
    assert_eq!(request, discover_request_line());
    scratch.assert_child_gone().await;
}

#[tokio::test]
async fn a_discover_result_without_the_modern_version_is_legacy() {
    let scratch = Scratch::new("not-offered");
    let answer = r#"{"jsonrpc":"2.0","id":"hyper-mcp-proxy-era-probe","result":{"resultType":"complete","supportedVersions":["2025-11-25"],"capabilities":{}}}"#;
    let command = scratch.fixture(&answering(&[answer]));
    let verdict = probe_child_era(&command, ANSWER_TIMEOUT, GRACE).await;
    assert_eq!(verdict, legacy(ProbeReason::NotOffered));
    scratch.assert_child_gone().await;
}

#[tokio::test]
async fn a_json_rpc_error_answer_is_legacy() {
    let scratch = Scratch::new("error");
    let answer = r#"{"jsonrpc":"2.0","id":"hyper-mcp-proxy-era-probe","error":{"code":-32601,"message":"Method not found"}}"#;
    let command = scratch.fixture(&answering(&[answer]));
    let verdict = probe_child_era(&command, ANSWER_TIMEOUT, GRACE).await;
    assert_eq!(verdict, legacy(ProbeReason::ErrorAnswer(-32601)));
    scratch.assert_child_gone().await;
}

#[tokio::test]
async fn noise_notifications_and_other_messages_before_the_answer_are_skipped() {
    let scratch = Scratch::new("noise");
    let command = scratch.fixture(&answering(&[
        "starting up, listening on stdio",
        r#"{"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"hi"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"roots/list"}"#,
        r#"{"jsonrpc":"2.0","id":"other","result":{"supportedVersions":["2025-11-25"]}}"#,
        r#"{"id":"not-json-rpc"}"#,
        "",
        MODERN_ANSWER,
    ]));
    let verdict = probe_child_era(&command, ANSWER_TIMEOUT, GRACE).await;
    assert_eq!(verdict, modern());
    scratch.assert_child_gone().await;
}

#[tokio::test]
async fn an_answer_written_just_before_exiting_still_counts() {
    let scratch = Scratch::new("answer-then-exit");
    let command = scratch.fixture(&format!(
        "read -r request; printf '%s\\n' '{MODERN_ANSWER}'; exit 0"
    ));
    let verdict = probe_child_era(&command, ANSWER_TIMEOUT, GRACE).await;
    assert_eq!(verdict, modern());
    scratch.assert_child_gone().await;
}

#[tokio::test]
async fn an_answer_arriving_after_the_child_exited_still_counts() {
    let scratch = Scratch::new("answer-after-exit");
    // A descendant outside the group keeps stdout open and answers once the leader is reaped.
    // The leader exits only after the descendant has left its group, which the exit sweeps.
    let command = scratch.fixture(&format!(
        "setsid sh -c 'echo $$ > \"$2\"; while kill -0 \"$0\" 2>/dev/null; do sleep 0.01; done; printf \"%s\\n\" \"$1\"' $$ '{MODERN_ANSWER}' \"$3\" & {AFTER_ESCAPE}"
    ));
    let verdict = probe_child_era(&command, ANSWER_TIMEOUT, GRACE).await;
    assert_eq!(verdict, modern());
    scratch.assert_child_gone().await;
}

#[tokio::test]
async fn an_exited_child_whose_stdout_stays_open_is_legacy_exited_at_the_deadline() {
    let scratch = Scratch::new("exit-stdout-held");
    let command = scratch.fixture(&format!(
        "setsid sh -c 'echo $$ > \"$0\"; exec sleep 1000' \"$3\" & {AFTER_ESCAPE}"
    ));
    let verdict = probe_child_era(&command, SILENCE_TIMEOUT, GRACE).await;
    let _escaped = KillOnDrop(read_pid(scratch.escaped_file()).await);
    assert_eq!(verdict, legacy(ProbeReason::Exited));
    scratch.assert_child_gone().await;
}

#[tokio::test]
async fn a_child_that_exits_at_once_is_legacy() {
    let scratch = Scratch::new("exits");
    let command = scratch.fixture("exit 1");
    let verdict = probe_child_era(&command, ANSWER_TIMEOUT, GRACE).await;
    assert_eq!(verdict, legacy(ProbeReason::Exited));
    scratch.assert_child_gone().await;
}

#[tokio::test]
async fn a_silent_child_times_out_and_is_reaped() {
    let scratch = Scratch::new("silent");
    let command = scratch.fixture("exec sleep 1000");
    let started = Instant::now();
    let verdict = probe_child_era(&command, SILENCE_TIMEOUT, GRACE).await;
    let took = started.elapsed();
    assert_eq!(verdict, legacy(ProbeReason::TimedOut));
    // The deadline, then at most the stop's two grace periods (sleep dies of the SIGTERM).
    assert!(took >= SILENCE_TIMEOUT, "returned after {took:?}");
    assert!(
        took < SILENCE_TIMEOUT + 2 * GRACE + Duration::from_secs(2),
        "returned after {took:?}"
    );
    scratch.assert_child_gone().await;
}

#[tokio::test]
async fn a_child_ignoring_sigterm_is_killed_after_the_probe() {
    let scratch = Scratch::new("ignores-term");
    let command = scratch.fixture("trap '' TERM; while :; do sleep 1; done");
    let started = Instant::now();
    let verdict = probe_child_era(&command, SILENCE_TIMEOUT, GRACE).await;
    let took = started.elapsed();
    assert_eq!(verdict, legacy(ProbeReason::TimedOut));
    // Stdin closed, a grace period, SIGTERM (ignored), a grace period, SIGKILL.
    assert!(
        took >= SILENCE_TIMEOUT + 2 * GRACE,
        "returned after {took:?}"
    );
    scratch.assert_child_gone().await;
}

#[tokio::test]
async fn a_missing_command_fails_to_spawn() {
    let command = CommandSpec {
        program: PathBuf::from("/nonexistent/mcp-server"),
        args: vec!["--stdio".into()],
    };
    let verdict = probe_child_era(&command, ANSWER_TIMEOUT, GRACE).await;
    assert_eq!(
        verdict,
        legacy(ProbeReason::SpawnFailed(
            "cannot start `/nonexistent/mcp-server --stdio`: No such file or directory (os error 2)"
                .into()
        ))
    );
}

#[tokio::test]
async fn dropping_the_probe_kills_and_reaps_its_child() {
    let scratch = Scratch::new("dropped");
    let command = scratch.fixture("trap '' TERM; exec sleep 1000");
    tokio::select! {
        verdict = probe_child_era(&command, ANSWER_TIMEOUT, GRACE) => {
            panic!("a sleeping child got a verdict: {verdict:?}")
        }
        _pid = scratch.pid() => {}
    }
    scratch.assert_child_gone().await;
}

#[tokio::test]
async fn a_child_flooding_stderr_before_answering_is_drained() {
    let scratch = Scratch::new("stderr-flood");
    // Four times a Linux pipe buffer: the child blocks unless stderr is read.
    let flood = "head -c 262144 /dev/zero | tr '\\0' x >&2; echo >&2; ";
    let command = scratch.fixture(&format!("{flood}{}", answering(&[MODERN_ANSWER])));
    let verdict = probe_child_era(&command, ANSWER_TIMEOUT, GRACE).await;
    assert_eq!(verdict, modern());
    scratch.assert_child_gone().await;
}

#[tokio::test]
async fn an_answer_longer_than_the_line_limit_is_unreadable() {
    let scratch = Scratch::new("too-long");
    let command = scratch.fixture(concat!(
        "read -r request; ",
        r#"printf '{"jsonrpc":"2.0","id":"hyper-mcp-proxy-era-probe","result":{"instructions":"'; "#,
        r"head -c 1100000 /dev/zero | tr '\0' x; ",
        r#"printf '"}}\n'; "#,
        "cat >/dev/null"
    ));
    let verdict = probe_child_era(&command, ANSWER_TIMEOUT, GRACE).await;
    assert_eq!(verdict, legacy(ProbeReason::Unreadable));
    scratch.assert_child_gone().await;
}

#[tokio::test]
async fn a_line_with_the_probe_id_that_is_not_a_response_is_unreadable() {
    let scratch = Scratch::new("not-a-response");
    let command = scratch.fixture(&answering(&[
        r#"{"jsonrpc":"2.0","id":"hyper-mcp-proxy-era-probe"}"#,
    ]));
    let verdict = probe_child_era(&command, ANSWER_TIMEOUT, GRACE).await;
    assert_eq!(verdict, legacy(ProbeReason::Unreadable));
    scratch.assert_child_gone().await;
}

#[test]
fn answers_are_judged_by_their_shape() {
    let judged = |line: &str| judge(&Frame::parse(line.as_bytes()).unwrap());
    let id = r#""jsonrpc":"2.0","id":"hyper-mcp-proxy-era-probe""#;
    assert_eq!(
        judged(&format!(r#"{{{id},"result":null}}"#)),
        legacy(ProbeReason::Unreadable)
    );
    assert_eq!(
        judged(&format!(r#"{{{id},"result":{{}}}}"#)),
        legacy(ProbeReason::NotOffered)
    );
    assert_eq!(
        judged(&format!(
            r#"{{{id},"result":{{"supportedVersions":"2026-07-28"}}}}"#
        )),
        legacy(ProbeReason::NotOffered)
    );
    assert_eq!(
        judged(&format!(r#"{{{id},"error":{{"message":"no code"}}}}"#)),
        legacy(ProbeReason::Unreadable)
    );
    assert_eq!(
        judged(&format!(
            r#"{{{id},"error":{{"code":-32022,"message":"Unsupported protocol version"}}}}"#
        )),
        legacy(ProbeReason::ErrorAnswer(-32022))
    );
    let both = format!(r#"{{{id},"result":{{"supportedVersions":["2099-01-01","2026-07-28"]}}}}"#);
    assert_eq!(judged(&both).era, ChildEra::Modern);
}

#[test]
fn labels_name_eras_and_reasons_for_metrics() {
    assert_eq!(ChildEra::Legacy.label(), "legacy");
    assert_eq!(ChildEra::Modern.label(), "modern");
    let labels: Vec<&str> = [
        ProbeReason::Offered,
        ProbeReason::NotOffered,
        ProbeReason::ErrorAnswer(-32601),
        ProbeReason::Exited,
        ProbeReason::TimedOut,
        ProbeReason::SpawnFailed("no such file".into()),
        ProbeReason::Unreadable,
    ]
    .iter()
    .map(ProbeReason::label)
    .collect();
    assert_eq!(
        labels,
        [
            "offered",
            "not_offered",
            "error",
            "exited",
            "timeout",
            "spawn_failed",
            "unreadable"
        ]
    );
}

#[test]
fn reasons_read_as_log_text() {
    assert_eq!(
        ProbeReason::ErrorAnswer(-32601).to_string(),
        "the MCP server answered server/discover with JSON-RPC error -32601 (method not found: a server without 2026-07-28)"
    );
    assert_eq!(
        ProbeReason::ErrorAnswer(-32600).to_string(),
        "the MCP server answered server/discover with JSON-RPC error -32600"
    );
    assert_eq!(
        ProbeReason::SpawnFailed("cannot start `x`: denied".into()).to_string(),
        "the MCP server could not be started for the probe: cannot start `x`: denied"
    );
    assert_eq!(
        ProbeReason::TimedOut.to_string(),
        "the MCP server did not answer server/discover in time"
    );
}
