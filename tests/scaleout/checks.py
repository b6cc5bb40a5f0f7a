#!/usr/bin/env python3
"""Checks of one load balancer in front of three hyper-mcp-proxy instances (Python 3.11
stdlib only). Called by tests/scaleout/run.sh, which starts and stops every process.

    checks.py BALANCER LB_URL INSTANCES_JSON

INSTANCES_JSON: [{"name": "proxy-1", "addr": "127.0.0.1:P", "metrics": "127.0.0.1:M",
"pid": 123}, ...]. Every wait is bounded; the first failed assertion ends the run (exit 1)
with a message naming what was expected and what was seen.
"""

import json
import os
import signal
import sys
import threading
import time

from mcp_client import (
    MISROUTED,
    PROTOCOL,
    CheckFailed,
    call_tool,
    check,
    connect,
    eventually,
    http_get,
    initialize,
    log,
    metric,
    modern_call,
    prefix,
    sessions_of,
    tool_text,
)


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
        misrouted = metric(instance, MISROUTED)
        check(misrouted == 0, f"{instance['name']} counted {misrouted} misrouted requests")
    log("60 tool calls of 20 sessions each reached their own instance and child; 0 misrouted")


def check_modern_retries(url, instances):
    """2026-07-28 interactive calls: each first leg is balanced and answered input_required
    by an instance that parks the call and names itself in the requestState; each retry,
    through the balancer, reaches that instance and completes. The retries go in the reverse
    order of the first legs, as concurrent clients' would: a balancer that merely rotated in
    step with the first legs would send them to the wrong instances. Sent directly to another
    instance, a retry is refused (400 -32602 "another instance", naming the instance) and
    counted as misrouted, and its parked call is untouched."""
    by_name = {i["name"]: i for i in instances}
    parked = []
    for n in range(6):
        arguments = {"message": f"name {n}?"}
        asked = modern_call(url, 600 + 2 * n, "elicit", arguments)
        check(asked.status == 200, f"interactive call {n}: HTTP {asked.status}: {asked.body!r}")
        result = asked.last().get("result", {})
        check(result.get("resultType") == "input_required",
              f"interactive call {n}: expected input_required, got {asked.last()}")
        (key, request), = result["inputRequests"].items()
        check(request.get("method") == "elicitation/create", f"interactive call {n}: {request}")
        state = result["requestState"]
        home = prefix(state)
        check(home in by_name, f"requestState {state[:40]!r}... names no instance of {sorted(by_name)}")
        answer = {"action": "accept", "content": {"name": f"user {n}"}}
        retry = {"inputResponses": {key: answer}, "requestState": state}
        parked.append((n, home, arguments, answer, retry))
    first_legs = {}
    for _, home, _, _, _ in parked:
        first_legs[home] = first_legs.get(home, 0) + 1
    check(len(first_legs) > 1, f"all 6 interactive calls were parked on one instance: {first_legs}")

    _, home, arguments, _, retry = parked[0]
    stranger = next(i for i in instances if i["name"] != home)
    before = metric(stranger, MISROUTED)
    wrong = modern_call(f"http://{stranger['addr']}/mcp", 700, "elicit", arguments, retry)
    check(wrong.status == 400, f"retry at {stranger['name']}: expected 400, got "
                               f"{wrong.status}: {wrong.body!r}")
    error = wrong.last().get("error", {})
    check(error.get("code") == -32602, f"retry at {stranger['name']}: {wrong.last()}")
    check(error.get("data") == {"reason": "another instance", "instance": home},
          f"retry at {stranger['name']}: data {error.get('data')}")
    after = metric(stranger, MISROUTED)
    check(after == before + 1,
          f"{stranger['name']} counted {after - before} misrouted requests, expected 1")
    log(f"the retry of a call parked on {home}, sent to {stranger['name']}: 400 -32602 "
        f"reason \"another instance\", counted as misrouted")

    for n, home, arguments, answer, retry in reversed(parked):
        # Every other retry is sent without spaces, as the TypeScript client would.
        done = modern_call(url, 601 + 2 * n, "elicit", arguments, retry, compact=n % 2 == 0)
        check(done.status == 200, f"retry {n} (first leg on {home}) through the balancer: "
                                  f"HTTP {done.status}: {done.body!r}")
        last = done.last()
        check(last.get("id") == 601 + 2 * n and last.get("result", {}).get("resultType") == "complete",
              f"retry {n} (first leg on {home}): expected a complete result, got {last}")
        echoed = json.loads(last["result"]["content"][0]["text"])
        check(echoed == answer, f"retry {n}: the server got {echoed}, expected {answer}")
    log(f"6 interactive calls parked on {dict(sorted(first_legs.items()))}: each retry through "
        f"the balancer, in reverse order, reached its instance and completed")


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
        ("2026-07-28 interactive retries reach the instance holding their call",
         lambda: check_modern_retries(url, instances)),
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
