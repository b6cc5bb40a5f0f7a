//! The guarantees of a child started by `clone(CLONE_VM | CLONE_VFORK)`, checked on real
//! children through `ManagedProcess::spawn` (the spawner thread is part of the contract).

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncWriteExt, BufReader};

use crate::config::CommandSpec;
use crate::process::testing::{eventually, first_line, killed, sh};
use crate::process::{ChildPipes, ExitReport, ManagedProcess};

/// Name of the helper test that `a_child_dies_when_the_proxy_is_killed` runs in a child.
const SPAWN_A_SLEEPER: &str = "process::vfork_spawn::tests::spawn_a_sleeper_then_wait";

/// Set in the helper's environment: without it (`cargo test -- --ignored`) the helper does
/// nothing.
const HELPER_VARIABLE: &str = "HYPER_MCP_PROXY_TEST_SLEEPER_HELPER";

fn command(program: impl Into<PathBuf>, args: &[&str]) -> CommandSpec {
    CommandSpec {
        program: program.into(),
        args: args.iter().map(|arg| arg.to_string()).collect(),
    }
}

/// A file of the test's own in the temporary directory, with `content` and `mode`.
fn temp_file(name: &str, content: &str, mode: u32) -> PathBuf {
    let path = std::env::temp_dir().join(format!("hyper-mcp-{}-{name}", std::process::id()));
    std::fs::write(&path, content).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// The rest of the first line `stream` yields that contains `marker`, from `marker` on,
/// within 5 s (libtest prints a test's output after its name, on the same line).
async fn line_from(stream: impl AsyncRead + Unpin, marker: &str) -> String {
    let mut lines = BufReader::new(stream).lines();
    let find = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if let Some(at) = line.find(marker) {
                return line[at..].to_string();
            }
        }
        panic!("no line with {marker:?}");
    };
    tokio::time::timeout(Duration::from_secs(5), find)
        .await
        .expect("no such line in time")
}

/// A `cat` that has echoed a line, so it is past its startup and sits in `read`.
async fn settled_cat() -> (ManagedProcess, ChildPipes) {
    let (process, mut pipes) = ManagedProcess::spawn(&command("cat", &[])).await.unwrap();
    pipes.stdin.write_all(b"settled\n").await.unwrap();
    assert_eq!(first_line(&mut pipes.stdout).await, "settled");
    (process, pipes)
}

async fn stop(mut process: ManagedProcess, pipes: ChildPipes) {
    let report = process
        .stop(Some(pipes.stdin), Duration::from_secs(5))
        .await;
    assert_eq!(report, ExitReport::Code(0));
}

/// A field of `/proc/<pid>/status`, such as `SigBlk`.
fn status_field(pid: u32, name: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .unwrap()
        .trim()
        .to_string()
}

#[tokio::test]
async fn a_program_missing_from_path_reports_enoent_naming_the_command() {
    let spec = command("hyper-mcp-proxy-no-such-program", &["--flag"]);
    let err = ManagedProcess::spawn(&spec).await.unwrap_err();
    assert_eq!(err.source.raw_os_error(), Some(libc::ENOENT));
    assert_eq!(
        err.to_string(),
        "cannot start `hyper-mcp-proxy-no-such-program --flag`: No such file or directory (os error 2)"
    );
}

#[tokio::test]
async fn a_file_without_execute_permission_reports_eacces() {
    let path = temp_file("not-executable", "exit 0\n", 0o644);
    let err = ManagedProcess::spawn(&command(&path, &[]))
        .await
        .unwrap_err();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(err.source.raw_os_error(), Some(libc::EACCES));
    assert_eq!(
        err.to_string(),
        format!(
            "cannot start `{}`: Permission denied (os error 13)",
            path.display()
        )
    );
}

#[tokio::test]
async fn a_script_without_a_shebang_runs_through_sh() {
    let path = temp_file("no-shebang", "echo \"from script: $1\"\n", 0o755);
    let (mut process, mut pipes) = ManagedProcess::spawn(&command(&path, &["arg one"]))
        .await
        .unwrap();
    assert_eq!(first_line(&mut pipes.stdout).await, "from script: arg one");
    let report = process.reap(Duration::from_secs(5)).await;
    std::fs::remove_file(&path).unwrap();
    assert_eq!(report, ExitReport::Code(0));
}

#[tokio::test]
async fn the_three_pipes_carry_stdin_stdout_and_stderr() {
    let script = "read line; echo \"out: $line\"; echo \"err: $line\" >&2";
    let (mut process, mut pipes) = ManagedProcess::spawn(&sh(script)).await.unwrap();
    pipes.stdin.write_all(b"hello\n").await.unwrap();
    assert_eq!(first_line(&mut pipes.stdout).await, "out: hello");
    assert_eq!(line_from(&mut pipes.stderr, "err").await, "err: hello");
    assert_eq!(
        process.reap(Duration::from_secs(5)).await,
        ExitReport::Code(0)
    );
}

#[tokio::test]
async fn the_child_leads_its_own_process_group_in_the_proxys_session() {
    let (process, pipes) = settled_cat().await;
    let pid = process.pid();
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let (_, fields) = stat.rsplit_once(')').unwrap();
    let fields: Vec<&str> = fields.split_whitespace().collect();
    // After the command: state, ppid, pgrp, session.
    assert_eq!(fields[1], std::process::id().to_string());
    assert_eq!(fields[2], pid.to_string());
    // SAFETY: getsid(0) only reads the caller's session id.
    assert_eq!(fields[3], unsafe { libc::getsid(0) }.to_string());
    stop(process, pipes).await;
}

/// Descriptors of this test process without close-on-exec (inherited from whoever started
/// it, such as a jobserver pipe): every child inherits them, whatever spawns it.
fn inheritable_descriptors() -> Vec<i32> {
    let mut fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&fd| {
            // SAFETY: F_GETFD only reads the flags of a descriptor number (-1 if closed).
            let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
            fd > 2 && flags != -1 && flags & libc::FD_CLOEXEC == 0
        })
        .collect();
    fds.sort_unstable();
    fds
}

#[tokio::test]
async fn the_child_inherits_no_descriptor_of_the_proxy_but_its_three_pipes() {
    let (process, pipes) = settled_cat().await;
    let pid = process.pid();
    let mut fds: Vec<(i32, String)> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let target = std::fs::read_link(entry.path()).unwrap();
            let fd = entry.file_name().to_str().unwrap().parse().unwrap();
            (fd, target.display().to_string())
        })
        .collect();
    fds.sort_unstable();
    let beyond_stdio: Vec<i32> = fds.iter().skip(3).map(|(fd, _)| *fd).collect();
    assert_eq!(beyond_stdio, inheritable_descriptors(), "{fds:?}");
    let stdio: Vec<i32> = fds.iter().take(3).map(|(fd, _)| *fd).collect();
    assert_eq!(stdio, [0, 1, 2]);
    let targets: std::collections::HashSet<&str> = fds
        .iter()
        .take(3)
        .map(|(_, target)| target.as_str())
        .collect();
    assert_eq!(targets.len(), 3, "three distinct pipes: {fds:?}");
    assert!(
        targets.iter().all(|target| target.starts_with("pipe:[")),
        "{fds:?}"
    );
    stop(process, pipes).await;
}

#[tokio::test]
async fn the_child_starts_with_no_signal_blocked_and_sigpipe_not_ignored() {
    let (process, pipes) = settled_cat().await;
    let pid = process.pid();
    // The spawner thread blocks every signal and Rust ignores SIGPIPE; neither may reach
    // the child.
    assert_eq!(status_field(pid, "SigBlk"), "0000000000000000");
    let ignored = u64::from_str_radix(&status_field(pid, "SigIgn"), 16).unwrap();
    assert_eq!(
        ignored & (1 << (libc::SIGPIPE - 1)),
        0,
        "SIGPIPE is ignored"
    );
    stop(process, pipes).await;
}

#[tokio::test]
async fn the_child_gets_the_original_descriptor_limit() {
    crate::fd_limit::raise_to_hard();
    let original = crate::fd_limit::original().expect("recorded by raise_to_hard");
    let (process, pipes) = settled_cat().await;
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", process.pid())).unwrap();
    let soft = limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap()
        .to_string();
    assert_eq!(soft, original.rlim_cur.to_string());
    stop(process, pipes).await;
}

/// The parent-death signal is per thread (a test runs on a thread of its own, so a child of
/// the test binary cannot read its main thread's), hence this end-to-end check: a helper
/// process (this test binary, running the ignored test below) spawns a `sleep` and is then
/// SIGKILLed; the `sleep`, in a process group of its own, must die with it.
#[tokio::test]
async fn a_child_dies_when_the_proxy_is_killed() {
    let mut helper = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            SPAWN_A_SLEEPER,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HELPER_VARIABLE, "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = helper.stdout.take().unwrap();
    let line = line_from(stdout, "sleeper=").await;
    let sleeper: i32 = line["sleeper=".len()..].parse().unwrap();
    assert!(!killed(sleeper), "the sleeper died too early");
    helper.kill().await.unwrap();
    eventually("the sleeper is killed with the helper", || killed(sleeper)).await;
}

/// Spawns `sleep 1000` as the proxy would, prints its pid, then waits to be killed (60 s at
/// most); run in a child by the test above.
#[test]
#[ignore = "a helper: a_child_dies_when_the_proxy_is_killed runs it in a child"]
fn spawn_a_sleeper_then_wait() {
    if std::env::var_os(HELPER_VARIABLE).is_none() {
        return;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let (process, _pipes) = ManagedProcess::spawn(&command("sleep", &["1000"]))
            .await
            .unwrap();
        println!("\nsleeper={}", process.pid());
        tokio::time::sleep(Duration::from_secs(60)).await;
    });
}
