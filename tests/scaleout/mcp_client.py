"""The client side of the scale-out checks (Python 3.11 stdlib only): a minimal MCP
Streamable HTTP client for both eras (2025 sessions, 2026-07-28 envelope requests), the
instances' ops endpoints, and bounded waits. Used by checks.py."""

import http.client
import json
import time
import urllib.parse

WAIT = 20.0  # upper bound of any single wait, seconds
PROTOCOL = "2025-06-18"
MODERN = "2026-07-28"
MISROUTED = "hyper_mcp_proxy_misrouted_requests_total"


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


def post(url, message, session=None, timeout=WAIT, protocol=PROTOCOL, extra_headers=None,
         compact=False):
    """POSTs one JSON-RPC message; reads the whole answer (JSON or SSE), timing each message.
    `compact` serializes without spaces (as JavaScript's JSON.stringify does), else with
    Python's `", "` and `": "`: a balancer reading the body must route both."""
    conn, path = connect(url, timeout)
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": protocol,
    }
    if session:
        headers["Mcp-Session-Id"] = session
    headers.update(extra_headers or {})
    body = json.dumps(message, separators=(",", ":") if compact else None).encode()
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


def modern_call(url, request_id, name, arguments, more_params=None, compact=False):
    """A 2026-07-28 `tools/call` (no session: the `_meta` envelope and the routing headers)
    that declares it can answer elicitation, as the official clients send it."""
    params = {
        "name": name,
        "arguments": arguments,
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientInfo": {"name": "scaleout-checks", "version": "1.0.0"},
            "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}},
        },
    }
    params.update(more_params or {})
    message = {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}
    headers = {"Mcp-Method": "tools/call", "Mcp-Name": name}
    return post(url, message, protocol=MODERN, extra_headers=headers, compact=compact)


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
