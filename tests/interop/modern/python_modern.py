#!/usr/bin/env python3
"""Modern-era (MCP 2026-07-28) interop checks for hyper-mcp-proxy with the official
Python SDK client (`mcp` 2.3.0, `mcp.Client`).

Usage:  python_modern.py <scenario> <streamable-http-url>

Scenarios (what the proxy behind the URL must run; tests/interop/modern/run.sh starts them):
  demo       default flags (`--modern auto`), built-in demo child (dual-era)
  dual       default flags, tests/fixtures/dual_era_sdk_server.py (Python SDK, dual-era)
  translate  `--modern translate`, tests/fixtures/legacy_stdio_server.py (legacy-only)
  fallback   default flags (`--modern auto`), tests/fixtures/legacy_stdio_server.py

Each scenario opens one `Client` per negotiation mode: `mode="2026-07-28"` (pinned: no
probe, every request carries the `_meta` envelope) and `mode="auto"` (probes
`server/discover`, falls back to `initialize` on a 4xx); an "interactive" connection also
sets the elicitation, sampling and roots callbacks (so its requests declare those
capabilities and `input_required` rounds are answered by them). Prints one line per check
("PASS <check>" / "FAIL <check>: <why>") and ends with exactly one summary line:
    interop-modern-python: <passed> passed, <failed> failed
Exit status is 0 only if every check passed. Every wait is bounded: a per-check
deadline (CHECK_TIMEOUT_S), a per-request read timeout and a global deadline.
"""

from __future__ import annotations

import re
import sys
import traceback
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

import anyio
import mcp_types as types
from mcp import Client, MCPError

PREFIX = "interop-modern-python"
MODERN = "2026-07-28"
LEGACY_VERSIONS = ("2025-03-26", "2025-06-18", "2025-11-25")
CHECK_TIMEOUT_S = 20.0
READ_TIMEOUT_S = 15.0
TOTAL_TIMEOUT_S = 100.0

# Exact inputs; their non-ASCII characters cross JSON, the `_meta` envelope and the proxy's
# id rewriting unchanged.
DEMO_MESSAGE = 'modern-python: héllo wörld ✓ "quoted" \\ back\\slash {"json":[1,2]}'
FIXTURE_TEXT = "modern-python: grüße ✓"
# Non-ASCII in a URI: the client sends `Mcp-Name` base64-encoded (`=?base64?…?=`), the
# proxy's ladder must decode it before comparing it with `params.uri`.
DEMO_ITEM_ID = "é✓"

DEMO_SERVER_NAME = "hyper-mcp-proxy-demo"
DEMO_TOOLS = {"echo", "add", "sleep", "sample", "elicit", "roots"}
LEGACY_FIXTURE_TOOLS = ["echo", "add", "count", "ask", "sample", "roots"]
DUAL_FIXTURE_TOOLS = ["echo", "greet"]

# What the callbacks of an interactive connection answer; the tools that asked return it.
ELICITED_NAME = "octocat"
SAMPLED_TEXT = "4"
ROOT_URI = "file:///projects/demo"
# The fixtures' questions, as the callbacks must receive them.
NAME_SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
LEGACY_ASKED = {
    "ask": ("elicitation/create", "name?", NAME_SCHEMA),
    "sample": ("sampling/createMessage", [("user", "2+2?")], 5),
    "roots": ("roots/list",),
}
# The legacy fixture answers `<tool>: <the client's result as json.dumps(sort_keys=True)>`.
LEGACY_ANSWERS = {
    "ask": 'ask: {"action": "accept", "content": {"name": "octocat"}}',
    "sample": 'sample: {"content": {"text": "4", "type": "text"}, "model": "fake", "role": "assistant"}',
    "roots": 'roots: {"roots": [{"name": "demo", "uri": "file:///projects/demo"}]}',
}
# The dual-era fixture's `greet` elicits a `Name` with this message.
DUAL_GREET_MESSAGE = "What is your name?"
DUAL_GREET_SCHEMA = {
    "type": "object",
    "properties": {"name": {"title": "Name", "type": "string"}},
    "required": ["name"],
}
DEMO_ELICIT_MESSAGE = "modern-python: your name?"


class CheckFailed(Exception):
    pass


def expect(cond: bool, what: str) -> None:
    if not cond:
        raise CheckFailed(what)


def expect_eq(actual: Any, expected: Any, what: str) -> None:
    if actual != expected:
        raise CheckFailed(f"{what}: expected {expected!r}, got {actual!r}")


def only_text(result: types.CallToolResult, what: str) -> list[str]:
    expect(not result.is_error, f"{what}: tool returned isError=true: {result.content!r}")
    texts = []
    for block in result.content:
        expect(isinstance(block, types.TextContent), f"{what}: non-text content block {block!r}")
        texts.append(block.text)
    return texts


Check = Callable[[Client], Awaitable[None]]


ALL_CALLBACKS = ("elicitation", "sampling", "roots")


@dataclass
class Connection:
    """Checks that share one `Client` opened in one negotiation mode; `callbacks` names the
    client callbacks it sets (each one declares its capability in every request)."""

    mode: str
    checks: list[tuple[str, Check]]
    callbacks: tuple[str, ...] = ()


class Answerer:
    """The callbacks of an interactive connection: fixed answers, and a record of every
    question asked (method and the fields that identify it), so a check can assert that its
    call asked exactly once, with the server's own params."""

    def __init__(self) -> None:
        self.asked: list[tuple[Any, ...]] = []

    async def elicit(self, context: Any, params: types.ElicitRequestParams) -> types.ElicitResult:
        schema = getattr(params, "requested_schema", None)
        self.asked.append(("elicitation/create", params.message, schema))
        return types.ElicitResult(action="accept", content={"name": ELICITED_NAME})

    async def sample(self, context: Any, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
        messages = [(m.role, getattr(m.content, "text", None)) for m in params.messages]
        self.asked.append(("sampling/createMessage", messages, params.max_tokens))
        return types.CreateMessageResult(
            role="assistant", content=types.TextContent(type="text", text=SAMPLED_TEXT), model="fake"
        )

    async def list_roots(self, context: Any) -> types.ListRootsResult:
        self.asked.append(("roots/list",))
        return types.ListRootsResult(roots=[types.Root(uri=ROOT_URI, name="demo")])


# One per process: connections run one after another, and each check clears it first.
ANSWERER = Answerer()


# ----------------------------------------------------------------- checks


async def negotiated_legacy(c: Client) -> None:
    expect(
        c.protocol_version in LEGACY_VERSIONS,
        f"protocol version {c.protocol_version!r} is not a 2025 one {LEGACY_VERSIONS}",
    )


def tools_listed(expected: list[str] | set[str]) -> Check:
    async def check(c: Client) -> None:
        names = [t.name for t in (await c.list_tools()).tools]
        if isinstance(expected, set):
            missing = expected - set(names)
            expect(not missing, f"tools missing from tools/list: {sorted(missing)} (got {names})")
        else:
            expect_eq(names, expected, "tools/list names")

    return check


def echoes(argument: str, text: str) -> Check:
    async def check(c: Client) -> None:
        result = await c.call_tool("echo", {argument: text})
        expect_eq(only_text(result, "echo"), [text], "echo result text")

    return check


def reads(uri: str, text: str) -> Check:
    async def check(c: Client) -> None:
        read = await c.read_resource(uri)
        expect_eq(len(read.contents), 1, "number of resource contents")
        content = read.contents[0]
        expect(isinstance(content, types.TextResourceContents), f"not text contents: {content!r}")
        expect_eq((str(content.uri), content.mime_type, content.text), (uri, "text/plain", text), "contents")

    return check


def prompts(arguments: dict[str, str] | None, text: str) -> Check:
    async def check(c: Client) -> None:
        got = await c.get_prompt("greet", arguments)
        expect_eq(len(got.messages), 1, "number of prompt messages")
        msg = got.messages[0]
        expect(isinstance(msg.content, types.TextContent), f"prompt content not text: {msg.content!r}")
        expect_eq((msg.role, msg.content.text), ("user", text), "prompt message")

    return check


def completes(prefix: str, values: list[str]) -> Check:
    async def check(c: Client) -> None:
        got = await c.complete(types.PromptReference(name="greet"), {"name": "name", "value": prefix})
        expect_eq(got.completion.values, values, "completion values")

    return check


def progresses(tool: str, arguments: dict[str, Any], text: str, steps: int) -> Check:
    async def check(c: Client) -> None:
        seen: list[tuple[float, float | None]] = []

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            seen.append((progress, total))

        result = await c.call_tool(tool, arguments, progress_callback=on_progress)
        expect_eq(only_text(result, tool), [text], f"{tool} result text")
        expect_eq(seen, [(float(i), float(steps)) for i in range(1, steps + 1)], "progress notifications")

    return check


def fails_with(code: int, message_part: str) -> Check:
    async def check(c: Client) -> None:
        try:
            result = await c.list_tools()
        except MCPError as exc:
            expect_eq(exc.code, code, f"error code (message {exc.message!r})")
            expect(message_part in exc.message, f"error message {exc.message!r} lacks {message_part!r}")
            return
        raise CheckFailed(f"tools/list succeeded: {result!r}")

    return check


def resource_missing(uri: str, code: int) -> Check:
    async def check(c: Client) -> None:
        try:
            read = await c.read_resource(uri)
        except MCPError as exc:
            expect_eq(exc.code, code, f"error code (message {exc.message!r})")
            return
        raise CheckFailed(f"resources/read {uri} succeeded: {read!r}")

    return check


def discovered(server_name: str, instructions: str | None) -> Check:
    """`mode="auto"` chose the modern era from the `server/discover` result, which named
    the child's server (and carried its instructions, when given)."""

    async def check(c: Client) -> None:
        expect_eq(c.protocol_version, MODERN, "negotiated protocol version")
        info = c.server_info
        expect(info is not None, "no serverInfo in the server/discover result")
        expect_eq(info.name, server_name, "serverInfo.name")
        if instructions is not None:
            expect_eq(c.instructions, instructions, "instructions")

    return check


async def negotiated_modern(c: Client) -> None:
    expect_eq(c.protocol_version, MODERN, "negotiated protocol version")


def interactive(tool: str, arguments: dict[str, Any], asked: tuple[Any, ...], text: str) -> Check:
    """`tool` asks the client once (an `input_required` round the client answers through its
    callback and retries) and returns `text`, which carries the callback's answer."""

    async def check(c: Client) -> None:
        ANSWERER.asked.clear()
        result = await c.call_tool(tool, arguments)
        expect_eq(only_text(result, tool), [text], f"{tool} result text")
        expect_eq(ANSWERER.asked, [asked], "questions the callbacks were asked")

    return check


def undeclared_capability(tool: str, required: dict[str, Any]) -> Check:
    """A request holding its child alone (it declared some capability) reaches a child that
    asks for another: 400 -32021 naming what it should have declared."""

    async def check(c: Client) -> None:
        try:
            result = await c.call_tool(tool, {})
        except MCPError as exc:
            expect_eq(exc.code, -32021, f"error code (message {exc.message!r})")
            expect_eq(exc.data, {"requiredCapabilities": required}, "error data")
            return
        raise CheckFailed(f"tools/call {tool} succeeded: {result!r}")

    return check


def refused_by_proxy(tool: str, method: str) -> Check:
    """A request that declared none of elicitation, sampling and roots shares its child; the
    child's question cannot be tied to it, so the proxy answers the child with -32601 and the
    call ends with the child's own answer to that (the legacy fixture: an isError result)."""

    async def check(c: Client) -> None:
        result = await c.call_tool(tool, {})
        expect(result.is_error, f"tools/call {tool} did not fail: {result!r}")
        texts = [getattr(block, "text", None) for block in result.content]
        expect_eq(len(texts), 1, "number of content blocks")
        prefix = f'{tool} failed: {{"code": -32601, "message": "{method} is not available'
        expect(str(texts[0]).startswith(prefix), f"result text {texts[0]!r} does not start with {prefix!r}")

    return check


def tampered(state: str) -> str:
    """`state` with its first character changed: the proxy's tokens are base64url with the
    MAC tag first, so the tag no longer matches while the boot id after it is untouched."""
    return ("B" if state[0] == "A" else "A") + state[1:]


class RawRounds:
    """`input_required` driven by hand through `c.session.call_tool(...,
    allow_input_required=True)` on a tool that elicits once: the first result (one
    `elicitation/create` whose key matches `key_pattern`, with the server's message and
    schema), then retries with a tampered `requestState`, with the state on other arguments,
    with the genuine state (the tool answers `answer`), and, if `replay`, with the used state
    again. The checks run in that order and share the first result; the refused retries must
    leave the call waiting, so the genuine one still completes."""

    def __init__(
        self, tool: str, key_pattern: str, message: str, schema: dict[str, Any], answer: str, replay: bool
    ) -> None:
        self.tool, self.key_pattern, self.message, self.schema = tool, key_pattern, message, schema
        self.answer, self.replay = answer, replay
        self.first: types.InputRequiredResult | None = None
        self.key = ""

    def responses(self) -> dict[str, Any]:
        return {self.key: types.ElicitResult(action="accept", content={"name": ELICITED_NAME})}

    def state(self) -> str:
        if self.first is None or not self.first.request_state:
            raise CheckFailed("no requestState from the first check")
        return self.first.request_state

    async def asked(self, c: Client) -> None:
        result = await c.session.call_tool(self.tool, {}, allow_input_required=True)
        expect(isinstance(result, types.InputRequiredResult), f"not an InputRequiredResult: {result!r}")
        assert isinstance(result, types.InputRequiredResult)
        requests = result.input_requests or {}
        expect_eq(len(requests), 1, f"number of inputRequests ({list(requests)})")
        self.key, request = next(iter(requests.items()))
        expect(
            re.fullmatch(self.key_pattern, self.key) is not None,
            f"inputRequests key {self.key!r} does not match {self.key_pattern!r}",
        )
        expect_eq(request.method, "elicitation/create", "inputRequests method")
        params = request.params
        got = (params.message, getattr(params, "requested_schema", None))
        expect_eq(got, (self.message, self.schema), "elicitation params (message, requestedSchema)")
        expect(bool(result.request_state), "no requestState")
        self.first = result

    def refused(self, arguments: dict[str, Any], state: Callable[[], str], reason: str) -> Check:
        async def check(c: Client) -> None:
            try:
                result = await c.session.call_tool(
                    self.tool,
                    arguments,
                    input_responses=self.responses(),
                    request_state=state(),
                    allow_input_required=True,
                )
            except MCPError as exc:
                expect_eq(exc.code, -32602, f"error code (message {exc.message!r})")
                expect_eq(exc.data, {"reason": reason}, "error data")
                return
            raise CheckFailed(f"the retry succeeded: {result!r}")

        return check

    async def completed(self, c: Client) -> None:
        result = await c.session.call_tool(
            self.tool, {}, input_responses=self.responses(), request_state=self.state(), allow_input_required=True
        )
        expect(isinstance(result, types.CallToolResult), f"not a CallToolResult: {result!r}")
        assert isinstance(result, types.CallToolResult)
        expect_eq(only_text(result, self.tool), [self.answer], f"{self.tool} result text")

    def checks(self, prefix: str) -> list[tuple[str, Check]]:
        checks: list[tuple[str, Check]] = [
            (f"{prefix}: {self.tool} -> InputRequiredResult (elicitation/create)", self.asked),
            (f"{prefix}: tampered requestState -> -32602", self.refused({}, lambda: tampered(self.state()), "tampered")),
            (
                f"{prefix}: requestState on other arguments -> -32602",
                self.refused({"other": 1}, self.state, "bound to another request"),
            ),
            (f"{prefix}: genuine retry completes", self.completed),
        ]
        if self.replay:
            checks.append((f"{prefix}: replayed requestState -> -32602", self.refused({}, self.state, "used or expired")))
        return checks


SCENARIOS: dict[str, list[Connection]] = {
    "demo": [
        Connection(
            MODERN,
            [
                ("demo pinned: tools/list", tools_listed(DEMO_TOOLS)),
                ("demo pinned: tools/call echo", echoes("message", DEMO_MESSAGE)),
                ("demo pinned: resources/read demo://static/hello", reads("demo://static/hello", "Hello from the demo server")),
                ("demo pinned: resources/read non-ASCII uri", reads(f"demo://items/{DEMO_ITEM_ID}", f"Item {DEMO_ITEM_ID}")),
                ("demo pinned: prompts/get greet", prompts({"name": "Zoë"}, "Say hello to Zoë")),
                ("demo pinned: completion/complete", completes("Al", ["Alice", "Albert"])),
                ("demo pinned: progress", progresses("sleep", {"ms": 300, "steps": 3}, "slept 300 ms", 3)),
            ],
        ),
        Connection(
            "auto",
            [
                ("demo auto: server/discover chose 2026-07-28", discovered(DEMO_SERVER_NAME, None)),
                ("demo auto: tools/call echo", echoes("message", DEMO_MESSAGE)),
            ],
        ),
        Connection(
            MODERN,
            [
                (
                    "demo pinned interactive: elicit via input_required",
                    interactive(
                        "elicit",
                        {"message": DEMO_ELICIT_MESSAGE},
                        ("elicitation/create", DEMO_ELICIT_MESSAGE, NAME_SCHEMA),
                        '{"action":"accept","content":{"name":"octocat"}}',
                    ),
                ),
            ],
            callbacks=ALL_CALLBACKS,
        ),
    ],
    "dual": [
        Connection(
            MODERN,
            [
                ("dual pinned: tools/list", tools_listed(DUAL_FIXTURE_TOOLS)),
                ("dual pinned: tools/call echo", echoes("text", FIXTURE_TEXT)),
            ],
        ),
        Connection(
            "auto",
            [
                ("dual auto: server/discover chose 2026-07-28", discovered("dual-fixture", "dual-era test server")),
                ("dual auto: tools/call echo", echoes("text", FIXTURE_TEXT)),
            ],
        ),
        Connection(
            MODERN,
            [
                (
                    "dual pinned interactive: greet via input_required",
                    interactive(
                        "greet",
                        {},
                        ("elicitation/create", DUAL_GREET_MESSAGE, DUAL_GREET_SCHEMA),
                        f"hello {ELICITED_NAME}",
                    ),
                ),
                # The child's own state, wrapped by the proxy: tampering and re-binding are
                # refused by the proxy; a replay is the child's business (not asserted).
                *RawRounds(
                    "greet", r".+:ask_name", DUAL_GREET_MESSAGE, DUAL_GREET_SCHEMA, f"hello {ELICITED_NAME}", replay=False
                ).checks("dual pinned raw"),
            ],
            callbacks=ALL_CALLBACKS,
        ),
    ],
    "translate": [
        Connection(
            MODERN,
            [
                ("translate pinned: tools/list", tools_listed(LEGACY_FIXTURE_TOOLS)),
                ("translate pinned: tools/call echo", echoes("text", FIXTURE_TEXT)),
                ("translate pinned: resources/read mem://a", reads("mem://a", "hello")),
                ("translate pinned: prompts/get greet", prompts({"name": "Zoë"}, "hello Zoë")),
                ("translate pinned: completion/complete", completes("A", ["Ada", "Alan"])),
                ("translate pinned: progress", progresses("count", {"steps": 3}, "counted 3", 3)),
                ("translate pinned: resources/read unknown uri -> -32602", resource_missing("mem://nope", -32602)),
                ("translate pinned: ask, nothing declared -> child refused", refused_by_proxy("ask", "elicitation/create")),
            ],
        ),
        Connection(
            "auto",
            [
                ("translate auto: server/discover chose 2026-07-28", discovered("legacy-fixture", "legacy-only test server")),
                ("translate auto: tools/list", tools_listed(LEGACY_FIXTURE_TOOLS)),
                ("translate auto: tools/call echo", echoes("text", FIXTURE_TEXT)),
                ("translate auto: resources/read mem://a", reads("mem://a", "hello")),
                ("translate auto: prompts/get greet", prompts(None, "hello world")),
            ],
        ),
        Connection(
            MODERN,
            [
                *[
                    (f"translate pinned interactive: {tool}", interactive(tool, {}, LEGACY_ASKED[tool], text))
                    for tool, text in LEGACY_ANSWERS.items()
                ],
                *RawRounds(
                    "ask", r"elicitation/create#\S+", "name?", NAME_SCHEMA, LEGACY_ANSWERS["ask"], replay=True
                ).checks("translate pinned raw"),
            ],
            callbacks=ALL_CALLBACKS,
        ),
        Connection(
            MODERN,
            [
                (
                    "translate pinned sampling-only: ask -> -32021",
                    undeclared_capability("ask", {"elicitation": {"form": {}}}),
                ),
                (
                    "translate pinned sampling-only: sample",
                    interactive("sample", {}, LEGACY_ASKED["sample"], LEGACY_ANSWERS["sample"]),
                ),
            ],
            callbacks=("sampling",),
        ),
        Connection(
            "auto",
            [
                ("translate auto interactive: negotiated 2026-07-28", negotiated_modern),
                *[
                    (f"translate auto interactive: {tool}", interactive(tool, {}, LEGACY_ASKED[tool], text))
                    for tool, text in LEGACY_ANSWERS.items()
                ],
            ],
            callbacks=ALL_CALLBACKS,
        ),
    ],
    "fallback": [
        Connection(
            "auto",
            [
                ("fallback auto: fell back to a 2025 session", negotiated_legacy),
                ("fallback auto: tools/list", tools_listed(LEGACY_FIXTURE_TOOLS)),
                ("fallback auto: tools/call echo", echoes("text", FIXTURE_TEXT)),
            ],
        ),
        Connection(
            MODERN,
            [("fallback pinned: 400 -32600 naming --modern translate", fails_with(-32600, "--modern translate"))],
        ),
    ],
}


# ----------------------------------------------------------------- runner


def report(name: str, error: str | None) -> None:
    print(f"PASS {name}" if error is None else f"FAIL {name}: {error}", flush=True)


def describe(exc: BaseException) -> str:
    """Innermost, most useful description of a (possibly grouped) exception."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(describe(e) for e in exc.exceptions)
    return f"{type(exc).__name__}: {exc}"


async def run_connection(url: str, conn: Connection, results: dict[str, str | None]) -> None:
    """Runs the checks of one connection; a connection that cannot be opened (or that
    breaks while closing) fails the checks it did not run."""
    try:
        known = {
            "elicitation": ("elicitation_callback", ANSWERER.elicit),
            "sampling": ("sampling_callback", ANSWERER.sample),
            "roots": ("list_roots_callback", ANSWERER.list_roots),
        }
        callbacks = dict(known[name] for name in conn.callbacks)
        async with Client(
            url,
            mode=conn.mode,
            read_timeout_seconds=READ_TIMEOUT_S,
            client_info=types.Implementation(name=PREFIX, version="1.0.0"),
            **callbacks,
        ) as client:
            for name, check in conn.checks:
                try:
                    with anyio.fail_after(CHECK_TIMEOUT_S):
                        await check(client)
                    results[name] = None
                except CheckFailed as exc:
                    results[name] = str(exc)
                except TimeoutError:
                    results[name] = f"timed out after {CHECK_TIMEOUT_S:.0f}s"
                except Exception as exc:  # noqa: BLE001 - every error is a failed check
                    results[name] = describe(exc)
                report(name, results[name])
    except Exception as exc:  # noqa: BLE001 - connect/close failure: fail what did not run
        print(f"{PREFIX}: mode={conn.mode}: {describe(exc)}", file=sys.stderr)
        traceback.print_exception(exc, file=sys.stderr)
        for name, _ in conn.checks:
            if name not in results:
                results[name] = f"not run: connecting with mode={conn.mode!r} failed: {describe(exc)}"
                report(name, results[name])


def main() -> int:
    if len(sys.argv) != 3 or sys.argv[1] not in SCENARIOS:
        print(f"usage: {sys.argv[0]} {{{'|'.join(SCENARIOS)}}} <streamable-http-url>", file=sys.stderr)
        return 2
    scenario, url = sys.argv[1], sys.argv[2]
    connections = SCENARIOS[scenario]
    results: dict[str, str | None] = {}

    async def bounded() -> None:
        with anyio.move_on_after(TOTAL_TIMEOUT_S) as scope:
            for conn in connections:
                await run_connection(url, conn, results)
        if scope.cancelled_caught:
            print(f"{PREFIX}: global deadline of {TOTAL_TIMEOUT_S:.0f}s exceeded", file=sys.stderr)

    anyio.run(bounded)
    failed = 0
    for conn in connections:
        for name, _ in conn.checks:
            if name not in results:
                results[name] = "not run (global deadline)"
                report(name, results[name])
            failed += results[name] is not None
    total = sum(len(conn.checks) for conn in connections)
    print(f"{PREFIX}: {total - failed} passed, {failed} failed", flush=True)
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
