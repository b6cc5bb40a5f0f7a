//! The three stdio pipes of a child: created close-on-exec, the child's ends moved to
//! descriptors 3 and above, and the proxy's ends handed to the caller's runtime as tokio pipes.
//! (Other Unix systems let `std::process` create the pipes; only the last part is theirs.)
//!
//! Every end is close-on-exec, so a child inherits none of them, nor any other child's: the
//! child gets its own three ends only through `dup2` onto 0, 1 and 2 (which clears the flag on
//! the copy). The child's ends are never 0, 1 or 2 themselves: a proxy started with its own
//! stdio closed gets such low numbers from `pipe2`, and `dup2`ing one end onto a descriptor
//! that holds another of the child's ends would lose that one.

use std::io;
use std::os::fd::OwnedFd;
#[cfg(target_os = "linux")]
use std::os::fd::{AsRawFd, FromRawFd};

use tokio::process::{ChildStderr, ChildStdin, ChildStdout};

use super::ChildPipes;

/// The ends the child's stdio becomes (all close-on-exec, all above 2).
#[cfg(target_os = "linux")]
pub(super) struct ChildEnds {
    pub(super) stdin: OwnedFd,
    pub(super) stdout: OwnedFd,
    pub(super) stderr: OwnedFd,
}

/// The proxy's ends, blocking until [`ProxyEnds::register`] hands them to a runtime.
pub(super) struct ProxyEnds {
    stdin: OwnedFd,
    stdout: OwnedFd,
    stderr: OwnedFd,
}

/// Creates the three pipes.
#[cfg(target_os = "linux")]
pub(super) fn create() -> io::Result<(ChildEnds, ProxyEnds)> {
    let (stdin_read, stdin_write) = pipe()?;
    let (stdout_read, stdout_write) = pipe()?;
    let (stderr_read, stderr_write) = pipe()?;
    let child = ChildEnds {
        stdin: above_stdio(stdin_read)?,
        stdout: above_stdio(stdout_write)?,
        stderr: above_stdio(stderr_write)?,
    };
    let proxy = ProxyEnds {
        stdin: stdin_write,
        stdout: stdout_read,
        stderr: stderr_read,
    };
    Ok((child, proxy))
}

impl ProxyEnds {
    /// The proxy's ends of pipes `std::process` created.
    #[cfg(not(target_os = "linux"))]
    pub(super) fn from_std(
        stdin: std::process::ChildStdin,
        stdout: std::process::ChildStdout,
        stderr: std::process::ChildStderr,
    ) -> ProxyEnds {
        ProxyEnds {
            stdin: stdin.into(),
            stdout: stdout.into(),
            stderr: stderr.into(),
        }
    }

    /// Makes the ends non-blocking and registers them with the runtime the caller entered.
    pub(super) fn register(self) -> io::Result<ChildPipes> {
        Ok(ChildPipes {
            stdin: ChildStdin::from_std(std::process::ChildStdin::from(self.stdin))?,
            stdout: ChildStdout::from_std(std::process::ChildStdout::from(self.stdout))?,
            stderr: ChildStderr::from_std(std::process::ChildStderr::from(self.stderr))?,
        })
    }
}

/// One close-on-exec pipe: (read end, write end).
#[cfg(target_os = "linux")]
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a writable array of two ints, which pipe2 fills on success.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned both descriptors to us and nothing else owns them.
    Ok(unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) })
}

/// `fd` itself if it is above 2, else a close-on-exec copy above 2 (the low one is closed).
#[cfg(target_os = "linux")]
fn above_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    // SAFETY: F_DUPFD_CLOEXEC on a descriptor we own returns a new descriptor or -1.
    let copy = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if copy == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: the kernel just returned this descriptor to us and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(copy) })
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    fn close_on_exec(fd: &OwnedFd) -> bool {
        // SAFETY: F_GETFD on a descriptor we own.
        let flags = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_GETFD) };
        flags & libc::FD_CLOEXEC != 0
    }

    #[test]
    fn every_end_is_close_on_exec_and_the_childs_are_above_stdio() {
        let (child, proxy) = create().unwrap();
        for end in [&child.stdin, &child.stdout, &child.stderr] {
            assert!(end.as_raw_fd() > 2);
            assert!(close_on_exec(end));
        }
        for end in [&proxy.stdin, &proxy.stdout, &proxy.stderr] {
            assert!(close_on_exec(end));
        }
    }
}
