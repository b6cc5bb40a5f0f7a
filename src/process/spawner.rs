//! The spawner: one long-lived OS thread that forks every child, fed through a channel.
//!
//! Why a thread of its own:
//! - `PR_SET_PDEATHSIG` fires when the *thread* that forked the child exits, not the process
//!   (prctl(2)). tokio's blocking-pool threads exit after 10 s idle, which would SIGKILL every
//!   child they forked; this thread lives as long as the proxy.
//! - The `pre_exec` hook forces a real `fork` (no `posix_spawn`): copying the page tables and
//!   waiting for `exec` must not stall a runtime worker, possibly the only one.
//!
//! Each job carries the caller's runtime handle, entered around `Command::spawn`, so the pipes
//! and the exit watcher belong to the caller's runtime (there may be many, one per test).

use std::io;
use std::process::Stdio;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::process::Command;
use tokio::runtime::Handle;
use tokio::sync::{oneshot, watch};

use super::group::Group;
use super::{ChildPipes, ManagedProcess, SpawnError, registry, watcher};
use crate::config::CommandSpec;

/// One spawn request.
struct Job {
    spec: CommandSpec,
    runtime: Handle,
    reply: oneshot::Sender<Result<(ManagedProcess, ChildPipes), SpawnError>>,
}

/// The channel to the spawner thread, created with the thread on first use.
static JOBS: Mutex<Option<mpsc::Sender<Job>>> = Mutex::new(None);

/// Name of the spawner thread, as shown in `/proc/<pid>/task/*/comm`.
pub(super) const THREAD_NAME: &str = "child-spawner";

/// Spawns `spec` from the spawner thread, registered with the caller's runtime.
pub(super) async fn spawn(spec: &CommandSpec) -> Result<(ManagedProcess, ChildPipes), SpawnError> {
    let fail = |source| SpawnError {
        command: spec.display(),
        source,
    };
    let (reply, answer) = oneshot::channel();
    let job = Job {
        spec: spec.clone(),
        runtime: Handle::current(),
        reply,
    };
    submit(job).map_err(fail)?;
    answer
        .await
        .map_err(|_| fail(io::Error::other("the spawner thread dropped the request")))?
}

/// Hands `job` to the spawner thread, starting it if there is none yet.
fn submit(job: Job) -> io::Result<()> {
    let mut jobs = JOBS.lock().unwrap_or_else(PoisonError::into_inner);
    let job = match jobs.as_ref() {
        Some(sender) => match sender.send(job) {
            Ok(()) => return Ok(()),
            // The thread is gone (it never should be); start a new one below.
            Err(mpsc::SendError(job)) => job,
        },
        None => job,
    };
    let (sender, receiver) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name(THREAD_NAME.to_string())
        .spawn(move || serve(receiver))?;
    sender
        .send(job)
        .map_err(|_| io::Error::other("the spawner thread exited at once"))?;
    *jobs = Some(sender);
    Ok(())
}

/// The spawner thread's loop. It must never end while children it forked live: their
/// parent-death signal would kill them. So a panicking job is caught, not propagated.
fn serve(jobs: mpsc::Receiver<Job>) {
    for job in jobs {
        let Job {
            spec,
            runtime,
            reply,
        } = job;
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _entered = runtime.enter();
            spawn_here(&spec, &runtime)
        }));
        let result = outcome.unwrap_or_else(|_| {
            Err(SpawnError {
                command: spec.display(),
                source: io::Error::other("spawning panicked"),
            })
        });
        // A caller that gave up drops the reply; the process is then dropped here, which kills
        // its group, and its watcher reaps it.
        let _ = reply.send(result);
    }
}

/// Spawns `spec` directly (no shell) in a new process group, with piped stdio, and starts its
/// watcher on `runtime` (which the calling thread has entered).
fn spawn_here(
    spec: &CommandSpec,
    runtime: &Handle,
) -> Result<(ManagedProcess, ChildPipes), SpawnError> {
    let fail = |source| SpawnError {
        command: spec.display(),
        source,
    };
    let mut command = Command::new(&spec.program);
    command
        .args(&spec.args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        // The safety net of last resort: tokio kills the leader if the handle is dropped.
        .kill_on_drop(true);
    die_with_this_thread(&mut command);
    crate::fd_limit::restore_in_child(&mut command);
    let (mut child, pid) = {
        // Held from before the fork until the pid is recorded, so the orphan reaper can never
        // mistake the new child (should it exit at once) for an orphan and take its status.
        let mut tracked = registry::lock();
        let child = command.spawn().map_err(fail)?;
        let pid = child
            .id()
            .and_then(|pid| i32::try_from(pid).ok())
            .ok_or_else(|| fail(io::Error::other("the child has no usable pid")))?;
        tracked.insert(pid);
        (child, pid)
    };
    let missing = || fail(io::Error::other("a stdio pipe of the child is missing"));
    let (stdin, stdout, stderr) = (child.stdin.take(), child.stdout.take(), child.stderr.take());
    let group = Arc::new(Group::new(pid));
    let (published, exit) = watch::channel(None);
    runtime.spawn(watcher::watch(child, pid, group.clone(), published));
    let process = ManagedProcess::new(pid, group, exit);
    // From here on, an early return drops `process`, which kills the group.
    let pipes = ChildPipes {
        stdin: stdin.ok_or_else(missing)?,
        stdout: stdout.ok_or_else(missing)?,
        stderr: stderr.ok_or_else(missing)?,
    };
    Ok((process, pipes))
}

/// Asks the kernel to SIGKILL the child when the thread forking it (this one) exits, so even a
/// `kill -9` of the proxy leaves no server running.
#[cfg(target_os = "linux")]
fn die_with_this_thread(command: &mut Command) {
    // Read before the fork: the child compares it with its parent after arming the signal.
    let proxy = std::process::id();
    // SAFETY: the closure runs in the forked child before exec and only calls prctl, getppid
    // and _exit, which are async-signal-safe; it allocates nothing (an `Os` io::Error is a
    // plain code).
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) == -1 {
                return Err(io::Error::last_os_error());
            }
            // The proxy may have died between the fork and the prctl: the signal would then
            // never come, and the child would be adopted by someone else. Give up at once.
            if u32::try_from(libc::getppid()).ok() != Some(proxy) {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

/// Other Unix systems have no parent-death signal: a child outlives a proxy killed with
/// SIGKILL (a graceful shutdown still stops every child).
#[cfg(not(target_os = "linux"))]
fn die_with_this_thread(_command: &mut Command) {}
