#!/usr/bin/env bash
# Scale-out test: the shipped load-balancer recipes (deploy/haproxy/haproxy.cfg and
# deploy/nginx/nginx.conf), each in front of 3 hyper-mcp-proxy instances on loopback.
#
#   bash tests/scaleout/run.sh
#
# Installs haproxy and nginx from the distribution's packages if they are missing (apt-get;
# fails loudly if that is impossible), builds the binary (`cargo build --locked`), and for
# each balancer starts 3 instances (--instance-id proxy-1..3, serving MCP 2026-07-28 clients
# by translation over the built-in demo server: --modern translate --child-era legacy) and the
# balancer on free loopback ports, then runs tests/scaleout/checks.py through the balancer:
#   - 20 sessions spread over more than one instance; every request of a session reaches its
#     instance (the child pid the tool reports = the one that instance's /sessions lists);
#   - 2026-07-28 interactive calls (elicitation) answered input_required on whichever instance
#     the balancer chose: each retry reaches that instance and completes; the same retry sent
#     to another instance directly is refused (400 -32602 "another instance") and counted;
#   - the GET stream and a long SSE answer arrive event by event (not buffered);
#   - a SIGKILLed instance's sessions answer 404; re-initialize lands on a live instance;
#   - a draining instance (SIGTERM, /readyz 503) gets no new sessions and finishes its call.
# Also checks deploy/systemd/hyper-mcp-proxy.service with `systemd-analyze verify` when
# available. Every process it starts is stopped by PID on exit; every wait is bounded.
set -euo pipefail
exec </dev/null
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD
export PATH="$PATH:/usr/sbin:/sbin"
RUN_START=$SECONDS

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hyper-mcp-scaleout.XXXXXX")
chmod 755 "$WORK"
PIDS=()
FAILED=1

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

stop_pids() { # stops every process this script started, by PID: TERM, then KILL after 5s
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    local deadline=$((SECONDS + 5))
    for pid in "${PIDS[@]}"; do
        while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}

on_exit() {
    local rc=$?
    stop_pids
    if [[ $rc -ne 0 || $FAILED -ne 0 ]]; then
        echo "--- scale-out test FAILED; last log lines of every process ($WORK):" >&2
        local file
        for file in "$WORK"/*.log "$WORK"/nginx/*.log; do
            [[ -f "$file" ]] || continue
            echo "--- $file" >&2
            tail -n 25 "$file" >&2
        done
    fi
    rm -rf "$WORK"
    echo "scale-out test: $([[ $rc -eq 0 && $FAILED -eq 0 ]] && echo PASS || echo FAIL) in $((SECONDS - RUN_START))s"
}
trap on_exit EXIT

# ---------------------------------------------------------------------------------------------
# haproxy and nginx from the distribution, if absent
# ---------------------------------------------------------------------------------------------
missing=()
command -v haproxy >/dev/null 2>&1 || missing+=(haproxy)
command -v nginx >/dev/null 2>&1 || missing+=(nginx)
if ((${#missing[@]})); then
    echo "installing ${missing[*]} from the distribution's packages"
    command -v apt-get >/dev/null 2>&1 ||
        fail "${missing[*]} not installed and apt-get is not available: install ${missing[*]} first"
    SUDO=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null 2>&1 || fail "${missing[*]} not installed, not root and no sudo"
        SUDO=(sudo -n)
    fi
    export DEBIAN_FRONTEND=noninteractive
    timeout 240 "${SUDO[@]}" apt-get update -qq || fail "apt-get update failed"
    timeout 240 "${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" ||
        fail "apt-get install ${missing[*]} failed"
    command -v haproxy >/dev/null 2>&1 || fail "haproxy still not found after installing it"
    command -v nginx >/dev/null 2>&1 || fail "nginx still not found after installing it"
fi
echo "$(haproxy -v | head -n 1)"
echo "$(nginx -v 2>&1)"
python3 --version

# ---------------------------------------------------------------------------------------------
# the binary
# ---------------------------------------------------------------------------------------------
cargo build --locked --quiet
BIN="${CARGO_TARGET_DIR:-$ROOT/target}/debug/hyper-mcp-proxy"
[[ -x "$BIN" ]] || fail "no binary at $BIN after cargo build"
TEST_START=$SECONDS

# ---------------------------------------------------------------------------------------------
# systemd unit
# ---------------------------------------------------------------------------------------------
UNIT="$ROOT/deploy/systemd/hyper-mcp-proxy.service"
if command -v systemd-analyze >/dev/null 2>&1; then
    # verify checks that ExecStart's program exists: point it at the binary just built.
    mkdir -p "$WORK/unit"
    sed "s#/usr/local/bin/hyper-mcp-proxy#$BIN#" "$UNIT" >"$WORK/unit/hyper-mcp-proxy.service"
    (cd "$WORK/unit" && timeout 60 systemd-analyze verify ./hyper-mcp-proxy.service) ||
        fail "systemd-analyze verify rejects $UNIT"
    echo "systemd unit: systemd-analyze verify OK"
else
    echo "systemd unit: systemd-analyze not available, 'verify' check skipped"
fi

# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------
free_ports() { # $1 = how many distinct free loopback ports
    python3 - "$1" <<'EOF'
import socket, sys
socks = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
}

http_code() { # $1 = URL; prints the status, 000 when nothing answers
    curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" || true
}

wait_for() { # $1 = what, $2 = seconds, rest = command that succeeds when ready
    local what=$1 limit=$2
    shift 2
    local deadline=$((SECONDS + limit))
    until "$@"; do
        ((SECONDS < deadline)) || fail "timed out after ${limit}s waiting for $what"
        sleep 0.1
    done
}

is_status() { [[ "$(http_code "$1")" == "$2" ]]; }
answers() { [[ "$(http_code "$1")" != "000" ]]; }

# ---------------------------------------------------------------------------------------------
# one balancer in front of 3 fresh instances
# ---------------------------------------------------------------------------------------------
run_balancer() { # $1 = haproxy | nginx
    local balancer=$1 step_start=$SECONDS
    echo
    echo "=== $balancer: deploy/$balancer/ recipe in front of 3 instances"
    local ports
    read -r -a ports <<<"$(free_ports 7)"
    local lb=${ports[0]} instances="[" i
    for i in 1 2 3; do
        local port=${ports[$i]} metrics=${ports[$((i + 3))]}
        "$BIN" --host 127.0.0.1 --port "$port" --instance-id "proxy-$i" \
            --metrics-addr "127.0.0.1:$metrics" --sse-keepalive 1 --shutdown-timeout 20s \
            --modern translate --child-era legacy \
            >"$WORK/$balancer-proxy-$i.log" 2>&1 &
        local pid=$!
        PIDS+=("$pid")
        instances+="{\"name\":\"proxy-$i\",\"addr\":\"127.0.0.1:$port\",\"metrics\":\"127.0.0.1:$metrics\",\"pid\":$pid},"
    done
    instances="${instances%,}]"
    for i in 1 2 3; do
        wait_for "instance proxy-$i /readyz" 20 is_status "http://127.0.0.1:${ports[$i]}/readyz" 200
    done

    # The shipped recipe with the test's ports and a private log directory.
    local conf
    conf=$(sed -e "s/127\.0\.0\.1:8080/127.0.0.1:$lb/" \
        -e "s/127\.0\.0\.1:8081/127.0.0.1:${ports[1]}/" \
        -e "s/127\.0\.0\.1:8082/127.0.0.1:${ports[2]}/" \
        -e "s/127\.0\.0\.1:8083/127.0.0.1:${ports[3]}/" \
        -e "s#/var/log/nginx/#$WORK/nginx/#" \
        "$ROOT/deploy/$balancer/$balancer.$([[ $balancer == haproxy ]] && echo cfg || echo conf)")
    if [[ $balancer == haproxy ]]; then
        printf '%s\n' "$conf" >"$WORK/haproxy.cfg"
        timeout 30 haproxy -c -q -f "$WORK/haproxy.cfg" || fail "haproxy -c rejects the recipe"
        haproxy -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
        PIDS+=("$!")
    else
        mkdir -p "$WORK/nginx/temp"
        chmod 1777 "$WORK/nginx" "$WORK/nginx/temp"
        # Only the temp paths differ from the recipe: the distribution's need root.
        printf '%s\n' "$conf" | sed "s#^http {#http {\n    client_body_temp_path $WORK/nginx/temp/body;\n    proxy_temp_path $WORK/nginx/temp/proxy;\n    fastcgi_temp_path $WORK/nginx/temp/fastcgi;\n    uwsgi_temp_path $WORK/nginx/temp/uwsgi;\n    scgi_temp_path $WORK/nginx/temp/scgi;#" \
            >"$WORK/nginx/nginx.conf"
        local globals="daemon off; master_process on; pid $WORK/nginx/nginx.pid;"
        timeout 30 nginx -q -t -p "$WORK/nginx/" -c "$WORK/nginx/nginx.conf" -g "$globals" ||
            fail "nginx -t rejects the recipe"
        nginx -p "$WORK/nginx/" -c "$WORK/nginx/nginx.conf" -g "$globals" >"$WORK/nginx.log" 2>&1 &
        PIDS+=("$!")
    fi
    wait_for "$balancer on 127.0.0.1:$lb" 20 answers "http://127.0.0.1:$lb/"

    PYTHONDONTWRITEBYTECODE=1 timeout 150 python3 "$ROOT/tests/scaleout/checks.py" "$balancer" "http://127.0.0.1:$lb/mcp" "$instances" ||
        fail "$balancer: checks failed (see above)"
    stop_pids
    echo "=== $balancer: OK in $((SECONDS - step_start))s"
}

run_balancer haproxy
run_balancer nginx
FAILED=0
echo
echo "scale-out checks took $((SECONDS - TEST_START))s (after the build)"
