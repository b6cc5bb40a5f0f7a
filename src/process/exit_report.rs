//! `ExitReport`: how a child process ended, in the words a user understands, and its encodings
//! (log text, JSON error data, actor stop reason).

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
    /// Encodes the report as an actor stop reason (ractor carries reasons as strings).
    pub fn encode(&self) -> String {
        match self {
            ExitReport::Code(code) => format!("code:{code}"),
            ExitReport::Signal(signal) => format!("signal:{signal}"),
            ExitReport::Unknown => "unknown".to_string(),
        }
    }

    /// Decodes [`ExitReport::encode`]; anything else is `Unknown`.
    pub fn decode(reason: Option<&str>) -> ExitReport {
        let parse = |text: &str| text.parse::<i32>().ok();
        match reason.and_then(|r| r.split_once(':')) {
            Some(("code", code)) => parse(code).map_or(ExitReport::Unknown, ExitReport::Code),
            Some(("signal", sig)) => parse(sig).map_or(ExitReport::Unknown, ExitReport::Signal),
            _ => ExitReport::Unknown,
        }
    }

    /// The report as JSON for error `data`: `{"code": 1}` or `{"signal": 9}`.
    pub fn to_json(&self) -> serde_json::Value {
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
    fn exit_reports_survive_encoding() {
        for report in [
            ExitReport::Code(3),
            ExitReport::Signal(9),
            ExitReport::Unknown,
        ] {
            assert_eq!(ExitReport::decode(Some(&report.encode())), report);
        }
        assert_eq!(ExitReport::decode(None), ExitReport::Unknown);
    }
}
