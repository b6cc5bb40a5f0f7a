#!/usr/bin/env bash
# Modern-era interop suite: MCP 2026-07-28 clients through hyper-mcp-proxy.
#
#   bash tests/interop/modern/run.sh     (from anywhere; tests/interop/run.sh runs it too)
#
# What it does, in order:
#   1. Installs the test dependencies into git-ignored folders, reusing them while they
#      match their pins (see ../lib.sh):
#        - tests/interop/.venv-modern          official Python SDK `mcp` 2.3.0 (exact pins of
#                                              every package in modern/requirements.txt)
#        - tests/interop/modern/node_modules   official TypeScript client
#                                              `@modelcontextprotocol/client` 2.4.0 (package.json +
#                                              package-lock.json, installed with `npm ci`)
#   2. Builds the proxy (`cargo build --release --locked`) unless HYPER_MCP_PROXY_BIN is set.
#   3. Starts one proxy per scenario, all at once, each on a free port (`-p 0`):
#        demo       hyper-mcp-proxy -p 0                       (built-in demo child, dual-era)
#        dual       hyper-mcp-proxy -p 0 -- <venv python> tests/fixtures/dual_era_sdk_server.py
#        translate  hyper-mcp-proxy -p 0 --modern translate -- <venv python> tests/fixtures/legacy_stdio_server.py
#        fallback   hyper-mcp-proxy -p 0 -- <venv python> tests/fixtures/legacy_stdio_server.py
#      (default flags are `--modern auto --child-era auto`: each proxy probes its command's
#      era with `server/discover` on a throwaway child at startup).
#   4. Runs modern/python_modern.py and modern/ts_modern.mjs for each scenario; each prints
#      one PASS/FAIL line per check and a summary line.
#   5. Always stops every proxy (and the servers it spawned) on exit.
#
# Prints `interop-modern: N passed, M failed` last (M also counts client runs that broke);
# exits 0 only when every check passed. Logs are kept in tests/interop/.logs/modern/.
#
# Environment knobs (all optional):
#   HYPER_MCP_PROXY_BIN   use this proxy binary instead of building one with cargo
#   PYTHON                python interpreter used to create the venv (default: python3)
#   INTEROP_ONLY          "python" or "ts" to run a single client
#   INTEROP_SCENARIOS     space-separated subset of "demo dual translate fallback"
#   RUST_LOG              proxy log filter (default: info; the port is read from an info line)
set -euo pipefail

MODERN_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
INTEROP_DIR="$(dirname "$MODERN_DIR")"
LOG_TAG="interop-modern"
LOG_DIR="$INTEROP_DIR/.logs/modern"
# shellcheck source=SCRIPTDIR/../lib.sh
. "$INTEROP_DIR/lib.sh"
cd "$INTEROP_REPO_ROOT"

VENV="$INTEROP_DIR/.venv-modern"
PYTHON="${PYTHON:-python3}"
FIXTURES="$INTEROP_REPO_ROOT/tests/fixtures"
ALL_SCENARIOS=(demo dual translate fallback)
read -r -a SCENARIOS <<<"${INTEROP_SCENARIOS:-${ALL_SCENARIOS[*]}}"

# Checks each client script runs per scenario: a client that prints fewer fails the suite.
declare -A EXPECTED=(
  [python:demo]=10 [python:dual]=9 [python:translate]=27 [python:fallback]=4
  [ts:demo]=7 [ts:dual]=4 [ts:translate]=8 [ts:fallback]=3
)

for scenario in "${SCENARIOS[@]}"; do
  [[ -n "${EXPECTED[python:$scenario]:-}" ]] \
    || die "unknown scenario '$scenario' in INTEROP_SCENARIOS (known: ${ALL_SCENARIOS[*]})"
done
case "${INTEROP_ONLY:-}" in
  "" | python | ts) ;;
  *) die "INTEROP_ONLY must be 'python' or 'ts' (got '${INTEROP_ONLY}')" ;;
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
  if ((rc != 0)); then print_proxy_logs 40; fi
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

SUITE_START=$SECONDS
# The venv serves both the Python client and the fixtures (the dual-era server needs the
# SDK; the legacy one needs nothing but the standard library).
install_venv "$VENV" "$MODERN_DIR/requirements.txt" "$PYTHON"
if [[ "${INTEROP_ONLY:-ts}" != "python" ]]; then
  install_node "$MODERN_DIR" @modelcontextprotocol/client
fi
ensure_proxy_bin
RUN_START=$SECONDS

FIXTURE_PYTHON="$VENV/bin/python"
scenario_args() {
  case "$1" in
    demo) printf '%s\n' -p 0 ;;
    dual) printf '%s\n' -p 0 -- "$FIXTURE_PYTHON" "$FIXTURES/dual_era_sdk_server.py" ;;
    translate) printf '%s\n' -p 0 --modern translate -- "$FIXTURE_PYTHON" "$FIXTURES/legacy_stdio_server.py" ;;
    fallback) printf '%s\n' -p 0 -- "$FIXTURE_PYTHON" "$FIXTURES/legacy_stdio_server.py" ;;
  esac
}

for scenario in "${SCENARIOS[@]}"; do
  mapfile -t args < <(scenario_args "$scenario")
  start_proxy "$scenario" "$LOG_DIR/proxy-$scenario.log" "${args[@]}"
done
for scenario in "${SCENARIOS[@]}"; do wait_proxy "$scenario"; done

FAILURES=()
TOTAL_PASSED=0
TOTAL_FAILED=0
for scenario in "${SCENARIOS[@]}"; do
  url="${PROXY_URL[$scenario]}"
  if [[ "${INTEROP_ONLY:-python}" != "ts" ]]; then
    run_client "python-$scenario" interop-modern-python "${EXPECTED[python:$scenario]}" "$url" \
      "$VENV/bin/python" "$MODERN_DIR/python_modern.py" "$scenario"
    TOTAL_PASSED=$((TOTAL_PASSED + CLIENT_PASSED))
    TOTAL_FAILED=$((TOTAL_FAILED + CLIENT_FAILED))
  fi
  if [[ "${INTEROP_ONLY:-ts}" != "python" ]]; then
    run_client "ts-$scenario" interop-modern-ts "${EXPECTED[ts:$scenario]}" "$url" \
      node "$MODERN_DIR/ts_modern.mjs" "$scenario"
    TOTAL_PASSED=$((TOTAL_PASSED + CLIENT_PASSED))
    TOTAL_FAILED=$((TOTAL_FAILED + CLIENT_FAILED))
  fi
  proxy_alive "$scenario" || FAILURES+=("proxy $scenario died while the clients were running")
done

log "clients ran in $((SECONDS - RUN_START))s (suite $((SECONDS - SUITE_START))s including installs and build)"
if ((${#FAILURES[@]} > 0)); then
  log "FAILED checks:"
  for f in "${FAILURES[@]}"; do printf '[%s]   - %s\n' "$LOG_TAG" "$f" >&2; done
  ((TOTAL_FAILED > 0)) || TOTAL_FAILED=${#FAILURES[@]}
  echo "interop-modern: $TOTAL_PASSED passed, $TOTAL_FAILED failed"
  exit 1
fi
echo "interop-modern: $TOTAL_PASSED passed, 0 failed"
log "all modern interop checks passed"
