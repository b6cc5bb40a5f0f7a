//! The node backend: `@modelcontextprotocol/server-everything`, the reference MCP server of
//! the SDK, run as `node <its dist/index.js> stdio` (not through `npx`, whose own start would
//! be measured too). Installed with npm into a bench-local directory under Cargo's target dir
//! the first time it is needed; scenarios that need it are skipped when `node` or `npm` is
//! missing or the install fails.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// The version the bench installs (pinned, so figures compare across runs).
const VERSION: &str = "2026.8.31";

/// The package.
const PACKAGE: &str = "@modelcontextprotocol/server-everything";

/// Where the bench keeps its own `node_modules` (Cargo's scratch directory for benches).
fn install_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("load-bench-node")
}

/// The command line that starts the server, installing the package first if it is absent.
/// `Err` with the reason to print when the scenario has to be skipped.
pub fn command() -> Result<Vec<String>, String> {
    let dir = install_dir();
    let script = dir
        .join("node_modules")
        .join(PACKAGE)
        .join("dist")
        .join("index.js");
    if !runs("node", &["--version"]) {
        return Err("`node` is not available".to_string());
    }
    if !script.exists() {
        if !runs("npm", &["--version"]) {
            return Err("`npm` is not available to install the server".to_string());
        }
        std::fs::create_dir_all(&dir).map_err(|err| format!("{}: {err}", dir.display()))?;
        eprintln!("installing {PACKAGE}@{VERSION} into {}", dir.display());
        let status = Command::new("npm")
            .args([
                "install",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "--prefix",
            ])
            .arg(&dir)
            .arg(format!("{PACKAGE}@{VERSION}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .map_err(|err| format!("cannot run npm: {err}"))?;
        if !status.success() || !script.exists() {
            return Err(format!(
                "`npm install {PACKAGE}@{VERSION}` failed ({status})"
            ));
        }
    }
    Ok(vec![
        "node".to_string(),
        script.display().to_string(),
        "stdio".to_string(),
    ])
}

/// Whether `program args` runs and exits 0.
fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}
