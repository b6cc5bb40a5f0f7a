//! `CloseReason`: why a session ended. It is the `reason` label of `sessions_closed_total`,
//! and what a session publishes the moment it begins to end (so even a router that sees the
//! actor stop before the session's own notice labels it right).

/// Why a session ended: the `reason` label of `sessions_closed_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The client sent DELETE.
    Deleted,
    /// No client activity for `--session-idle-timeout`.
    Idle,
    /// The child kept crashing past `--max-restarts`.
    RestartLimit,
    /// The proxy shut down.
    Shutdown,
    /// The first child could not be spawned.
    SpawnFailed,
    /// The first child refused `initialize` or exited before answering it.
    InitFailed,
    /// A restarted child negotiated another protocol version.
    ProtocolChanged,
    /// A restarted child refused the replayed `initialize`.
    RehandshakeFailed,
    /// The client went away before the `initialize` answer.
    Abandoned,
    /// The session actor failed (a bug): its child was stopped by the safety nets.
    Failed,
}

impl CloseReason {
    /// Every reason, in label order.
    pub const ALL: [CloseReason; 10] = [
        CloseReason::Deleted,
        CloseReason::Idle,
        CloseReason::RestartLimit,
        CloseReason::Shutdown,
        CloseReason::SpawnFailed,
        CloseReason::InitFailed,
        CloseReason::ProtocolChanged,
        CloseReason::RehandshakeFailed,
        CloseReason::Abandoned,
        CloseReason::Failed,
    ];

    /// A non-zero number for an atomic.
    pub fn code(self) -> u8 {
        CloseReason::ALL
            .iter()
            .position(|r| *r == self)
            .map_or(u8::MAX, |at| at as u8 + 1)
    }

    /// The reason of a [`CloseReason::code`]; `None` for 0 (not closing).
    pub fn from_code(code: u8) -> Option<CloseReason> {
        CloseReason::ALL
            .get(usize::from(code.checked_sub(1)?))
            .copied()
    }

    /// The metric label.
    pub const fn label(self) -> &'static str {
        match self {
            CloseReason::Deleted => "deleted",
            CloseReason::Idle => "idle",
            CloseReason::RestartLimit => "restart_limit",
            CloseReason::Shutdown => "shutdown",
            CloseReason::SpawnFailed => "spawn_failed",
            CloseReason::InitFailed => "init_failed",
            CloseReason::ProtocolChanged => "protocol_changed",
            CloseReason::RehandshakeFailed => "rehandshake_failed",
            CloseReason::Abandoned => "abandoned",
            CloseReason::Failed => "failed",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_reason_labels_are_distinct_and_codes_round_trip() {
        let mut labels: Vec<_> = CloseReason::ALL.iter().map(|r| r.label()).collect();
        labels.sort_unstable();
        labels.dedup();
        assert_eq!(labels.len(), CloseReason::ALL.len());
        for reason in CloseReason::ALL {
            assert_eq!(CloseReason::from_code(reason.code()), Some(reason));
        }
        assert_eq!(CloseReason::from_code(0), None);
    }
}
