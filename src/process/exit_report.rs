//! `ExitReport`: how a child process ended, in the words a user understands, as log text and
//! as JSON error data. It reaches the session as a typed value, in-band, never as a string.

use std::fmt;
use std::process::ExitStatus;

/// How a child ended, in the words a user understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitReport {
    /// It exited by itself with this code.
    Code(i32),
    /// It was killed by this signal.
    Signal(i32),
    /// Its status could not be read.
    Unknown,
}

impl ExitReport {
    /// Converts an OS exit status.
    pub fn from_status(status: ExitStatus) -> ExitReport {
        use std::os::unix::process::ExitStatusExt;
        match (status.code(), status.signal()) {
            (Some(code), _) => ExitReport::Code(code),
            (None, Some(signal)) => ExitReport::Signal(signal),
            _ => ExitReport::Unknown,
        }
    }
}

impl ExitReport {
    /// The report as JSON for error `data`: `{"code": 1}` or `{"signal": 9}`.
    pub fn to_json(self) -> serde_json::Value {
        match self {
            ExitReport::Code(code) => serde_json::json!({ "code": code }),
            ExitReport::Signal(signal) => serde_json::json!({ "signal": signal }),
            ExitReport::Unknown => serde_json::json!({}),
        }
    }
}

impl fmt::Display for ExitReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReport::Code(code) => write!(f, "exit code {code}"),
            ExitReport::Signal(signal) => write!(f, "killed by signal {signal}"),
            ExitReport::Unknown => write!(f, "unknown exit status"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_read_as_json_and_text() {
        assert_eq!(
            ExitReport::Code(3).to_json(),
            serde_json::json!({"code": 3})
        );
        assert_eq!(ExitReport::Signal(9).to_string(), "killed by signal 9");
        assert_eq!(ExitReport::Unknown.to_json(), serde_json::json!({}));
    }
}
