#!/usr/bin/env python3
"""Checks of one load balancer in front of three hyper-mcp-proxy instances (Python 3.11
stdlib only). Called by tests/scaleout/run.sh, which starts and stops every process.

    checks.py BALANCER LB_URL INSTANCES_JSON

INSTANCES_JSON: [{"name": "proxy-1", "addr": "127.0.0.1:P", "metrics": "127.0.0.1:M",
"pid": 123}, ...]. Every wait is bounded; the first failed assertion ends the run (exit 1)
with a message naming what was expected and what was seen.
"""

import http.client
import json
import os
import signal
import sys
import threading
import time
import urllib.parse

WAIT = 20.0  # upper bound of any single wait, seconds
PROTOCOL = "2025-06-18"


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


def log(message):
    print(f"    {message}", flush=True)


class Answer:
    def __init__(self, status, headers, messages, times, body):
        self.status = status
        self.headers = headers
        self.messages = messages  # JSON-RPC messages (one for JSON, one per SSE event)
        self.times = times  # seconds since the request was sent, per message
        self.body = body

    def header(self, name):
        return self.headers.get(name.lower())

    def last(self):
        check(self.messages, f"expected a JSON-RPC answer, got HTTP {self.status}: {self.body!r}")
        return self.messages[-1]


def connect(url, timeout=WAIT):
    parts = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout), parts.path


def post(url, message, session=None, timeout=WAIT, protocol=PROTOCOL):
    """POSTs one JSON-RPC message; reads the whole answer (JSON or SSE), timing each message."""
    conn, path = connect(url, timeout)
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": protocol,
    }
    if session:
        headers["Mcp-Session-Id"] = session
    body = json.dumps(message).encode()
    start = time.monotonic()
    try:
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        answer_headers = {k.lower(): v for k, v in response.getheaders()}
        content_type = answer_headers.get("content-type", "")
        messages, times, raw = [], [], []
        if content_type.startswith("text/event-stream"):
            data = []
            while True:
                line = response.readline()
                if not line:
                    break
                text = line.decode().rstrip("\r\n")
                raw.append(text)
                if text.startswith("data:"):
                    data.append(text[5:].lstrip(" "))
                elif text == "" and data:
                    messages.append(json.loads("\n".join(data)))
                    times.append(time.monotonic() - start)
                    data = []
        else:
            text = response.read().decode()
            raw.append(text)
            if content_type.startswith("application/json") and text:
                messages.append(json.loads(text))
                times.append(time.monotonic() - start)
        return Answer(response.status, answer_headers, messages, times, "\n".join(raw))
    finally:
        conn.close()


def initialize(url):
    """Opens a session through `url`; returns its id."""
    answer = post(
        url,
        {
            "jsonrpc": "2.0",
            "id": 0,
            "method": "initialize",
            "params": {
                "protocolVersion": PROTOCOL,
                "capabilities": {},
                "clientInfo": {"name": "scaleout-checks", "version": "1.0.0"},
            },
        },
    )
    check(answer.status == 200, f"initialize: expected 200, got {answer.status}: {answer.body!r}")
    session = answer.header("mcp-session-id")
    check(session, f"initialize: no Mcp-Session-Id in the answer: {answer.headers}")
    check("result" in answer.last(), f"initialize failed: {answer.last()}")
    ack = post(url, {"jsonrpc": "2.0", "method": "notifications/initialized"}, session)
    check(ack.status == 202, f"notifications/initialized: expected 202, got {ack.status}: {ack.body!r}")
    return session


def call_tool(url, session, request_id, name, arguments, meta=None, timeout=WAIT):
    params = {"name": name, "arguments": arguments}
    if meta:
        params["_meta"] = meta
    message = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}
    return post(url, message, session, timeout)


def tool_text(answer, what):
    check(answer.status == 200, f"{what}: expected 200, got {answer.status}: {answer.body!r}")
    last = answer.last()
    check("result" in last, f"{what}: expected a result, got {last}")
    return last["result"]["content"][0]["text"]


def http_get(addr, path, timeout=5.0):
    host, port = addr.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def sessions_of(instance):
    status, body = http_get(instance["metrics"], "/sessions")
    check(status == 200, f"{instance['name']} /sessions: HTTP {status}: {body!r}")
    return {s["id"]: s for s in json.loads(body)["sessions"]}


def metric(instance, name):
    """The value of an unlabelled-but-for-instance_id sample of `name` on `instance`."""
    status, body = http_get(instance["metrics"], "/metrics")
    check(status == 200, f"{instance['name']} /metrics: HTTP {status}")
    wanted = f'{name}{{instance_id="{instance["name"]}"}} '
    for line in body.splitlines():
        if line.startswith(wanted):
            return float(line[len(wanted):])
    raise CheckFailed(f"{instance['name']} /metrics has no sample {wanted.strip()}:\n{body}")


def eventually(what, condition, wait=WAIT, every=0.1):
    deadline = time.monotonic() + wait
    last = None
    while time.monotonic() < deadline:
        last = condition()
        if last:
            return last
        time.sleep(every)
    raise CheckFailed(f"timed out after {wait:.0f}s waiting for: {what} (last: {last!r})")


def prefix(session):
    return session.split(".", 1)[0]


# ------------------------------------------------------------------------------------------


def check_spread_and_pinning(url, instances, sessions):
    """20 sessions spread over more than one instance; every request of a session reaches
    its instance (the same child pid, which /sessions of that instance lists for it)."""
    by_name = {i["name"]: i for i in instances}
    for _ in range(20):
        sessions.append(initialize(url))
    spread = {}
    for session in sessions:
        name = prefix(session)
        check(name in by_name, f"session id {session!r} names no instance of {sorted(by_name)}")
        spread[name] = spread.get(name, 0) + 1
    log(f"20 sessions over instances: {dict(sorted(spread.items()))}")
    check(len(spread) > 1, f"all 20 sessions landed on one instance: {spread}")
    listed = {i["name"]: sessions_of(i) for i in instances}
    for n, session in enumerate(sessions):
        pids = {
            tool_text(call_tool(url, session, 100 + 10 * n + k, "pid", {}), f"pid of {session}")
            for k in range(3)
        }
        check(len(pids) == 1, f"session {session}: 3 calls answered by different children {pids}")
        pid = int(pids.pop())
        home = prefix(session)
        for name, listing in listed.items():
            if name == home:
                check(session in listing, f"{name} /sessions does not list its session {session}")
                check(
                    listing[session]["child_pid"] == pid,
                    f"session {session}: the tool answered from pid {pid}, but {name} "
                    f"/sessions says its child is {listing[session]['child_pid']}",
                )
            else:
                check(session not in listing, f"{name} /sessions lists {session} of {home}")
    for instance in instances:
        misrouted = metric(instance, "hyper_mcp_proxy_misrouted_requests_total")
        check(misrouted == 0, f"{instance['name']} counted {misrouted} misrouted requests")
    log("60 tool calls of 20 sessions each reached their own instance and child; 0 misrouted")
    # The modern leg has not landed: its traffic is balanced like a new session and refused
    # the same way by every instance (the recipes' failing-safe rule), never a balancer error.
    for n in range(3):
        modern = post(url, {"jsonrpc": "2.0", "id": 500 + n, "method": "tools/list"},
                      protocol="2026-07-28")
        check(modern.status == 400, f"2026-07-28 request: expected 400 from an instance, got "
                                    f"{modern.status}: {modern.body!r}")
    log("2026-07-28 requests: 400 from the instances (not served yet), as the recipes expect")


def check_streams_unbuffered(url, session):
    """The GET stream's headers and keep-alives, and a long SSE answer's progress events,
    arrive while the stream is open, not when it ends."""
    conn, path = connect(url, 10)
    try:
        start = time.monotonic()
        conn.request(
            "GET",
            path,
            headers={
                "Accept": "text/event-stream",
                "Mcp-Session-Id": session,
                "MCP-Protocol-Version": PROTOCOL,
            },
        )
        response = conn.getresponse()
        check(response.status == 200, f"GET stream: expected 200, got {response.status}")
        content_type = response.getheader("content-type", "")
        check(content_type.startswith("text/event-stream"), f"GET stream: content type {content_type!r}")
        headers_at = time.monotonic() - start
        check(headers_at < 3, f"GET stream: headers took {headers_at:.1f}s")
        comments = []
        while len(comments) < 2:
            line = response.readline()
            check(line, "GET stream ended")
            if line.startswith(b":"):
                comments.append(time.monotonic() - start)
        # --sse-keepalive 1: two keep-alives within ~2s prove nothing waits for a buffer to fill.
        check(comments[1] < 4, f"GET stream: keep-alives arrived at {comments} s (buffered?)")
        log(f"GET stream: headers after {headers_at:.2f}s, keep-alives at "
            + ", ".join(f"{t:.2f}s" for t in comments))
    finally:
        conn.close()

    answer = call_tool(url, session, 900, "sleep", {"ms": 3000, "steps": 3}, {"progressToken": "p1"})
    check(answer.status == 200, f"long call: HTTP {answer.status}: {answer.body!r}")
    check(
        (answer.header("content-type") or "").startswith("text/event-stream"),
        f"long call: expected an SSE answer, got {answer.header('content-type')!r}",
    )
    methods = [m.get("method", "result" if "result" in m else "error") for m in answer.messages]
    check(
        methods == ["notifications/progress"] * 3 + ["result"],
        f"long call: expected 3 progress events then the result, got {methods}",
    )
    first, final = answer.times[0], answer.times[-1]
    check(
        final - first >= 1.5,
        f"long call: the first progress event arrived at {first:.2f}s and the answer at "
        f"{final:.2f}s: the stream was buffered",
    )
    check(tool_text(answer, "long call") == "slept 3000 ms", f"long call: {answer.last()}")
    log("long SSE answer: events at " + ", ".join(f"{t:.2f}s" for t in answer.times))


def check_instance_death(url, instances, sessions):
    """Killing an instance: its sessions answer 404, re-initializing lands on a live
    instance, and the other instances' sessions are untouched."""
    victim = instances[0]
    lost = [s for s in sessions if prefix(s) == victim["name"]]
    kept = [s for s in sessions if prefix(s) != victim["name"]]
    check(lost, f"no session on {victim['name']} to lose")
    os.kill(victim["pid"], signal.SIGKILL)
    log(f"SIGKILLed {victim['name']} (pid {victim['pid']}) holding {len(lost)} sessions")
    start = time.monotonic()
    for n, session in enumerate(lost):
        def gone():
            answer = call_tool(url, session, 2000 + n, "echo", {"message": "x"})
            return answer.status == 404 or f"HTTP {answer.status}: {answer.body[:200]!r}"

        eventually(f"session {session} of the killed instance answers 404", lambda: gone() is True)
    log(f"its {len(lost)} sessions answer 404 ({time.monotonic() - start:.1f}s after the kill)")
    # The 404s came from live instances that saw another instance's id, not from the balancer.
    live = [i for i in instances if i is not victim]
    misrouted = sum(metric(i, "hyper_mcp_proxy_misrouted_requests_total") for i in live)
    check(
        misrouted >= len(lost),
        f"the live instances counted {misrouted} misrouted requests, expected at least {len(lost)}",
    )
    for n in range(3):
        fresh = initialize(url)
        check(prefix(fresh) != victim["name"], f"re-initialize landed on the dead instance: {fresh}")
        text = tool_text(call_tool(url, fresh, 3000 + n, "echo", {"message": "again"}), "echo")
        check(text == "again", f"echo on the new session {fresh}: {text!r}")
        kept.append(fresh)
    for n, session in enumerate(kept[:6]):
        text = tool_text(call_tool(url, session, 3100 + n, "echo", {"message": "still"}), "echo")
        check(text == "still", f"session {session} of a live instance: {text!r}")
    log("re-initialized sessions land on live instances; the others' sessions still answer")
    return kept


def check_drain(url, instances, sessions):
    """An instance draining (SIGTERM): /readyz 503, no new sessions, its open sessions finish
    their calls."""
    draining = instances[1]
    others = instances[2:]
    session = next((s for s in sessions if prefix(s) == draining["name"]), None)
    check(session, f"no session on {draining['name']} to drain")
    result = {}

    def long_call():
        try:
            result["answer"] = call_tool(url, session, 4000, "sleep", {"ms": 4000, "steps": 4},
                                         {"progressToken": "drain"}, timeout=30)
        except Exception as err:  # noqa: BLE001 - reported below
            result["error"] = repr(err)

    caller = threading.Thread(target=long_call, daemon=True)
    caller.start()
    eventually(
        f"the long call is in flight on {draining['name']}",
        lambda: sessions_of(draining).get(session, {}).get("inflight_requests", 0) >= 1,
    )
    os.kill(draining["pid"], signal.SIGTERM)
    log(f"SIGTERMed {draining['name']} (pid {draining['pid']}) with a 4s call in flight")
    eventually(f"{draining['name']} /readyz answers 503",
               lambda: http_get(draining["addr"], "/readyz")[0] == 503)
    landed = {}
    for _ in range(10):
        fresh = initialize(url)
        landed[prefix(fresh)] = landed.get(prefix(fresh), 0) + 1
    check(
        draining["name"] not in landed,
        f"new sessions landed on the draining {draining['name']}: {landed}",
    )
    check(set(landed) <= {i["name"] for i in others}, f"new sessions landed on {landed}")
    log(f"10 new sessions while {draining['name']} drains: {landed}")
    caller.join(30)
    check(not caller.is_alive(), "the long call on the draining instance did not finish in 30s")
    check("error" not in result, f"the long call failed: {result.get('error')}")
    text = tool_text(result["answer"], "long call on the draining instance")
    check(text == "slept 4000 ms", f"the long call on the draining instance answered {text!r}")
    log("the draining instance's call in flight finished with its result")


def main():
    balancer, url, instances = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    check(len(instances) == 3, "expected 3 instances")
    sessions = []
    steps = [
        ("sessions spread and stay on their instance", lambda: check_spread_and_pinning(url, instances, sessions)),
        ("GET streams and long SSE answers pass unbuffered", lambda: check_streams_unbuffered(url, sessions[-1])),
        ("a killed instance's sessions answer 404; re-initialize lands on a live one",
         lambda: sessions.__setitem__(slice(None), check_instance_death(url, instances, sessions))),
        ("a draining instance gets no new sessions and finishes its calls",
         lambda: check_drain(url, instances, sessions)),
    ]
    for title, step in steps:
        start = time.monotonic()
        print(f"[{balancer}] {title}", flush=True)
        try:
            step()
        except CheckFailed as failure:
            print(f"FAIL [{balancer}] {title}: {failure}", file=sys.stderr, flush=True)
            return 1
        print(f"[{balancer}] ok ({time.monotonic() - start:.1f}s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
