//! Starting a child on Unix systems other than Linux (macOS): `std::process` with a `pre_exec`
//! hook that restores the proxy's original descriptor limit. The hook makes std `fork` (the
//! proxy's page tables are copied); these systems have no `clone` to avoid it, and no
//! parent-death signal to arm.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};

use super::spawner::Started;
use super::stdio_pipes::ProxyEnds;
use crate::config::CommandSpec;

/// Starts `spec` in a process group of its own with piped stdio.
pub(super) fn start(spec: &CommandSpec) -> io::Result<(Started, ProxyEnds)> {
    let mut command = Command::new(&spec.program);
    command
        .args(&spec.args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    if let Some(original) = crate::fd_limit::original() {
        // SAFETY: the closure runs in the forked child before exec and only calls setrlimit,
        // which is async-signal-safe; it allocates nothing. Failing to lower the limit is
        // harmless.
        unsafe {
            command.pre_exec(move || {
                libc::setrlimit(libc::RLIMIT_NOFILE, &original);
                Ok(())
            });
        }
    }
    let mut child = command.spawn()?;
    let pid = i32::try_from(child.id()).map_err(|_| io::Error::other("pid out of range"))?;
    let missing = || io::Error::other("a stdio pipe of the child is missing");
    let ends = ProxyEnds::from_std(
        child.stdin.take().ok_or_else(missing)?,
        child.stdout.take().ok_or_else(missing)?,
        child.stderr.take().ok_or_else(missing)?,
    );
    // Dropping a std `Child` neither kills nor reaps it: the watcher reaps it by its pid.
    drop(child);
    Ok((Started { pid, pidfd: None }, ends))
}
