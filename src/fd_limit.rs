//! The process's descriptor limit (`RLIMIT_NOFILE`): raised to its hard limit at startup, the
//! default `--max-connections` derived from it, and the original soft limit handed back to
//! every child.

use std::io;
use std::sync::OnceLock;

/// Descriptors kept out of both shares: listeners, the runtime's epoll and signal fds, the log
/// writer, /proc reads, children being spawned, and the refusals in flight (see `serve.rs`).
pub const RESERVED: u64 = 128;

/// Largest default `--max-connections`, whatever the limit: a million idle connections is far
/// beyond what one proxy process serves well.
const MAX_DEFAULT_CONNECTIONS: u64 = 1 << 20;

/// The soft limit the proxy was started with, restored in every child before `exec`: many
/// programs still use `select(2)`, which cannot watch descriptors above 1023, or close every
/// descriptor up to the soft limit at startup.
static ORIGINAL: OnceLock<libc::rlimit> = OnceLock::new();

/// Raises the soft descriptor limit to the hard limit (once; later calls return the current
/// soft limit) and logs both values. Returns the soft limit now in force.
pub fn raise_to_hard() -> u64 {
    let Some(limit) = get() else {
        return 1024;
    };
    if ORIGINAL.set(limit).is_err() {
        return limit.rlim_cur;
    }
    if limit.rlim_cur >= limit.rlim_max {
        tracing::info!(
            nofile = limit.rlim_cur,
            "descriptor limit already at its hard limit"
        );
        return limit.rlim_cur;
    }
    let raised = libc::rlimit {
        rlim_cur: limit.rlim_max,
        rlim_max: limit.rlim_max,
    };
    // SAFETY: setrlimit with a valid pointer to an initialized struct.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
        tracing::info!(
            old = limit.rlim_cur,
            new = raised.rlim_cur,
            "raised the descriptor limit (RLIMIT_NOFILE) to its hard limit"
        );
        raised.rlim_cur
    } else {
        tracing::warn!(
            error = %io::Error::last_os_error(),
            soft = limit.rlim_cur,
            hard = limit.rlim_max,
            "cannot raise the descriptor limit; keeping the soft limit"
        );
        limit.rlim_cur
    }
}

/// The default `--max-connections` for a descriptor limit of `nofile`: after [`RESERVED`],
/// half the descriptors go to connections and half to sessions' children (each holds four:
/// its stdin, stdout and stderr pipes and a pidfd).
pub fn default_max_connections(nofile: u64) -> usize {
    let share = nofile.saturating_sub(RESERVED) / 2;
    usize::try_from(share.clamp(1, MAX_DEFAULT_CONNECTIONS)).unwrap_or(1)
}

/// The soft and hard limits the proxy was started with, to restore in every child before
/// `exec`; `None` if [`raise_to_hard`] has not run (the proxy's limit is then the original).
pub fn original() -> Option<libc::rlimit> {
    ORIGINAL.get().copied()
}

fn get() -> Option<libc::rlimit> {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    (unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } == 0).then_some(limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_leaves_the_reserve_and_half_for_children() {
        assert_eq!(default_max_connections(1024), 448);
        assert_eq!(default_max_connections(20_000), 9_936);
        assert_eq!(default_max_connections(1_048_576), 524_224);
        assert_eq!(default_max_connections(64), 1);
        assert_eq!(default_max_connections(u64::MAX), 1 << 20);
    }
}
