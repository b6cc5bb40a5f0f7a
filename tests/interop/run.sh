#!/usr/bin/env bash
# Interoperability test suite for hyper-mcp-proxy.
#
#   bash tests/interop/run.sh            (from the repository root; CI does exactly this)
#
# Two parts: the 2025 (session) part below, then the 2026-07-28 (modern) part,
# tests/interop/modern/run.sh (see that file), run against the same proxy binary.
#
# What the 2025 part does, in order:
#   1. Installs the test dependencies into git-ignored folders, reusing them when
#      they are already present and match the pinned versions:
#        - tests/interop/.venv          official MCP Python SDK (PyPI `mcp`, exact pins
#                                       in tests/interop/requirements.txt)
#        - tests/interop/node_modules   official TypeScript SDK `@modelcontextprotocol/sdk`
#                                       and `@modelcontextprotocol/server-everything`
#                                       (exact pins in package.json + package-lock.json,
#                                       installed with `npm ci`)
#   2. Builds the proxy: `cargo build --release --locked`.
#   3. Starts `target/release/hyper-mcp-proxy -p 0 -- node <server-everything>/dist/index.js stdio`,
#      reads the port from its `listening on http://127.0.0.1:<port><endpoint>` log line.
#   4. Runs tests/interop/python_client.py and tests/interop/ts_client.mjs against
#      http://127.0.0.1:<port>/mcp. Each checks initialize, tools/list, echo, get-sum,
#      resources, prompts, sampling, elicitation, progress and logging notifications,
#      prints one PASS/FAIL line per check and a summary line
#      `interop-python: N passed, M failed` / `interop-ts: N passed, M failed`.
#   5. Always stops the proxy (and the server processes it spawned) on exit.
#
# Exit status: 0 when every check of both parts passed, non-zero otherwise; the last
# lines of output name the failed checks. Logs are kept in tests/interop/.logs/.
# Every wait is bounded (see the *_TIMEOUT variables in tests/interop/lib.sh).
#
# Requirements: bash, coreutils (timeout), python3 >= 3.10 with venv/pip, node >= 20 + npm,
# cargo; network access to PyPI, the npm registry and crates.io (first run only).
#
# Environment knobs (all optional):
#   HYPER_MCP_PROXY_BIN   use this proxy binary instead of building one with cargo
#   PYTHON                python interpreter used to create the venv (default: python3)
#   INTEROP_ONLY          "python" or "ts" to run a single client (in both parts)
#   INTEROP_SUITE         "legacy" or "modern" to run a single part (default: both)
#   INTEROP_SCENARIOS     modern part only: a subset of "demo dual translate fallback"
#   RUST_LOG              proxy log filter (default: info; the port is read from an info line)
set -euo pipefail

# ----------------------------------------------------------------------------- setup
INTEROP_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LOG_TAG="interop"
LOG_DIR="$INTEROP_DIR/.logs"
# shellcheck source=SCRIPTDIR/lib.sh
. "$INTEROP_DIR/lib.sh"
cd "$INTEROP_REPO_ROOT"
VENV="$INTEROP_DIR/.venv"
PYTHON="${PYTHON:-python3}"
EXPECTED_CHECKS=10
SE_ENTRY="tests/interop/node_modules/@modelcontextprotocol/server-everything/dist/index.js"

SUITE="${INTEROP_SUITE:-all}"
case "$SUITE" in
  all | legacy | modern) ;;
  *) die "INTEROP_SUITE must be 'legacy', 'modern' or 'all' (got '$SUITE')" ;;
esac

need timeout
need "$PYTHON"
need node
need npm

rm -rf "$LOG_DIR"
mkdir -p "$LOG_DIR"

on_exit() {
  local rc=$?
  stop_all_proxies
  if ((rc != 0)); then print_proxy_logs 60; fi
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

FAILURES=()

# ----------------------------------------------------------------------------- 2025 part
run_legacy_part() {
  install_venv "$VENV" "$INTEROP_DIR/requirements.txt" "$PYTHON"
  install_node "$INTEROP_DIR" @modelcontextprotocol/sdk @modelcontextprotocol/server-everything
  [[ -f "$SE_ENTRY" ]] || die "server-everything entry point $SE_ENTRY is missing"

  start_proxy legacy "$LOG_DIR/proxy.log" -p 0 -- node "$SE_ENTRY" stdio
  wait_proxy legacy
  local url="${PROXY_URL[legacy]}"
  if [[ "${INTEROP_ONLY:-python}" != "ts" ]]; then
    run_client python interop-python "$EXPECTED_CHECKS" "$url" "$VENV/bin/python" "$INTEROP_DIR/python_client.py"
  fi
  if [[ "${INTEROP_ONLY:-ts}" != "python" ]]; then
    run_client ts interop-ts "$EXPECTED_CHECKS" "$url" node "$INTEROP_DIR/ts_client.mjs"
  fi
  proxy_alive legacy || FAILURES+=("proxy process died while the clients were running")
  stop_proxy legacy
}

ensure_proxy_bin
if [[ "$SUITE" != modern ]]; then
  run_legacy_part
fi

# ----------------------------------------------------------------------------- 2026-07-28 part
if [[ "$SUITE" != legacy ]]; then
  log "running the modern-era part: tests/interop/modern/run.sh"
  HYPER_MCP_PROXY_BIN="$PROXY_BIN" bash "$INTEROP_DIR/modern/run.sh" \
    || FAILURES+=("modern-era part (tests/interop/modern/run.sh) failed: see its FAILED list above")
fi

if ((${#FAILURES[@]} > 0)); then
  log "FAILED checks:"
  for f in "${FAILURES[@]}"; do printf '[%s]   - %s\n' "$LOG_TAG" "$f" >&2; done
  exit 1
fi
log "all interop checks passed"
