//! Starting a child without copying the proxy (Linux): `clone(CLONE_VM | CLONE_VFORK)`, the
//! way `posix_spawn` works inside glibc and musl, with the steps `posix_spawn` cannot express
//! (the parent-death signal and its race check, the descriptor limit) done by the child.
//!
//! A `fork` copies the proxy's page tables and then pays copy-on-write faults in the proxy, for
//! a child that throws the copy away at `exec`: about two thirds of the proxy's CPU per session.
//! With `CLONE_VM` the child runs in the proxy's own memory, on a stack of its own, and with
//! `CLONE_VFORK` the calling thread (the spawner thread) sleeps until the child has called
//! `execve` successfully or exited. `CLONE_PIDFD` returns a pidfd with the pid, for the watcher.
//!
//! The child, in order: `setpgid(0, 0)` (its own process group); `PR_SET_PDEATHSIG` SIGKILL,
//! then gives up if the proxy already died (`getppid` changed); restores the proxy's original
//! `RLIMIT_NOFILE`; `dup2`s its pipe ends onto 0, 1 and 2; resets every signal that has a
//! handler (and SIGPIPE, which Rust ignores) to its default, then unblocks all signals; then
//! `execve`s each candidate path like `execvp`. A failure is written, with its errno, into
//! memory the parent reads once it wakes (shared memory replaces the error pipe a `fork` needs),
//! and the child `_exit`s with 127.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::ptr;
use std::sync::atomic::{AtomicI32, Ordering};

use libc::{c_int, c_void};

use super::exec_plan::{ExecPlan, RawPlan};
use super::spawner::Started;
use super::stdio_pipes::ChildEnds;

mod child_stack;
#[cfg(test)]
mod tests;

pub(super) use child_stack::ChildStack;

/// The step of the child that failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(super) enum ChildStep {
    #[error("cannot make the child a process group leader")]
    ProcessGroup,
    #[error("cannot set the child's parent-death signal")]
    ParentDeathSignal,
    #[error("cannot connect the child's stdio")]
    Stdio,
}

/// What the child reports when it fails, in memory the parent reads after waking.
struct Outcome {
    /// 0 while nothing failed; else the step (`STEP_*`).
    step: AtomicI32,
    /// The errno of the failed step.
    errno: AtomicI32,
}

const STEP_NONE: i32 = 0;
const STEP_PROCESS_GROUP: i32 = 1;
const STEP_PARENT_DEATH_SIGNAL: i32 = 2;
const STEP_STDIO: i32 = 3;
const STEP_EXEC: i32 = 4;

/// Everything the child reads: plain values and pointers, no Rust collection.
struct ChildContext {
    plan: RawPlan,
    stdio: [c_int; 3],
    /// The proxy's pid, to detect that it died before the parent-death signal was armed.
    proxy: libc::pid_t,
    /// The descriptor limit to restore, if the proxy raised its own.
    nofile: Option<libc::rlimit>,
    outcome: Outcome,
}

/// Starts the child of `plan` with `ends` as its stdio, on `stack`. Must run on the spawner
/// thread, with every signal blocked (see [`block_all_signals`]): the parent-death signal
/// fires when this thread exits. On an error the child, if any, has been reaped.
pub(super) fn start(
    plan: &mut ExecPlan,
    ends: &ChildEnds,
    stack: &mut ChildStack,
) -> io::Result<Started> {
    let context = ChildContext {
        plan: plan.raw(),
        stdio: [
            ends.stdin.as_raw_fd(),
            ends.stdout.as_raw_fd(),
            ends.stderr.as_raw_fd(),
        ],
        // SAFETY: getpid has no preconditions.
        proxy: unsafe { libc::getpid() },
        nofile: crate::fd_limit::original(),
        outcome: Outcome {
            step: AtomicI32::new(STEP_NONE),
            errno: AtomicI32::new(0),
        },
    };
    let mut pidfd: c_int = -1;
    let flags = libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_PIDFD | libc::SIGCHLD;
    // SAFETY: `child_main` is the child's whole life: it only reads `context` (alive until
    // clone returns, since CLONE_VFORK keeps this thread asleep until the child has exec'd or
    // exited), stores into its atomics, writes slot 1 of the plan's script argv (nobody else
    // touches it meanwhile), and calls async-signal-safe libc functions. It allocates nothing,
    // takes no lock, never unwinds and never returns. Its stack is `stack`, used by nothing
    // else (the spawner thread is the only spawner). No signal handler can run in it on the
    // proxy's memory: all signals are blocked on entry, and it resets every handler before
    // unblocking. With SIGCHLD as the exit signal, the child is waited for like a forked one.
    let pid = unsafe {
        libc::clone(
            child_main,
            stack.top(),
            flags,
            ptr::from_ref(&context).cast_mut().cast::<c_void>(),
            &mut pidfd as *mut c_int,
        )
    };
    if pid == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: with CLONE_PIDFD the kernel stored a new descriptor for us in `pidfd`; a kernel
    // before 5.2 ignored the flag and left -1 (the watcher then opens one or uses SIGCHLD).
    let pidfd = (pidfd >= 0).then(|| unsafe { OwnedFd::from_raw_fd(pidfd) });
    let step = context.outcome.step.load(Ordering::Acquire);
    if step == STEP_NONE {
        return Ok(Started { pid, pidfd });
    }
    let errno = context.outcome.errno.load(Ordering::Acquire);
    reap_failed(pid);
    let os_error = io::Error::from_raw_os_error(errno);
    let failed = match step {
        STEP_PROCESS_GROUP => ChildStep::ProcessGroup,
        STEP_PARENT_DEATH_SIGNAL => ChildStep::ParentDeathSignal,
        STEP_STDIO => ChildStep::Stdio,
        // The exec error as is: "No such file or directory (os error 2)", kind NotFound.
        _ => return Err(os_error),
    };
    Err(io::Error::new(
        os_error.kind(),
        StepFailed {
            step: failed,
            source: os_error,
        },
    ))
}

/// A step of the child failed with an OS error.
#[derive(Debug, thiserror::Error)]
#[error("{step}: {source}")]
pub(super) struct StepFailed {
    pub(super) step: ChildStep,
    pub(super) source: io::Error,
}

/// Blocks every signal in the calling thread, for good. The spawner thread calls it once, so
/// a child starts with all signals blocked and no handler can run on the proxy's memory in
/// it. (glibc keeps its two internal signals, SIGCANCEL and SIGSETXID, unblockable; they are
/// sent only by `pthread_cancel` and by `setuid`-family calls, which the proxy never makes.)
pub(super) fn block_all_signals() -> io::Result<()> {
    // SAFETY: sigfillset fills a sigset_t we own; pthread_sigmask reads it.
    let code = unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_BLOCK, &all, ptr::null_mut())
    };
    if code != 0 {
        return Err(io::Error::from_raw_os_error(code));
    }
    Ok(())
}

/// Reaps a child that failed before or at `execve` (it has exited: CLONE_VFORK woke us).
fn reap_failed(pid: i32) {
    let mut status = 0;
    // SAFETY: `status` is a writable int; `pid` is our unreaped child, which no other code
    // reaps (the caller holds the registry, so the orphan reaper leaves it alone).
    while unsafe { libc::waitpid(pid, &mut status, 0) } == -1
        && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted
    {}
}

/// The child: the steps of the module doc, then `execve`; never returns.
extern "C" fn child_main(context: *mut c_void) -> c_int {
    // SAFETY: `context` points to the parent's `ChildContext`, alive and unmodified until the
    // child has exec'd or exited (see `start`).
    let context = unsafe { &*context.cast_const().cast::<ChildContext>() };
    // SAFETY: the calls below are async-signal-safe system call wrappers on values from the
    // context; see `start` for why this child may run them in the proxy's memory.
    let (step, errno) = unsafe { prepare_and_exec(context) };
    context.outcome.errno.store(errno, Ordering::Release);
    context.outcome.step.store(step, Ordering::Release);
    // SAFETY: _exit ends the child without running anything of the proxy's (no atexit).
    unsafe { libc::_exit(127) }
}

/// Runs the child's steps; returns only on failure, with the step and its errno.
unsafe fn prepare_and_exec(context: &ChildContext) -> (i32, c_int) {
    // SAFETY (whole body): plain system calls on integers and on pointers from the plan, which
    // the parent keeps alive; see `start`.
    unsafe {
        if libc::setpgid(0, 0) == -1 {
            return (STEP_PROCESS_GROUP, errno());
        }
        // prctl reads its variadic arguments as unsigned longs.
        let signal = libc::SIGKILL as libc::c_ulong;
        if libc::prctl(libc::PR_SET_PDEATHSIG, signal) == -1 {
            return (STEP_PARENT_DEATH_SIGNAL, errno());
        }
        // The proxy may have died before the signal was armed: it would then never come, and
        // the child would live on, adopted by someone else. Nobody is left to tell.
        if libc::getppid() != context.proxy {
            libc::_exit(1);
        }
        if let Some(limit) = &context.nofile {
            // Failing to lower a soft limit is harmless: the child keeps the proxy's.
            libc::setrlimit(libc::RLIMIT_NOFILE, limit);
        }
        for (target, &fd) in context.stdio.iter().enumerate() {
            // `fd` is above 2 (see `stdio_pipes`), so the copy never lands on another end.
            if libc::dup2(fd, target as c_int) == -1 {
                return (STEP_STDIO, errno());
            }
        }
        reset_signals();
        (STEP_EXEC, exec_candidates(&context.plan))
    }
}

/// Sets to the default every signal that has a handler (a handler run here would run on the
/// proxy's memory; `execve` would reset them anyway) and SIGPIPE (ignored by Rust programs,
/// an ignored signal stays ignored across `execve`), then unblocks every signal, as
/// `std::process` leaves a child.
unsafe fn reset_signals() {
    // SAFETY (whole body): sigaction and sigprocmask on sigaction/sigset_t values on this
    // stack; zeroed bytes are a valid value of both C structs.
    unsafe {
        let mut default: libc::sigaction = std::mem::zeroed();
        default.sa_sigaction = libc::SIG_DFL;
        for signal in 1..=64 {
            if signal == libc::SIGKILL || signal == libc::SIGSTOP {
                continue;
            }
            let mut current: libc::sigaction = std::mem::zeroed();
            if libc::sigaction(signal, ptr::null(), &mut current) != 0 {
                // Not a signal number of this system, or one libc reserves.
                continue;
            }
            let handled =
                current.sa_sigaction != libc::SIG_DFL && current.sa_sigaction != libc::SIG_IGN;
            if handled || signal == libc::SIGPIPE {
                libc::sigaction(signal, &default, ptr::null_mut());
            }
        }
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, ptr::null_mut());
    }
}

/// `execve`s each candidate path in turn, with `execvp`'s rules: a file the kernel cannot
/// run (`ENOEXEC`, a script without `#!`) runs through `/bin/sh`; a missing file or a
/// directory that is not one moves on to the next; `EACCES` moves on but is remembered; any
/// other error stops. Returns the errno to report.
unsafe fn exec_candidates(plan: &RawPlan) -> c_int {
    let mut denied = false;
    for index in 0..plan.candidate_count {
        // SAFETY (whole body): the plan's arrays are NULL-terminated (argv, envp, script
        // argv) or `candidate_count` long, and outlive the child's use of them.
        unsafe {
            let path = *plan.candidates.add(index);
            libc::execve(path, plan.argv, plan.envp);
            let mut failed = errno();
            if failed == libc::ENOEXEC {
                *plan.script_argv.add(1) = path;
                libc::execve(plan.shell, plan.script_argv.cast_const(), plan.envp);
                failed = errno();
            }
            match failed {
                libc::EACCES => denied = true,
                libc::ENOENT | libc::ENOTDIR | libc::ESTALE | libc::ENODEV | libc::ETIMEDOUT => {}
                other => return other,
            }
        }
    }
    if denied { libc::EACCES } else { libc::ENOENT }
}

/// The calling thread's errno (the child shares the spawner thread's, which sleeps meanwhile).
fn errno() -> c_int {
    // SAFETY: __errno_location returns the calling thread's errno slot, always valid.
    unsafe { *libc::__errno_location() }
}
