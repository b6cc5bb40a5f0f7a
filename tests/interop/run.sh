#!/usr/bin/env bash
# Interoperability test suite for hyper-mcp-proxy.
#
#   bash tests/interop/run.sh            (from the repository root; CI does exactly this)
#
# What it does, in order:
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
# Exit status: 0 when every check of both clients passed, non-zero otherwise; the last
# lines of output name the failed checks. Logs are kept in tests/interop/.logs/.
# Every wait is bounded (see the *_TIMEOUT variables below).
#
# Requirements: bash, coreutils (timeout), python3 >= 3.10 with venv/pip, node >= 20 + npm,
# cargo; network access to PyPI, the npm registry and crates.io (first run only).
#
# Environment knobs (all optional):
#   HYPER_MCP_PROXY_BIN   use this proxy binary instead of building one with cargo
#   PYTHON                python interpreter used to create the venv (default: python3)
#   INTEROP_ONLY          "python" or "ts" to run a single client
#   RUST_LOG              proxy log filter (default: info; the port is read from an info line)
set -euo pipefail

# ----------------------------------------------------------------------------- setup
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$REPO_ROOT"
INTEROP_DIR="$REPO_ROOT/tests/interop"
LOG_DIR="$INTEROP_DIR/.logs"
VENV="$INTEROP_DIR/.venv"
PYTHON="${PYTHON:-python3}"
EXPECTED_CHECKS=10

INSTALL_TIMEOUT=900        # s, per install command (pip / npm)
BUILD_TIMEOUT=2400         # s, cargo build --release
STARTUP_TIMEOUT=30         # s, until the proxy logs its listening address
CLIENT_TIMEOUT=180         # s, per client script (each has its own inner deadlines too)
STOP_TIMEOUT=10            # s, graceful stop of the proxy before SIGKILL

SE_ENTRY="tests/interop/node_modules/@modelcontextprotocol/server-everything/dist/index.js"

export CI="${CI:-true}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PYTHONDONTWRITEBYTECODE=1
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

log() { printf '[interop] %s\n' "$*" >&2; }
die() { printf '[interop] FAILED: %s\n' "$*" >&2; exit 1; }

need() { command -v "$1" >/dev/null 2>&1 || die "required command '$1' not found in PATH"; }
need timeout
need "$PYTHON"
need node
need npm

rm -rf "$LOG_DIR"
mkdir -p "$LOG_DIR"

sha() { cat "$@" | sha256sum | cut -d' ' -f1; }

# ----------------------------------------------------------------------------- python venv
install_python() {
  local stamp="$VENV/.interop-stamp"
  local want
  want="$(sha "$INTEROP_DIR/requirements.txt")|$("$PYTHON" -c 'import sys; print(sys.version)')"
  if [[ -x "$VENV/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    log "python: reusing $VENV"
  else
    log "python: creating $VENV and installing tests/interop/requirements.txt"
    "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
      || die "python >= 3.10 is required (found $("$PYTHON" --version 2>&1))"
    rm -f "$stamp"
    timeout "$INSTALL_TIMEOUT" "$PYTHON" -m venv --clear "$VENV" </dev/null \
      || die "could not create the venv at $VENV"
    timeout "$INSTALL_TIMEOUT" "$VENV/bin/python" -m pip install --quiet \
      -r "$INTEROP_DIR/requirements.txt" </dev/null \
      || die "pip install -r tests/interop/requirements.txt failed (or timed out after ${INSTALL_TIMEOUT}s)"
    printf '%s' "$want" >"$stamp"
  fi
  local want_mcp got_mcp
  want_mcp="$(sed -n 's/^mcp==//p' "$INTEROP_DIR/requirements.txt")"
  got_mcp="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("mcp"))')" \
    || die "the venv has no working 'mcp' package"
  [[ "$got_mcp" == "$want_mcp" ]] || die "venv has mcp $got_mcp, expected $want_mcp (delete $VENV)"
  log "python: mcp $got_mcp"
}

# ----------------------------------------------------------------------------- node modules
install_node() {
  local stamp="$INTEROP_DIR/node_modules/.interop-stamp"
  local want
  local lock_files=("$INTEROP_DIR/package.json")
  [[ -f "$INTEROP_DIR/package-lock.json" ]] && lock_files+=("$INTEROP_DIR/package-lock.json")
  want="$(sha "${lock_files[@]}")|$(node --version)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    log "node: reusing tests/interop/node_modules"
  else
    if [[ -f "$INTEROP_DIR/package-lock.json" ]]; then
      log "node: npm ci in tests/interop"
      (cd "$INTEROP_DIR" && timeout "$INSTALL_TIMEOUT" npm ci --no-audit --no-fund </dev/null) \
        || die "npm ci in tests/interop failed (or timed out after ${INSTALL_TIMEOUT}s)"
    else
      log "node: no package-lock.json, npm install in tests/interop"
      (cd "$INTEROP_DIR" && timeout "$INSTALL_TIMEOUT" npm install --no-audit --no-fund </dev/null) \
        || die "npm install in tests/interop failed (or timed out after ${INSTALL_TIMEOUT}s)"
      want="$(sha "$INTEROP_DIR/package.json" "$INTEROP_DIR/package-lock.json")|$(node --version)"
    fi
    printf '%s' "$want" >"$stamp"
  fi
  local pkg want_v got_v
  for pkg in @modelcontextprotocol/sdk @modelcontextprotocol/server-everything; do
    want_v="$(node -p "require('$INTEROP_DIR/package.json').dependencies['$pkg']")"
    got_v="$(node -p "require('$INTEROP_DIR/node_modules/$pkg/package.json').version" 2>/dev/null)" \
      || die "$pkg is not installed in tests/interop/node_modules"
    [[ "$got_v" == "$want_v" ]] || die "$pkg is $got_v in node_modules, package.json pins $want_v"
    log "node: $pkg $got_v"
  done
  [[ -f "$SE_ENTRY" ]] || die "server-everything entry point $SE_ENTRY is missing"
}

install_python
install_node

# ----------------------------------------------------------------------------- proxy binary
if [[ -n "${HYPER_MCP_PROXY_BIN:-}" ]]; then
  PROXY_BIN="$HYPER_MCP_PROXY_BIN"
  log "proxy: using HYPER_MCP_PROXY_BIN=$PROXY_BIN (not building)"
else
  if ! command -v cargo >/dev/null 2>&1 && [[ -f "${CARGO_HOME:-$HOME/.cargo}/env" ]]; then
    # rustup installs into ~/.cargo/bin, which a non-login shell may not have on PATH
    # shellcheck disable=SC1091
    . "${CARGO_HOME:-$HOME/.cargo}/env"
  fi
  need cargo
  log "proxy: cargo build --release --locked"
  timeout "$BUILD_TIMEOUT" cargo build --release --locked </dev/null \
    || die "cargo build --release --locked failed (or timed out after ${BUILD_TIMEOUT}s)"
  PROXY_BIN="$REPO_ROOT/target/release/hyper-mcp-proxy"
fi
[[ -x "$PROXY_BIN" ]] || die "proxy binary $PROXY_BIN does not exist or is not executable"

# ----------------------------------------------------------------------------- start proxy
PROXY_LOG="$LOG_DIR/proxy.log"
PROXY_PID=""
PROXY_SID=""   # the proxy is started with setsid: its session holds it and every process it spawns

# Processes (other than the proxy itself) in the session created for the proxy.
session_leftovers() {
  [[ -n "$PROXY_SID" ]] || return 0
  ps -eo pid=,sid=,args= 2>/dev/null | awk -v s="$PROXY_SID" '$2 == s && $1 != s' || true
}

stop_proxy() {
  [[ -n "$PROXY_PID" ]] || return 0
  local pid="$PROXY_PID"
  PROXY_PID=""
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping proxy (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "WARNING: proxy did not exit within ${STOP_TIMEOUT}s of SIGTERM, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
  # Nothing the proxy spawned may outlive the suite. Give the servers a moment to exit
  # on their own, then kill what is left in the proxy's session (and say so).
  local deadline=$((SECONDS + 5)) left
  while left="$(session_leftovers)" && [[ -n "$left" ]] && ((SECONDS < deadline)); do sleep 0.2; done
  if [[ -n "$left" ]]; then
    log "WARNING: processes spawned by the proxy were still running 5s after it exited; killing them:"
    printf '%s\n' "$left" | sed 's/^/    /' >&2
    awk '{print $1}' <<<"$left" | xargs -r kill -KILL 2>/dev/null || true
  fi
}

on_exit() {
  local rc=$?
  stop_proxy
  if ((rc != 0)) && [[ -s "$PROXY_LOG" ]]; then
    log "last lines of the proxy log ($PROXY_LOG):"
    tail -n 60 "$PROXY_LOG" | sed 's/^/    /' >&2
  fi
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The proxy also reads HYPER_MCP_PROXY_{HOST,PORT,ENDPOINT}; the suite wants its defaults.
unset HYPER_MCP_PROXY_HOST HYPER_MCP_PROXY_PORT HYPER_MCP_PROXY_ENDPOINT
export RUST_LOG="${RUST_LOG:-info}"
export NO_COLOR=1
set +m  # no job control: the background proxy must not lead a process group, so setsid does not fork
log "proxy: starting $PROXY_BIN -p 0 -- node $SE_ENTRY stdio"
if command -v setsid >/dev/null 2>&1; then
  setsid "$PROXY_BIN" -p 0 -- node "$SE_ENTRY" stdio </dev/null >"$PROXY_LOG" 2>&1 &
  PROXY_PID=$!
  PROXY_SID=$PROXY_PID
else
  "$PROXY_BIN" -p 0 -- node "$SE_ENTRY" stdio </dev/null >"$PROXY_LOG" 2>&1 &
  PROXY_PID=$!
fi

URL=""
deadline=$((SECONDS + STARTUP_TIMEOUT))
while ((SECONDS < deadline)); do
  # strip ANSI colour codes in case the log is coloured anyway
  line="$(sed 's/\x1b\[[0-9;]*m//g' "$PROXY_LOG" | grep -m1 -oE 'listening on http://127\.0\.0\.1:[0-9]+[^[:space:]"]*' || true)"
  if [[ -n "$line" ]]; then
    URL="${line#listening on }"
    break
  fi
  kill -0 "$PROXY_PID" 2>/dev/null || die "proxy exited during startup (see log below)"
  sleep 0.2
done
[[ -n "$URL" ]] || die "proxy did not log 'listening on http://127.0.0.1:<port>' within ${STARTUP_TIMEOUT}s"
PORT="$(sed -E 's#^http://127\.0\.0\.1:([0-9]+).*#\1#' <<<"$URL")"
[[ "$PORT" =~ ^[0-9]+$ && "$PORT" != 0 ]] || die "could not read a port from '$line'"
MCP_URL="http://127.0.0.1:${PORT}/mcp"
log "proxy: listening (logged '$URL'); clients use $MCP_URL"

# ----------------------------------------------------------------------------- clients
declare -a FAILURES=()

# run_client <label> <summary-prefix> <command...>
run_client() {
  local label="$1" prefix="$2"
  shift 2
  local out="$LOG_DIR/$label.out" rc=0
  log "running $label client"
  timeout "$CLIENT_TIMEOUT" "$@" "$MCP_URL" </dev/null >"$out" 2>"$LOG_DIR/$label.err" || rc=$?
  cat "$out"
  local summary
  summary="$(grep -E "^${prefix}: [0-9]+ passed, [0-9]+ failed$" "$out" | tail -n1 || true)"
  if ((rc == 124)); then
    FAILURES+=("$label client killed after ${CLIENT_TIMEOUT}s")
  fi
  if [[ -z "$summary" ]]; then
    FAILURES+=("$label client printed no summary line (exit $rc); stderr: $(tail -n 5 "$LOG_DIR/$label.err" | tr '\n' ' ')")
    return 0
  fi
  while IFS= read -r failed_line; do
    FAILURES+=("$label: ${failed_line#FAIL }")
  done < <(grep -E '^FAIL ' "$out" || true)
  if [[ "$summary" != "${prefix}: ${EXPECTED_CHECKS} passed, 0 failed" ]]; then
    FAILURES+=("$label: summary is '$summary', expected '${prefix}: ${EXPECTED_CHECKS} passed, 0 failed'")
  elif ((rc != 0)); then
    FAILURES+=("$label client exited with status $rc despite '$summary'")
  fi
  if ((rc != 0)) && [[ -s "$LOG_DIR/$label.err" ]]; then
    log "$label client stderr (last lines):"
    tail -n 30 "$LOG_DIR/$label.err" | sed 's/^/    /' >&2
  fi
}

if [[ "${INTEROP_ONLY:-python}" != "ts" ]]; then
  run_client python interop-python "$VENV/bin/python" "$INTEROP_DIR/python_client.py"
fi
if [[ "${INTEROP_ONLY:-ts}" != "python" ]]; then
  run_client ts interop-ts node "$INTEROP_DIR/ts_client.mjs"
fi

kill -0 "$PROXY_PID" 2>/dev/null || FAILURES+=("proxy process died while the clients were running")

if ((${#FAILURES[@]} > 0)); then
  log "FAILED checks:"
  for f in "${FAILURES[@]}"; do printf '[interop]   - %s\n' "$f" >&2; done
  exit 1
fi
log "all interop checks passed"
