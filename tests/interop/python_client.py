#!/usr/bin/env python3
"""Interop checks for hyper-mcp-proxy using the official MCP Python SDK.

Usage:  python_client.py <streamable-http-url>      e.g. http://127.0.0.1:8080/mcp

The server behind the URL must be @modelcontextprotocol/server-everything
(either spawned over stdio by hyper-mcp-proxy, or its own `streamableHttp`
mode, which is used as a reference when developing these checks).

Prints one line per check ("PASS <check>" / "FAIL <check>: <why>") and ends
with exactly one summary line:
    interop-python: <passed> passed, <failed> failed
Exit status is 0 only if every check passed.

Every wait is bounded: each check has its own deadline (CHECK_TIMEOUT_S) and
the whole run has a global deadline (TOTAL_TIMEOUT_S).
"""

from __future__ import annotations

import json
import re
import sys
import traceback
import warnings
from pathlib import Path
from typing import Any, Awaitable, Callable

import anyio
from pydantic import AnyUrl

from mcp import ClientSession, types
from mcp.client.streamable_http import streamablehttp_client

# `streamablehttp_client` is deprecated in favour of `streamable_http_client` in
# mcp 1.2x+, but it is still the documented entry point of the 1.x line.
warnings.filterwarnings("ignore", category=DeprecationWarning)

PREFIX = "interop-python"
CHECK_TIMEOUT_S = 20.0
TOTAL_TIMEOUT_S = 120.0
LOG_WAIT_S = 15.0  # server-everything emits one simulated log message every 5 s

HERE = Path(__file__).resolve().parent
SE_DIST = HERE / "node_modules" / "@modelcontextprotocol" / "server-everything" / "dist"
SE_DOCS = SE_DIST / "docs"

# --- what server-everything (pinned in package.json) is expected to expose ---
SERVER_NAME = "mcp-servers/everything"
SERVER_TITLE = "Everything Reference Server"
SERVER_VERSION = "2.0.0"
EXPECTED_TOOLS = {
    "echo",
    "get-sum",
    "trigger-long-running-operation",
    "toggle-simulated-logging",
    # only registered when the client declares the capability (after notifications/initialized)
    "trigger-sampling-request",
    "trigger-elicitation-request",
}
EXPECTED_PROMPTS = {"simple-prompt", "args-prompt", "completable-prompt", "resource-prompt"}
RESOURCE_DOC = "features.md"

# --- fixed inputs / answers ---
ECHO_MESSAGE = 'interop-python: héllo wörld ✓ "quoted" \\ back\\slash {"json":[1,2]}'
SUM_A, SUM_B = 17, 25
PROMPT_CITY, PROMPT_STATE = "Zürich", "ZH"
SAMPLING_PROMPT = "interop-python sampling prompt"
SAMPLING_MAX_TOKENS = 77
SAMPLING_REPLY = "FIXED-SAMPLING-REPLY from interop-python"
SAMPLING_MODEL = "interop-fixed-model"
ELICIT_CONTENT: dict[str, Any] = {
    "name": "Ada Lovelace (py)",
    "check": True,
    "email": "ada.py@example.com",
    "integer": 7,
}
PROGRESS_DURATION_S, PROGRESS_STEPS = 1, 4
LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
LOG_DATA_RE = re.compile(
    r"^(Debug-level message|Info-level message|Notice-level message|Warning-level message|"
    r"Error-level message|Critical-level message|Alert level-message|Emergency-level message)"
    r"( - SessionId .+)?$"
)


class CheckFailed(Exception):
    pass


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise CheckFailed(what)


def expect_eq(actual: Any, expected: Any, what: str) -> None:
    if actual != expected:
        raise CheckFailed(f"{what}: expected {expected!r}, got {actual!r}")


def only_text(result: types.CallToolResult, what: str) -> list[str]:
    expect(not result.isError, f"{what}: tool returned isError=true: {result.content!r}")
    texts = []
    for block in result.content:
        expect(isinstance(block, types.TextContent), f"{what}: non-text content block {block!r}")
        texts.append(block.text)
    return texts


class Recorder:
    """State shared between the session callbacks and the checks."""

    def __init__(self) -> None:
        self.sampling_requests: list[types.CreateMessageRequestParams] = []
        self.elicitation_requests: list[types.ElicitRequestParams] = []
        self.logs: list[tuple[float, types.LoggingMessageNotificationParams]] = []
        self.log_event = anyio.Event()

    async def sampling(self, context, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        self.sampling_requests.append(params)
        return types.CreateMessageResult(
            role="assistant",
            content=types.TextContent(type="text", text=SAMPLING_REPLY),
            model=SAMPLING_MODEL,
            stopReason="endTurn",
        )

    async def elicitation(self, context, params: types.ElicitRequestParams) -> types.ElicitResult:
        self.elicitation_requests.append(params)
        return types.ElicitResult(action="accept", content=dict(ELICIT_CONTENT))

    async def logging(self, params: types.LoggingMessageNotificationParams) -> None:
        self.logs.append((anyio.current_time(), params))
        self.log_event.set()


# ----------------------------------------------------------------- checks


async def check_initialize(session: ClientSession, rec: Recorder, state: dict) -> None:
    init: types.InitializeResult = state["init"]
    expect_eq(init.serverInfo.name, SERVER_NAME, "serverInfo.name")
    expect_eq(init.serverInfo.title, SERVER_TITLE, "serverInfo.title")
    expect_eq(init.serverInfo.version, SERVER_VERSION, "serverInfo.version")
    expected_instructions = (SE_DOCS / "instructions.md").read_text(encoding="utf-8")
    expect_eq(init.instructions, expected_instructions, "instructions (docs/instructions.md)")
    caps = init.capabilities
    expect(caps.logging is not None, "capabilities.logging missing")
    expect(caps.tools is not None and caps.tools.listChanged is True, f"capabilities.tools: {caps.tools!r}")
    expect(
        caps.resources is not None and caps.resources.subscribe is True,
        f"capabilities.resources: {caps.resources!r}",
    )
    expect(caps.prompts is not None, "capabilities.prompts missing")
    expect_eq(init.protocolVersion, types.LATEST_PROTOCOL_VERSION, "negotiated protocolVersion")


async def check_tools_list(session: ClientSession, rec: Recorder, state: dict) -> None:
    result = await session.list_tools()
    names = [t.name for t in result.tools]
    expect_eq(len(names), len(set(names)), f"duplicate tool names in {names}")
    missing = EXPECTED_TOOLS - set(names)
    expect(not missing, f"tools missing from tools/list: {sorted(missing)} (got {names})")
    echo = next(t for t in result.tools if t.name == "echo")
    expect_eq(echo.inputSchema.get("required"), ["message"], "echo inputSchema.required")


async def check_echo(session: ClientSession, rec: Recorder, state: dict) -> None:
    result = await session.call_tool("echo", {"message": ECHO_MESSAGE})
    expect_eq(only_text(result, "echo"), [f"Echo: {ECHO_MESSAGE}"], "echo result text")


async def check_add(session: ClientSession, rec: Recorder, state: dict) -> None:
    result = await session.call_tool("get-sum", {"a": SUM_A, "b": SUM_B})
    expect_eq(
        only_text(result, "get-sum"),
        [f"The sum of {SUM_A} and {SUM_B} is {SUM_A + SUM_B}."],
        "get-sum result text",
    )


async def check_resources(session: ClientSession, rec: Recorder, state: dict) -> None:
    listed = await session.list_resources()
    uris = [str(r.uri) for r in listed.resources]
    expected_uris = {
        f"demo://resource/static/document/{p.name}" for p in SE_DOCS.iterdir() if p.is_file()
    }
    expect(len(expected_uris) > 0, f"no docs found in {SE_DOCS}")
    missing = expected_uris - set(uris)
    expect(not missing, f"resources missing from resources/list: {sorted(missing)} (got {uris})")
    uri = f"demo://resource/static/document/{RESOURCE_DOC}"
    entry = next(r for r in listed.resources if str(r.uri) == uri)
    expect_eq(entry.mimeType, "text/markdown", "listed mimeType")
    read = await session.read_resource(AnyUrl(uri))
    expect_eq(len(read.contents), 1, "number of resource contents")
    content = read.contents[0]
    expect(isinstance(content, types.TextResourceContents), f"not text contents: {content!r}")
    expect_eq(str(content.uri), uri, "read uri")
    expect_eq(content.mimeType, "text/markdown", "read mimeType")
    expected_text = (SE_DOCS / RESOURCE_DOC).read_text(encoding="utf-8")
    expect_eq(content.text, expected_text, f"text of {RESOURCE_DOC}")


async def check_prompts(session: ClientSession, rec: Recorder, state: dict) -> None:
    listed = await session.list_prompts()
    names = {p.name for p in listed.prompts}
    missing = EXPECTED_PROMPTS - names
    expect(not missing, f"prompts missing from prompts/list: {sorted(missing)} (got {sorted(names)})")
    args_prompt = next(p for p in listed.prompts if p.name == "args-prompt")
    arg_names = {a.name: a.required for a in (args_prompt.arguments or [])}
    expect_eq(arg_names, {"city": True, "state": False}, "args-prompt arguments")
    got = await session.get_prompt("args-prompt", {"city": PROMPT_CITY, "state": PROMPT_STATE})
    expect_eq(len(got.messages), 1, "number of prompt messages")
    msg = got.messages[0]
    expect_eq(msg.role, "user", "prompt message role")
    expect(isinstance(msg.content, types.TextContent), f"prompt content not text: {msg.content!r}")
    expect_eq(msg.content.text, f"What's weather in {PROMPT_CITY}, {PROMPT_STATE}?", "prompt text")


async def check_sampling(session: ClientSession, rec: Recorder, state: dict) -> None:
    result = await session.call_tool(
        "trigger-sampling-request", {"prompt": SAMPLING_PROMPT, "maxTokens": SAMPLING_MAX_TOKENS}
    )
    texts = only_text(result, "trigger-sampling-request")
    expect_eq(len(rec.sampling_requests), 1, "number of sampling/createMessage requests received")
    req = rec.sampling_requests[0]
    expect_eq(req.maxTokens, SAMPLING_MAX_TOKENS, "sampling request maxTokens")
    expect_eq(req.systemPrompt, "You are a helpful test server.", "sampling request systemPrompt")
    expect_eq(len(req.messages), 1, "sampling request message count")
    expect_eq(
        getattr(req.messages[0].content, "text", None),
        f"Resource trigger-sampling-request context: {SAMPLING_PROMPT}",
        "sampling request message text",
    )
    expect_eq(len(texts), 1, "number of result text blocks")
    prefix = "LLM sampling result: \n"
    expect(texts[0].startswith(prefix), f"unexpected tool result: {texts[0]!r}")
    echoed = json.loads(texts[0][len(prefix):])
    expect_eq(echoed.get("content"), {"type": "text", "text": SAMPLING_REPLY}, "sampling result content seen by server")
    expect_eq(echoed.get("model"), SAMPLING_MODEL, "sampling result model seen by server")
    expect_eq(echoed.get("role"), "assistant", "sampling result role seen by server")
    expect(SAMPLING_REPLY in texts[0], "fixed sampling reply not in tool result")


async def check_elicitation(session: ClientSession, rec: Recorder, state: dict) -> None:
    result = await session.call_tool("trigger-elicitation-request", {})
    texts = only_text(result, "trigger-elicitation-request")
    expect_eq(len(rec.elicitation_requests), 1, "number of elicitation/create requests received")
    req = rec.elicitation_requests[0]
    expect_eq(req.message, "Please provide inputs for the following fields:", "elicitation message")
    schema = req.requestedSchema
    expect_eq(schema.get("required"), ["name"], "elicitation requestedSchema.required")
    expect(
        {"name", "check", "email", "integer"} <= set(schema.get("properties", {})),
        f"elicitation requestedSchema properties: {sorted(schema.get('properties', {}))}",
    )
    expect_eq(len(texts), 3, f"number of result text blocks ({texts!r})")
    expect_eq(texts[0], "✅ User provided the requested information!", "elicitation result line 1")
    expect_eq(
        texts[1],
        "User inputs:\n"
        f"- Name: {ELICIT_CONTENT['name']}\n"
        "- Agreed to terms: true\n"
        f"- Email: {ELICIT_CONTENT['email']}\n"
        f"- Favorite Integer: {ELICIT_CONTENT['integer']}",
        "elicitation result user inputs",
    )
    raw_prefix = "\nRaw result: "
    expect(texts[2].startswith(raw_prefix), f"unexpected raw block {texts[2]!r}")
    raw = json.loads(texts[2][len(raw_prefix):])
    expect_eq(raw.get("action"), "accept", "raw elicitation action seen by server")
    expect_eq(raw.get("content"), ELICIT_CONTENT, "raw elicitation content seen by server")


async def check_progress(session: ClientSession, rec: Recorder, state: dict) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    result = await session.call_tool(
        "trigger-long-running-operation",
        {"duration": PROGRESS_DURATION_S, "steps": PROGRESS_STEPS},
        progress_callback=on_progress,
    )
    expect_eq(
        only_text(result, "trigger-long-running-operation"),
        [
            f"Long running operation completed. Duration: {PROGRESS_DURATION_S} seconds, "
            f"Steps: {PROGRESS_STEPS}."
        ],
        "long-running result text",
    )
    expect_eq(len(seen), PROGRESS_STEPS, f"number of progress notifications (got {seen})")
    expect_eq(
        [(p, t) for p, t, _ in seen],
        [(float(i), float(PROGRESS_STEPS)) for i in range(1, PROGRESS_STEPS + 1)],
        "progress values",
    )


async def check_logging(session: ClientSession, rec: Recorder, state: dict) -> None:
    await session.set_logging_level("debug")
    result = await session.call_tool("toggle-simulated-logging", {})
    texts = only_text(result, "toggle-simulated-logging")
    expect(
        len(texts) == 1 and texts[0].startswith("Started simulated, random-leveled logging"),
        f"unexpected toggle result {texts!r}",
    )
    returned_at = anyio.current_time()
    # server-everything sends one message immediately and then one every 5 s; at level
    # "debug" none is filtered. Wait (bounded) for one that arrives after the tool call
    # returned, i.e. one delivered outside any request (standalone GET SSE stream).
    try:
        with anyio.fail_after(LOG_WAIT_S):
            while not any(t > returned_at for t, _ in rec.logs):
                rec.log_event = anyio.Event()
                await rec.log_event.wait()
    except TimeoutError:
        raise CheckFailed(
            f"no notifications/message received within {LOG_WAIT_S:.0f}s after toggle-simulated-logging "
            f"returned ({len(rec.logs)} received before it returned)"
        ) from None
    finally:
        # stop the simulated logging again (best effort)
        with anyio.move_on_after(5):
            try:
                await session.call_tool("toggle-simulated-logging", {})
            except Exception:
                pass
    for _, params in rec.logs:
        expect(params.level in LOG_LEVELS, f"unknown log level {params.level!r}")
        expect(isinstance(params.data, str) and LOG_DATA_RE.match(params.data), f"unexpected log data {params.data!r}")
        expect(
            params.data.lower().startswith(params.level),
            f"log data {params.data!r} does not match its level {params.level!r}",
        )


CHECKS: list[tuple[str, Callable[[ClientSession, Recorder, dict], Awaitable[None]]]] = [
    ("initialize", check_initialize),
    ("tools/list", check_tools_list),
    ("tools/call echo", check_echo),
    ("tools/call get-sum", check_add),
    ("resources/list + resources/read", check_resources),
    ("prompts/list + prompts/get", check_prompts),
    ("sampling (trigger-sampling-request)", check_sampling),
    ("elicitation (trigger-elicitation-request)", check_elicitation),
    ("progress (trigger-long-running-operation)", check_progress),
    ("logging (logging/setLevel + notifications/message)", check_logging),
]


async def run(url: str, results: dict[str, str | None]) -> None:
    rec = Recorder()
    state: dict[str, Any] = {}
    async with streamablehttp_client(url, timeout=CHECK_TIMEOUT_S, sse_read_timeout=TOTAL_TIMEOUT_S) as (
        read,
        write,
        _get_session_id,
    ):
        async with ClientSession(
            read,
            write,
            sampling_callback=rec.sampling,
            elicitation_callback=rec.elicitation,
            logging_callback=rec.logging,
            client_info=types.Implementation(name="interop-python", version="1.0.0"),
        ) as session:
            try:
                with anyio.fail_after(CHECK_TIMEOUT_S):
                    state["init"] = await session.initialize()
            except Exception as exc:  # noqa: BLE001 - reported below
                results["initialize"] = f"initialize request failed: {exc!r}"
                report("initialize", results["initialize"])
                for name, _ in CHECKS[1:]:
                    results[name] = "not run: initialize failed"
                    report(name, results[name])
                return
            for name, fn in CHECKS:
                try:
                    with anyio.fail_after(CHECK_TIMEOUT_S + (LOG_WAIT_S if fn is check_logging else 0)):
                        await fn(session, rec, state)
                    results[name] = None
                except CheckFailed as exc:
                    results[name] = str(exc)
                except TimeoutError:
                    results[name] = f"timed out after {CHECK_TIMEOUT_S:.0f}s"
                except Exception as exc:  # noqa: BLE001 - every error is a failed check
                    results[name] = f"{type(exc).__name__}: {exc}"
                report(name, results[name])


def report(name: str, error: str | None) -> None:
    if error is None:
        print(f"PASS {name}", flush=True)
    else:
        print(f"FAIL {name}: {error}", flush=True)


def describe(exc: BaseException) -> str:
    """Innermost, most useful description of a (possibly grouped) exception."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(describe(e) for e in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"


def main() -> int:
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} <streamable-http-url>", file=sys.stderr)
        return 2
    url = sys.argv[1]
    results: dict[str, str | None] = {}
    session_error = "session ended early"

    async def bounded() -> None:
        with anyio.move_on_after(TOTAL_TIMEOUT_S) as scope:
            await run(url, results)
        if scope.cancelled_caught:
            print(f"{PREFIX}: global deadline of {TOTAL_TIMEOUT_S:.0f}s exceeded", file=sys.stderr)

    try:
        anyio.run(bounded)
    except BaseException as exc:  # noqa: BLE001 - transport/session crash: report it, fail the run
        session_error = describe(exc)
        print(f"{PREFIX}: session error: {session_error}", file=sys.stderr)
        traceback.print_exception(exc, file=sys.stderr)

    failed = 0
    for name, _ in CHECKS:
        if name not in results:
            results[name] = f"not run ({session_error})"
            report(name, results[name])
        if results[name] is not None:
            failed += 1
    passed = len(CHECKS) - failed
    print(f"{PREFIX}: {passed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
