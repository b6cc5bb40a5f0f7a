//! Which stdio MCP server the proxy spawns per session, and its command line.

use std::str::FromStr;

use crate::echo_backend::ECHO_BACKEND_ARG;
use crate::proxy::PROXY_BIN;

/// Which stdio MCP server the proxy spawns per session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// This executable as a minimal echo server.
    Echo,
    /// `hyper-mcp-proxy demo-server --no-record`.
    Demo,
}

impl FromStr for Backend {
    type Err = ();

    fn from_str(text: &str) -> Result<Backend, ()> {
        match text {
            "echo" => Ok(Backend::Echo),
            "demo" => Ok(Backend::Demo),
            _ => Err(()),
        }
    }
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Echo => "echo",
            Backend::Demo => "demo",
        }
    }

    /// The echo backend's command line with `options` (see [`crate::echo_backend`]).
    pub fn echo_with(options: &[&str]) -> Vec<String> {
        let mut command = Backend::Echo.command(None);
        command.extend(options.iter().map(|option| option.to_string()));
        command
    }

    /// The backend command line, optionally slow to start.
    pub fn command(self, startup_delay_ms: Option<u64>) -> Vec<String> {
        let mut command = match self {
            Backend::Echo => {
                let me = std::env::current_exe().expect("path of the bench executable");
                vec![me.display().to_string(), ECHO_BACKEND_ARG.to_string()]
            }
            Backend::Demo => vec![
                PROXY_BIN.to_string(),
                "demo-server".to_string(),
                "--no-record".to_string(),
            ],
        };
        if let Some(ms) = startup_delay_ms {
            command.push("--startup-delay-ms".to_string());
            command.push(ms.to_string());
        }
        command
    }
}
