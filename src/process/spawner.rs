//! The spawner: one long-lived OS thread that starts every child, fed through a channel.
//!
//! Why a thread of its own:
//! - `PR_SET_PDEATHSIG` fires when the *thread* that created the child exits, not the process
//!   (prctl(2)). tokio's blocking-pool threads exit after 10 s idle, which would SIGKILL every
//!   child they started; this thread lives as long as the proxy.
//! - Starting a child blocks its caller until the child has called `execve` (`CLONE_VFORK`),
//!   which must not stall a runtime worker, possibly the only one.
//! - It keeps every signal blocked and owns the stack children run on before `execve`
//!   (see `vfork_spawn`).
//!
//! Each job carries the caller's runtime handle, entered while the pipes are registered and the
//! exit watcher is spawned, so both belong to the caller's runtime (there may be many, one per
//! test).

use std::io;
use std::os::fd::OwnedFd;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::runtime::Handle;
use tokio::sync::{oneshot, watch};

use super::group::Group;
use super::stdio_pipes::ProxyEnds;
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

/// A child that is running its program.
pub(super) struct Started {
    pub(super) pid: i32,
    /// A pidfd of the child, when the platform gave one with the spawn.
    pub(super) pidfd: Option<OwnedFd>,
}

/// The spawner thread's loop. It must never end while children it started live: their
/// parent-death signal would kill them. So a panicking job is caught, not propagated.
fn serve(jobs: mpsc::Receiver<Job>) {
    let mut platform = Platform::new();
    for job in jobs {
        let Job {
            spec,
            runtime,
            reply,
        } = job;
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            spawn_here(&spec, &runtime, &mut platform)
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

/// Starts `spec` directly (no shell) in a new process group, with piped stdio, and starts its
/// watcher on `runtime`.
fn spawn_here(
    spec: &CommandSpec,
    runtime: &Handle,
    platform: &mut Platform,
) -> Result<(ManagedProcess, ChildPipes), SpawnError> {
    let fail = |source| SpawnError {
        command: spec.display(),
        source,
    };
    let (Started { pid, pidfd }, ends) = platform.start(spec).map_err(fail)?;
    let _entered = runtime.enter();
    let group = Arc::new(Group::new(pid));
    let (published, exit) = watch::channel(None);
    runtime.spawn(watcher::watch(pid, pidfd, group.clone(), published));
    let process = ManagedProcess::new(pid, group, exit);
    // From here on, an early return drops `process`, which kills the group.
    let pipes = ends.register().map_err(fail)?;
    Ok((process, pipes))
}

/// What the spawner thread keeps between spawns on Linux: the stack children start on, and
/// whether blocking every signal worked (without it, no child may be started this way).
#[cfg(target_os = "linux")]
struct Platform {
    stack: Option<super::vfork_spawn::ChildStack>,
    signals_blocked: io::Result<()>,
}

#[cfg(target_os = "linux")]
impl Platform {
    fn new() -> Platform {
        Platform {
            stack: None,
            signals_blocked: super::vfork_spawn::block_all_signals(),
        }
    }

    /// Starts the child: everything is prepared first, then the registry is held from before
    /// the clone until the pid is recorded, so the orphan reaper can never mistake the new
    /// child (should it exit at once) for an orphan and take its status.
    fn start(&mut self, spec: &CommandSpec) -> io::Result<(Started, ProxyEnds)> {
        use super::{exec_plan::ExecPlan, stdio_pipes, vfork_spawn};
        if let Err(err) = &self.signals_blocked {
            return Err(io::Error::new(
                err.kind(),
                format!("cannot block signals in the spawner thread: {err}"),
            ));
        }
        let mut plan = ExecPlan::new(spec)?;
        let (child_ends, proxy_ends) = stdio_pipes::create()?;
        let stack = match &mut self.stack {
            Some(stack) => stack,
            empty => empty.insert(vfork_spawn::ChildStack::new()?),
        };
        let mut tracked = registry::lock();
        let started = vfork_spawn::start(&mut plan, &child_ends, stack)?;
        tracked.insert(started.pid);
        drop(tracked);
        // `child_ends` is dropped on return: the child holds its own copies now.
        Ok((started, proxy_ends))
    }
}

/// Other Unix systems: `std::process` with a `pre_exec` hook (a `fork`), see `fork_spawn`.
#[cfg(not(target_os = "linux"))]
struct Platform;

#[cfg(not(target_os = "linux"))]
impl Platform {
    fn new() -> Platform {
        Platform
    }

    fn start(&mut self, spec: &CommandSpec) -> io::Result<(Started, ProxyEnds)> {
        let mut tracked = registry::lock();
        let (started, ends) = super::fork_spawn::start(spec)?;
        tracked.insert(started.pid);
        Ok((started, ends))
    }
}
