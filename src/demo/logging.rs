//! MCP log levels (the RFC 5424 severities) and the filter that decides which
//! `notifications/message` the client has asked to see.

/// Severity of a log message, least severe first, so that `Ord` is the
/// RFC 5424 order: `Debug < Info < … < Emergency`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    Debug,
    Info,
    Notice,
    Warning,
    Error,
    Critical,
    Alert,
    Emergency,
}

impl LogLevel {
    pub const ALL: [LogLevel; 8] = [
        LogLevel::Debug,
        LogLevel::Info,
        LogLevel::Notice,
        LogLevel::Warning,
        LogLevel::Error,
        LogLevel::Critical,
        LogLevel::Alert,
        LogLevel::Emergency,
    ];

    /// The level a client gets before it calls `logging/setLevel`: everything.
    pub const DEFAULT_MINIMUM: LogLevel = LogLevel::Debug;

    /// Parses the lowercase MCP spelling (`"debug"`, `"warning"`, …).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|level| level.as_str() == name)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LogLevel::Debug => "debug",
            LogLevel::Info => "info",
            LogLevel::Notice => "notice",
            LogLevel::Warning => "warning",
            LogLevel::Error => "error",
            LogLevel::Critical => "critical",
            LogLevel::Alert => "alert",
            LogLevel::Emergency => "emergency",
        }
    }

    /// Whether a message at `self` passes a filter set to `minimum`.
    pub fn passes(self, minimum: LogLevel) -> bool {
        self >= minimum
    }

    /// All valid spellings, for error messages.
    pub fn spellings() -> String {
        Self::ALL.map(LogLevel::as_str).join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip() {
        for level in LogLevel::ALL {
            assert_eq!(LogLevel::parse(level.as_str()), Some(level));
        }
        assert_eq!(LogLevel::parse("INFO"), None);
        assert_eq!(LogLevel::parse("verbose"), None);
        assert_eq!(
            LogLevel::spellings(),
            "debug, info, notice, warning, error, critical, alert, emergency"
        );
    }

    #[test]
    fn filter_follows_rfc_5424_order() {
        assert!(LogLevel::Debug.passes(LogLevel::DEFAULT_MINIMUM));
        assert!(LogLevel::Info.passes(LogLevel::Info));
        assert!(!LogLevel::Info.passes(LogLevel::Notice));
        assert!(LogLevel::Emergency.passes(LogLevel::Alert));
        assert!(!LogLevel::Warning.passes(LogLevel::Error));
        for (index, level) in LogLevel::ALL.iter().enumerate() {
            for (other_index, other) in LogLevel::ALL.iter().enumerate() {
                assert_eq!(level.passes(*other), index >= other_index);
            }
        }
    }
}
