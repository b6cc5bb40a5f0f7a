#!/usr/bin/env node
// Modern-era (MCP 2026-07-28) interop checks for hyper-mcp-proxy with the official
// TypeScript client (@modelcontextprotocol/client 2.4.0: Client + StreamableHTTPClientTransport).
//
// Usage:  node ts_modern.mjs <scenario> <streamable-http-url>
//
// Scenarios (what the proxy behind the URL must run; run.sh beside this file starts them):
//   demo       default flags (`--modern auto`), built-in demo child (dual-era)
//   dual       default flags, tests/fixtures/dual_era_sdk_server.py (Python SDK, dual-era)
//   translate  `--modern translate`, tests/fixtures/legacy_stdio_server.py (legacy-only)
//   fallback   default flags (`--modern auto`), tests/fixtures/legacy_stdio_server.py
//
// Each scenario connects once per negotiation mode: `{ pin: '2026-07-28' }` (probes
// server/discover, fails unless it offers the pin) and `'auto'` (probes, falls back to
// `initialize` on a 4xx); an "interactive" connection also declares elicitation, sampling
// and roots and registers their handlers, which the client's `input_required` driver calls
// (autoFulfill) before it retries. Prints one line per check ("PASS <check>" / "FAIL <check>: <why>")
// and ends with exactly one summary line:
//     interop-modern-ts: <passed> passed, <failed> failed
// Exit status is 0 only if every check passed. Every wait is bounded: each request has a
// timeout, each check a deadline, and the whole run a deadline.

import { inspect, isDeepStrictEqual } from "node:util";

import { Client, StreamableHTTPClientTransport } from "@modelcontextprotocol/client";

const PREFIX = "interop-modern-ts";
const MODERN = "2026-07-28";
const LEGACY_VERSIONS = ["2025-03-26", "2025-06-18", "2025-11-25"];
const CHECK_TIMEOUT_MS = 20_000;
const TOTAL_TIMEOUT_MS = 100_000;
const reqOpts = { timeout: 15_000 };

// Exact inputs; their non-ASCII characters cross JSON, the `_meta` envelope and the
// proxy's id rewriting unchanged.
const DEMO_MESSAGE = 'modern-ts: héllo wörld ✓ "quoted" \\ back\\slash {"json":[1,2]} \u2028 🚀';
const FIXTURE_TEXT = "modern-ts: grüße ✓ 🚀";
const DEMO_TOOLS = ["echo", "add", "sleep", "sample", "elicit", "roots"];
const LEGACY_FIXTURE_TOOLS = ["echo", "add", "count", "ask", "sample", "roots"];
const DUAL_FIXTURE_TOOLS = ["echo", "greet"];

// What the handlers of an interactive connection answer; the tools that asked return it.
const ELICITED = { action: "accept", content: { name: "octocat" } };
const SAMPLED = { role: "assistant", content: { type: "text", text: "4" }, model: "fake" };
const ROOTS = { roots: [{ uri: "file:///projects/demo", name: "demo" }] };
// The fixtures' questions, as the handlers must receive them.
const NAME_SCHEMA = { type: "object", properties: { name: { type: "string" } }, required: ["name"] };
const LEGACY_ASKED = {
  ask: ["elicitation/create", "name?", NAME_SCHEMA],
  sample: ["sampling/createMessage", [["user", "2+2?"]], 5],
  roots: ["roots/list"],
};
// The legacy fixture answers `<tool>: <the client's result as json.dumps(sort_keys=True)>`.
const LEGACY_ANSWERS = {
  ask: 'ask: {"action": "accept", "content": {"name": "octocat"}}',
  sample: 'sample: {"content": {"text": "4", "type": "text"}, "model": "fake", "role": "assistant"}',
  roots: 'roots: {"roots": [{"name": "demo", "uri": "file:///projects/demo"}]}',
};
// The dual-era fixture's `greet` elicits a `Name` (a pydantic model) with this message.
const DUAL_GREET_ASKED = [
  "elicitation/create",
  "What is your name?",
  { type: "object", properties: { name: { title: "Name", type: "string" } }, required: ["name"] },
];
const DEMO_ELICIT_MESSAGE = "modern-ts: your name?";

class CheckFailed extends Error {}

function show(v) {
  return inspect(v, { depth: 6, breakLength: Infinity });
}

function expect(cond, what) {
  if (!cond) throw new CheckFailed(what);
}

function expectEq(actual, expected, what) {
  if (!isDeepStrictEqual(actual, expected)) {
    throw new CheckFailed(`${what}: expected ${show(expected)}, got ${show(actual)}`);
  }
}

function onlyText(result, what) {
  expect(!result.isError, `${what}: tool returned isError=true: ${show(result.content)}`);
  return result.content.map((block) => {
    expect(block.type === "text", `${what}: non-text content block ${show(block)}`);
    return block.text;
  });
}

function withDeadline(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new CheckFailed(`${what}: timed out after ${ms / 1000}s`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function describe(err) {
  if (err instanceof CheckFailed) return err.message;
  const code = err?.code !== undefined ? ` (code ${show(err.code)})` : "";
  return `${err?.name ?? "Error"}${code}: ${err?.message ?? String(err)}`;
}

// ----------------------------------------------------------------- checks

// Every question the handlers of an interactive connection were asked (method and the fields
// that identify it); a check clears it, calls, and asserts its call asked exactly once.
const asked = [];

function answerQuestions(client) {
  client.setRequestHandler("elicitation/create", async (request) => {
    asked.push(["elicitation/create", request.params.message, request.params.requestedSchema]);
    return ELICITED;
  });
  client.setRequestHandler("sampling/createMessage", async (request) => {
    const messages = request.params.messages.map((m) => [m.role, m.content.text]);
    asked.push(["sampling/createMessage", messages, request.params.maxTokens]);
    return SAMPLED;
  });
  client.setRequestHandler("roots/list", async () => {
    asked.push(["roots/list"]);
    return ROOTS;
  });
}

// `tool` asks the client once (an `input_required` round the client answers through its
// handler and retries) and returns `text`, which carries the handler's answer.
function interactive(tool, args, question, text) {
  return async ({ client }) => {
    asked.length = 0;
    const result = await client.callTool({ name: tool, arguments: args }, reqOpts);
    expectEq(onlyText(result, tool), [text], `${tool} result text`);
    expectEq(asked, [question], "questions the handlers were asked");
  };
}

function negotiated(expected) {
  return async ({ client }) => {
    expectEq(client.getNegotiatedProtocolVersion(), expected, "negotiated protocol version");
    expectEq(client.getProtocolEra(), "modern", "protocol era");
  };
}

async function negotiatedLegacy({ client }) {
  const version = client.getNegotiatedProtocolVersion();
  expect(LEGACY_VERSIONS.includes(version), `protocol version ${show(version)} is not a 2025 one`);
  expectEq(client.getProtocolEra(), "legacy", "protocol era");
}

function toolsListed(expected, { subset = false } = {}) {
  return async ({ client }) => {
    const names = (await client.listTools(undefined, reqOpts)).tools.map((t) => t.name);
    if (subset) {
      const missing = expected.filter((n) => !names.includes(n));
      expect(missing.length === 0, `tools missing from tools/list: ${show(missing)} (got ${show(names)})`);
    } else {
      expectEq(names, expected, "tools/list names");
    }
  };
}

function echoes(argument, text) {
  return async ({ client }) => {
    const result = await client.callTool({ name: "echo", arguments: { [argument]: text } }, reqOpts);
    expectEq(onlyText(result, "echo"), [text], "echo result text");
  };
}

function reads(uri, text) {
  return async ({ client }) => {
    const read = await client.readResource({ uri }, reqOpts);
    expectEq(read.contents, [{ uri, mimeType: "text/plain", text }], "resource contents");
  };
}

function prompts(args, text) {
  return async ({ client }) => {
    const got = await client.getPrompt({ name: "greet", ...(args ? { arguments: args } : {}) }, reqOpts);
    expectEq(got.messages, [{ role: "user", content: { type: "text", text } }], "prompt messages");
  };
}

const SCENARIOS = {
  demo: [
    {
      mode: { pin: MODERN },
      checks: [
        ["demo pinned: connected at 2026-07-28", negotiated(MODERN)],
        ["demo pinned: tools/list", toolsListed(DEMO_TOOLS, { subset: true })],
        ["demo pinned: tools/call echo", echoes("message", DEMO_MESSAGE)],
      ],
    },
    {
      mode: "auto",
      checks: [
        ["demo auto: negotiated 2026-07-28", negotiated(MODERN)],
        ["demo auto: tools/list", toolsListed(DEMO_TOOLS, { subset: true })],
        ["demo auto: tools/call echo", echoes("message", DEMO_MESSAGE)],
      ],
    },
    {
      mode: { pin: MODERN },
      interactive: true,
      checks: [
        [
          "demo pinned interactive: elicit via input_required",
          interactive(
            "elicit",
            { message: DEMO_ELICIT_MESSAGE },
            ["elicitation/create", DEMO_ELICIT_MESSAGE, NAME_SCHEMA],
            JSON.stringify(ELICITED),
          ),
        ],
      ],
    },
  ],
  dual: [
    {
      mode: { pin: MODERN },
      checks: [
        ["dual pinned: connected at 2026-07-28", negotiated(MODERN)],
        ["dual pinned: tools/list", toolsListed(DUAL_FIXTURE_TOOLS)],
        ["dual pinned: tools/call echo", echoes("text", FIXTURE_TEXT)],
      ],
    },
    {
      mode: { pin: MODERN },
      interactive: true,
      checks: [["dual pinned interactive: greet via input_required", interactive("greet", {}, DUAL_GREET_ASKED, "hello octocat")]],
    },
  ],
  translate: [
    {
      mode: { pin: MODERN },
      checks: [
        ["translate pinned: connected at 2026-07-28", negotiated(MODERN)],
        ["translate pinned: tools/list", toolsListed(LEGACY_FIXTURE_TOOLS)],
        ["translate pinned: tools/call echo", echoes("text", FIXTURE_TEXT)],
        ["translate pinned: resources/read mem://a", reads("mem://a", "hello")],
        ["translate pinned: prompts/get greet", prompts({ name: "Zoë" }, "hello Zoë")],
      ],
    },
    {
      mode: { pin: MODERN },
      interactive: true,
      checks: Object.entries(LEGACY_ANSWERS).map(([tool, text]) => [
        `translate pinned interactive: ${tool}`,
        interactive(tool, {}, LEGACY_ASKED[tool], text),
      ]),
    },
  ],
  fallback: [
    {
      mode: "auto",
      checks: [
        ["fallback auto: fell back to a 2025 session", negotiatedLegacy],
        ["fallback auto: tools/list", toolsListed(LEGACY_FIXTURE_TOOLS)],
        ["fallback auto: tools/call echo", echoes("text", FIXTURE_TEXT)],
      ],
    },
  ],
};

// ----------------------------------------------------------------- runner

const results = new Map();
function report(name, error) {
  results.set(name, error);
  console.log(error === null ? `PASS ${name}` : `FAIL ${name}: ${error}`);
}

async function runConnection(url, { mode, checks, interactive: answers = false }) {
  const capabilities = answers ? { elicitation: { form: {} }, sampling: {}, roots: {} } : {};
  const client = new Client({ name: PREFIX, version: "1.0.0" }, { capabilities, versionNegotiation: { mode } });
  if (answers) answerQuestions(client);
  const transport = new StreamableHTTPClientTransport(new URL(url));
  const label = show(mode);
  try {
    await withDeadline(client.connect(transport, reqOpts), CHECK_TIMEOUT_MS, `connect (mode ${label})`);
  } catch (err) {
    for (const [name] of checks) report(name, `not run: connect with mode ${label} failed: ${describe(err)}`);
    await client.close().catch(() => {});
    return;
  }
  const ctx = { client, transport };
  for (const [name, check] of checks) {
    try {
      await withDeadline(check(ctx), CHECK_TIMEOUT_MS, name);
      report(name, null);
    } catch (err) {
      report(name, describe(err));
    }
  }
  if (transport.sessionId !== undefined) {
    // A 2025 session (the fallback): DELETE it so the proxy stops its child now.
    await withDeadline(transport.terminateSession(), 5_000, "session termination").catch((err) =>
      console.error(`${PREFIX}: note: session termination failed: ${describe(err)}`),
    );
  }
  await withDeadline(client.close(), 5_000, "close").catch((err) =>
    console.error(`${PREFIX}: note: close failed: ${describe(err)}`),
  );
}

const [scenario, url] = process.argv.slice(2);
if (process.argv.length !== 4 || !(scenario in SCENARIOS)) {
  console.error(`usage: node ts_modern.mjs {${Object.keys(SCENARIOS).join("|")}} <streamable-http-url>`);
  process.exit(2);
}
const connections = SCENARIOS[scenario];
const allChecks = connections.flatMap((c) => c.checks.map(([name]) => name));

let finished = false;
function finish() {
  if (finished) return;
  finished = true;
  clearTimeout(globalTimer);
  let failed = 0;
  for (const name of allChecks) {
    if (!results.has(name)) report(name, "not run (global deadline)");
    if (results.get(name) !== null) failed += 1;
  }
  console.log(`${PREFIX}: ${allChecks.length - failed} passed, ${failed} failed`);
  process.exit(failed === 0 ? 0 : 1);
}

const globalTimer = setTimeout(() => {
  console.error(`${PREFIX}: global deadline of ${TOTAL_TIMEOUT_MS / 1000}s exceeded`);
  finish();
}, TOTAL_TIMEOUT_MS);

(async () => {
  for (const conn of connections) await runConnection(url, conn);
})()
  .catch((err) => console.error(`${PREFIX}: unexpected error: ${describe(err)}`))
  .finally(finish);
