# shellcheck shell=bash
# Helpers shared by the interop suites (sourced, never run):
#   tests/interop/run.sh          2025 sessions: official SDK 1.x clients, server-everything child
#   tests/interop/modern/run.sh   2026-07-28: official 2.x clients, demo and fixture children
#
# What lives here: logging, bounded installs that are reused while their pin files and
# interpreter are unchanged (a stamp file records both), building or choosing the proxy
# binary, starting proxies each in a session of its own and stopping them (and everything
# they spawned), and reading a client script's PASS/FAIL output into FAILURES.
#
# The sourcing script sets LOG_TAG (prefix of its log lines) and LOG_DIR before calling
# anything, declares `FAILURES=()`, and calls `stop_all_proxies` from its EXIT trap.
# Every wait below is bounded by one of the *_TIMEOUT values.

INSTALL_TIMEOUT=900        # s, per install command (pip / npm)
BUILD_TIMEOUT=2400         # s, cargo build --release
STARTUP_TIMEOUT=30         # s, until a proxy logs its listening address
CLIENT_TIMEOUT=180         # s, per client script (each has its own inner deadlines too)
STOP_TIMEOUT=10            # s, graceful stop of a proxy before SIGKILL
LEFTOVER_TIMEOUT=5         # s, for a stopped proxy's children to exit on their own

INTEROP_LIB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
INTEROP_REPO_ROOT="$(cd "$INTEROP_LIB_DIR/../.." && pwd)"

export CI="${CI:-true}"
export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PYTHONDONTWRITEBYTECODE=1
export npm_config_audit=false npm_config_fund=false npm_config_update_notifier=false

log() { printf '[%s] %s\n' "$LOG_TAG" "$*" >&2; }
die() { printf '[%s] FAILED: %s\n' "$LOG_TAG" "$*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "required command '$1' not found in PATH"; }
sha() { cat "$@" | sha256sum | cut -d' ' -f1; }

# install_venv VENV REQUIREMENTS PYTHON
# Creates VENV with PYTHON and installs REQUIREMENTS (exact pins, including `mcp==X`), or
# reuses it when its stamp matches; then checks that the installed mcp is the pinned one.
install_venv() {
  local venv="$1" requirements="$2" python="$3"
  local stamp="$venv/.interop-stamp" want rel="${2#"$INTEROP_REPO_ROOT"/}"
  want="$(sha "$requirements")|$("$python" -c 'import sys; print(sys.version)')"
  if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    log "python: reusing $venv"
  else
    log "python: creating $venv and installing $rel"
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' \
      || die "python >= 3.10 is required (found $("$python" --version 2>&1))"
    rm -f "$stamp"
    timeout "$INSTALL_TIMEOUT" "$python" -m venv --clear "$venv" </dev/null \
      || die "could not create the venv at $venv"
    timeout "$INSTALL_TIMEOUT" "$venv/bin/python" -m pip install --quiet -r "$requirements" </dev/null \
      || die "pip install -r $rel failed (or timed out after ${INSTALL_TIMEOUT}s)"
    printf '%s' "$want" >"$stamp"
  fi
  local want_mcp got_mcp
  want_mcp="$(sed -n 's/^mcp==//p' "$requirements")"
  got_mcp="$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("mcp"))')" \
    || die "the venv $venv has no working 'mcp' package"
  [[ "$got_mcp" == "$want_mcp" ]] || die "venv $venv has mcp $got_mcp, expected $want_mcp (delete $venv)"
  log "python: mcp $got_mcp in $venv"
}

# install_node DIR PACKAGE...
# `npm ci` in DIR (package.json + package-lock.json), or reuses DIR/node_modules when its
# stamp matches; then checks that each PACKAGE is installed at the version package.json pins.
install_node() {
  local dir="$1"
  shift
  local stamp="$dir/node_modules/.interop-stamp" want rel="${dir#"$INTEROP_REPO_ROOT"/}"
  [[ -f "$dir/package-lock.json" ]] || die "$rel/package-lock.json is missing (npm ci needs it)"
  want="$(sha "$dir/package.json" "$dir/package-lock.json")|$(node --version)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    log "node: reusing $rel/node_modules"
  else
    log "node: npm ci in $rel"
    (cd "$dir" && timeout "$INSTALL_TIMEOUT" npm ci --no-audit --no-fund </dev/null) \
      || die "npm ci in $rel failed (or timed out after ${INSTALL_TIMEOUT}s)"
    printf '%s' "$want" >"$stamp"
  fi
  local pkg want_v got_v
  for pkg in "$@"; do
    want_v="$(node -p "require('$dir/package.json').dependencies['$pkg']")"
    got_v="$(node -p "require('$dir/node_modules/$pkg/package.json').version" 2>/dev/null)" \
      || die "$pkg is not installed in $rel/node_modules"
    [[ "$got_v" == "$want_v" ]] || die "$pkg is $got_v in $rel/node_modules, package.json pins $want_v"
    log "node: $pkg $got_v"
  done
}

# ensure_proxy_bin: sets PROXY_BIN to $HYPER_MCP_PROXY_BIN, or builds the release binary.
ensure_proxy_bin() {
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
    (cd "$INTEROP_REPO_ROOT" && timeout "$BUILD_TIMEOUT" cargo build --release --locked </dev/null) \
      || die "cargo build --release --locked failed (or timed out after ${BUILD_TIMEOUT}s)"
    PROXY_BIN="$INTEROP_REPO_ROOT/target/release/hyper-mcp-proxy"
  fi
  [[ -x "$PROXY_BIN" ]] || die "proxy binary $PROXY_BIN does not exist or is not executable"
}

# ----------------------------------------------------------------------------- proxies
# Each proxy runs under setsid: its session id is its pid, and the session holds every
# process it spawns, so nothing it started can outlive the suite unnoticed.
declare -A PROXY_PID=()    # name -> pid (also the session id when setsid exists)
declare -A PROXY_LOG=()    # name -> log file
declare -A PROXY_URL=()    # name -> http://127.0.0.1:<port>/mcp, once listening
PROXY_NAMES=()             # start order

# start_proxy NAME LOGFILE ARG...   (returns at once; see wait_proxy)
start_proxy() {
  local name="$1" logfile="$2"
  shift 2
  # The proxy reads a HYPER_MCP_PROXY_* variable for most flags (--modern, --child-era,
  # --port, …); the suites want exactly the flags they pass, so none reaches it.
  local -a env_args=(RUST_LOG="${RUST_LOG:-info}" NO_COLOR=1)
  local var
  for var in $(compgen -e); do
    [[ "$var" == HYPER_MCP_PROXY_* ]] && env_args=(-u "$var" "${env_args[@]}")
  done
  local -a session=()
  command -v setsid >/dev/null 2>&1 && session=(setsid)
  set +m  # no job control: the background proxy must not lead a process group, so setsid does not fork
  log "proxy $name: starting $PROXY_BIN $*"
  # env and setsid exec, so $! is the proxy's pid (and, with setsid, its session id)
  env "${env_args[@]}" "${session[@]}" "$PROXY_BIN" "$@" </dev/null >"$logfile" 2>&1 &
  PROXY_PID[$name]=$!
  PROXY_LOG[$name]="$logfile"
  PROXY_NAMES+=("$name")
}

# wait_proxy NAME: waits (bounded) for the `listening on http://127.0.0.1:<port>…` log
# line and sets PROXY_URL[NAME].
wait_proxy() {
  local name="$1" line="" deadline=$((SECONDS + STARTUP_TIMEOUT))
  local pid="${PROXY_PID[$name]}" logfile="${PROXY_LOG[$name]}"
  while ((SECONDS < deadline)); do
    # strip ANSI colour codes in case the log is coloured anyway
    line="$(sed 's/\x1b\[[0-9;]*m//g' "$logfile" | grep -m1 -oE 'listening on http://127\.0\.0\.1:[0-9]+[^[:space:]"]*' || true)"
    [[ -n "$line" ]] && break
    kill -0 "$pid" 2>/dev/null || die "proxy $name exited during startup (log: $logfile)"
    sleep 0.2
  done
  [[ -n "$line" ]] || die "proxy $name did not log 'listening on http://127.0.0.1:<port>' within ${STARTUP_TIMEOUT}s"
  local port
  port="$(sed -E 's#^listening on http://127\.0\.0\.1:([0-9]+).*#\1#' <<<"$line")"
  [[ "$port" =~ ^[0-9]+$ && "$port" != 0 ]] || die "could not read a port from '$line'"
  PROXY_URL[$name]="http://127.0.0.1:${port}/mcp"
  log "proxy $name: listening (logged '${line#listening on }'); clients use ${PROXY_URL[$name]}"
}

# Processes (other than the proxy itself) in the session created for a proxy.
session_leftovers() {
  local sid="$1"
  ps -eo pid=,sid=,args= 2>/dev/null | awk -v s="$sid" '$2 == s && $1 != s' || true
}

# stop_proxy NAME: SIGTERM, SIGKILL after STOP_TIMEOUT, then kills what it spawned and left.
stop_proxy() {
  local name="$1" pid="${PROXY_PID[$1]:-}"
  [[ -n "$pid" ]] || return 0
  unset "PROXY_PID[$name]"
  if kill -0 "$pid" 2>/dev/null; then
    log "stopping proxy $name (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + STOP_TIMEOUT))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      log "WARNING: proxy $name did not exit within ${STOP_TIMEOUT}s of SIGTERM, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
  command -v setsid >/dev/null 2>&1 || return 0
  # Nothing the proxy spawned may outlive the suite. Give the servers a moment to exit
  # on their own, then kill what is left in the proxy's session (and say so).
  local deadline=$((SECONDS + LEFTOVER_TIMEOUT)) left
  while left="$(session_leftovers "$pid")" && [[ -n "$left" ]] && ((SECONDS < deadline)); do sleep 0.2; done
  if [[ -n "$left" ]]; then
    log "WARNING: processes spawned by proxy $name were still running ${LEFTOVER_TIMEOUT}s after it exited; killing them:"
    printf '%s\n' "$left" | sed 's/^/    /' >&2
    awk '{print $1}' <<<"$left" | xargs -r kill -KILL 2>/dev/null || true
  fi
}

stop_all_proxies() {
  local name
  for name in "${PROXY_NAMES[@]}"; do stop_proxy "$name"; done
}

# proxy_alive NAME: true while the proxy process runs.
proxy_alive() {
  local pid="${PROXY_PID[$1]:-}"
  [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null
}

# print_proxy_logs LINES: the last LINES lines of every proxy's log, to stderr.
print_proxy_logs() {
  local name
  for name in "${PROXY_NAMES[@]}"; do
    [[ -s "${PROXY_LOG[$name]}" ]] || continue
    log "last lines of the log of proxy $name (${PROXY_LOG[$name]}):"
    tail -n "$1" "${PROXY_LOG[$name]}" | sed 's/^/    /' >&2
  done
}

# ----------------------------------------------------------------------------- clients
# run_client LABEL PREFIX EXPECTED URL COMMAND...
# Runs COMMAND... URL (bounded), prints its output, and adds to FAILURES every FAIL line,
# a missing or unexpected summary line `PREFIX: EXPECTED passed, 0 failed`, a timeout and a
# non-zero exit. Output goes to $LOG_DIR/LABEL.out and .err. Sets CLIENT_PASSED and
# CLIENT_FAILED to the counts of the summary line (0 and 1 when there is none).
run_client() {
  local label="$1" prefix="$2" expected="$3" url="$4"
  shift 4
  local out="$LOG_DIR/$label.out" err="$LOG_DIR/$label.err" rc=0
  log "running $label client"
  timeout "$CLIENT_TIMEOUT" "$@" "$url" </dev/null >"$out" 2>"$err" || rc=$?
  cat "$out"
  local summary
  summary="$(grep -E "^${prefix}: [0-9]+ passed, [0-9]+ failed$" "$out" | tail -n1 || true)"
  # shellcheck disable=SC2034 # read by the sourcing script after each call
  CLIENT_PASSED=0 CLIENT_FAILED=1
  if [[ "$summary" =~ ([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]]; then
    # shellcheck disable=SC2034 # read by the sourcing script after each call
    CLIENT_PASSED="${BASH_REMATCH[1]}" CLIENT_FAILED="${BASH_REMATCH[2]}"
  fi
  if ((rc == 124)); then
    FAILURES+=("$label client killed after ${CLIENT_TIMEOUT}s")
  fi
  if [[ -z "$summary" ]]; then
    FAILURES+=("$label client printed no summary line (exit $rc); stderr: $(tail -n 5 "$err" | tr '\n' ' ')")
  else
    while IFS= read -r failed_line; do
      FAILURES+=("$label: ${failed_line#FAIL }")
    done < <(grep -E '^FAIL ' "$out" || true)
    if [[ "$summary" != "${prefix}: ${expected} passed, 0 failed" ]]; then
      FAILURES+=("$label: summary is '$summary', expected '${prefix}: ${expected} passed, 0 failed'")
    elif ((rc != 0)); then
      FAILURES+=("$label client exited with status $rc despite '$summary'")
    fi
  fi
  if ((rc != 0)) && [[ -s "$err" ]]; then
    log "$label client stderr (last lines):"
    tail -n 30 "$err" | sed 's/^/    /' >&2
  fi
}
