#!/usr/bin/env node
// Interop checks for hyper-mcp-proxy using the official MCP TypeScript SDK
// (@modelcontextprotocol/sdk: Client + StreamableHTTPClientTransport).
//
// Usage:  node ts_client.mjs <streamable-http-url>      e.g. http://127.0.0.1:8080/mcp
//
// The server behind the URL must be @modelcontextprotocol/server-everything
// (spawned over stdio by hyper-mcp-proxy, or its own `streamableHttp` mode,
// which is the reference used when developing these checks).
//
// Prints one line per check ("PASS <check>" / "FAIL <check>: <why>") and ends
// with exactly one summary line:
//     interop-ts: <passed> passed, <failed> failed
// Exit status is 0 only if every check passed. Every wait is bounded: each
// request has a timeout, each check a deadline, and the whole run a deadline.

import { readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual, inspect } from "node:util";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import {
  CreateMessageRequestSchema,
  ElicitRequestSchema,
  LoggingMessageNotificationSchema,
  LATEST_PROTOCOL_VERSION,
} from "@modelcontextprotocol/sdk/types.js";

const PREFIX = "interop-ts";
const CHECK_TIMEOUT_MS = 20_000;
const TOTAL_TIMEOUT_MS = 120_000;
const LOG_WAIT_MS = 15_000; // server-everything emits one simulated log message every 5 s

const HERE = dirname(fileURLToPath(import.meta.url));
const SE_DOCS = join(HERE, "node_modules", "@modelcontextprotocol", "server-everything", "dist", "docs");

// --- what server-everything (pinned in package.json) is expected to expose ---
const SERVER_NAME = "mcp-servers/everything";
const SERVER_TITLE = "Everything Reference Server";
const SERVER_VERSION = "2.0.0";
const EXPECTED_TOOLS = [
  "echo",
  "get-sum",
  "trigger-long-running-operation",
  "toggle-simulated-logging",
  // only registered when the client declares the capability (after notifications/initialized)
  "trigger-sampling-request",
  "trigger-elicitation-request",
];
const EXPECTED_PROMPTS = ["simple-prompt", "args-prompt", "completable-prompt", "resource-prompt"];
const RESOURCE_DOC = "how-it-works.md";

// --- fixed inputs / answers ---
const ECHO_MESSAGE = 'interop-ts: héllo wörld ✓ "quoted" \\ back\\slash {"json":[1,2]} \u2028 🚀';
const SUM_A = 1234.5;
const SUM_B = -0.25;
const PROMPT_CITY = "São Paulo";
const PROMPT_STATE = "SP";
const SAMPLING_PROMPT = "interop-ts sampling prompt";
const SAMPLING_MAX_TOKENS = 55;
const SAMPLING_REPLY = "FIXED-SAMPLING-REPLY from interop-ts";
const SAMPLING_MODEL = "interop-fixed-model";
const ELICIT_CONTENT = {
  name: "Grace Hopper (ts)",
  check: false,
  email: "grace.ts@example.com",
  integer: 99,
};
const PROGRESS_DURATION_S = 1;
const PROGRESS_STEPS = 5;
const LOG_LEVELS = ["debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"];
const LOG_DATA_RE =
  /^(Debug-level message|Info-level message|Notice-level message|Warning-level message|Error-level message|Critical-level message|Alert level-message|Emergency-level message)( - SessionId .+)?$/;

class CheckFailed extends Error {}

function expect(cond, what) {
  if (!cond) throw new CheckFailed(what);
}

function show(v) {
  return inspect(v, { depth: 6, breakLength: Infinity });
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

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// --- state shared between the client handlers and the checks ---
const rec = { sampling: [], elicitation: [], logs: [] };
const reqOpts = { timeout: CHECK_TIMEOUT_MS };

const client = new Client(
  { name: "interop-ts", version: "1.0.0" },
  { capabilities: { sampling: {}, elicitation: {} } },
);

client.setRequestHandler(CreateMessageRequestSchema, async (request) => {
  rec.sampling.push(request.params);
  return {
    role: "assistant",
    content: { type: "text", text: SAMPLING_REPLY },
    model: SAMPLING_MODEL,
    stopReason: "endTurn",
  };
});

client.setRequestHandler(ElicitRequestSchema, async (request) => {
  rec.elicitation.push(request.params);
  return { action: "accept", content: { ...ELICIT_CONTENT } };
});

client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
  rec.logs.push({ at: Date.now(), params: notification.params });
});

// ----------------------------------------------------------------- checks

async function checkInitialize() {
  const info = client.getServerVersion();
  expectEq(info?.name, SERVER_NAME, "serverInfo.name");
  expectEq(info?.title, SERVER_TITLE, "serverInfo.title");
  expectEq(info?.version, SERVER_VERSION, "serverInfo.version");
  const expectedInstructions = readFileSync(join(SE_DOCS, "instructions.md"), "utf8");
  expectEq(client.getInstructions(), expectedInstructions, "instructions (docs/instructions.md)");
  const caps = client.getServerCapabilities() ?? {};
  expect(caps.logging !== undefined, "capabilities.logging missing");
  expectEq(caps.tools?.listChanged, true, "capabilities.tools.listChanged");
  expectEq(caps.resources?.subscribe, true, "capabilities.resources.subscribe");
  expect(caps.prompts !== undefined, "capabilities.prompts missing");
  expectEq(transport.protocolVersion, LATEST_PROTOCOL_VERSION, "negotiated protocolVersion");
}

async function checkToolsList() {
  const result = await client.listTools(undefined, reqOpts);
  const names = result.tools.map((t) => t.name);
  expectEq(new Set(names).size, names.length, `duplicate tool names in ${show(names)}`);
  const missing = EXPECTED_TOOLS.filter((n) => !names.includes(n));
  expect(missing.length === 0, `tools missing from tools/list: ${show(missing)} (got ${show(names)})`);
  const echo = result.tools.find((t) => t.name === "echo");
  expectEq(echo.inputSchema.required, ["message"], "echo inputSchema.required");
}

async function checkEcho() {
  const result = await client.callTool({ name: "echo", arguments: { message: ECHO_MESSAGE } }, undefined, reqOpts);
  expectEq(onlyText(result, "echo"), [`Echo: ${ECHO_MESSAGE}`], "echo result text");
}

async function checkAdd() {
  const result = await client.callTool({ name: "get-sum", arguments: { a: SUM_A, b: SUM_B } }, undefined, reqOpts);
  expectEq(
    onlyText(result, "get-sum"),
    [`The sum of ${SUM_A} and ${SUM_B} is ${SUM_A + SUM_B}.`],
    "get-sum result text",
  );
}

async function checkResources() {
  const listed = await client.listResources(undefined, reqOpts);
  const uris = listed.resources.map((r) => r.uri);
  const expectedUris = readdirSync(SE_DOCS)
    .filter((f) => statSync(join(SE_DOCS, f)).isFile())
    .map((f) => `demo://resource/static/document/${encodeURIComponent(f)}`);
  expect(expectedUris.length > 0, `no docs found in ${SE_DOCS}`);
  const missing = expectedUris.filter((u) => !uris.includes(u));
  expect(missing.length === 0, `resources missing from resources/list: ${show(missing)} (got ${show(uris)})`);
  const uri = `demo://resource/static/document/${RESOURCE_DOC}`;
  const entry = listed.resources.find((r) => r.uri === uri);
  expectEq(entry.mimeType, "text/markdown", "listed mimeType");
  const read = await client.readResource({ uri }, reqOpts);
  expectEq(read.contents.length, 1, "number of resource contents");
  const [content] = read.contents;
  expectEq(content.uri, uri, "read uri");
  expectEq(content.mimeType, "text/markdown", "read mimeType");
  expectEq(content.text, readFileSync(join(SE_DOCS, RESOURCE_DOC), "utf8"), `text of ${RESOURCE_DOC}`);
}

async function checkPrompts() {
  const listed = await client.listPrompts(undefined, reqOpts);
  const names = listed.prompts.map((p) => p.name);
  const missing = EXPECTED_PROMPTS.filter((n) => !names.includes(n));
  expect(missing.length === 0, `prompts missing from prompts/list: ${show(missing)} (got ${show(names)})`);
  const argsPrompt = listed.prompts.find((p) => p.name === "args-prompt");
  expectEq(
    Object.fromEntries((argsPrompt.arguments ?? []).map((a) => [a.name, a.required ?? false])),
    { city: true, state: false },
    "args-prompt arguments",
  );
  const got = await client.getPrompt(
    { name: "args-prompt", arguments: { city: PROMPT_CITY, state: PROMPT_STATE } },
    reqOpts,
  );
  expectEq(got.messages, [
    { role: "user", content: { type: "text", text: `What's weather in ${PROMPT_CITY}, ${PROMPT_STATE}?` } },
  ], "prompt messages");
}

async function checkSampling() {
  const result = await client.callTool(
    { name: "trigger-sampling-request", arguments: { prompt: SAMPLING_PROMPT, maxTokens: SAMPLING_MAX_TOKENS } },
    undefined,
    reqOpts,
  );
  const texts = onlyText(result, "trigger-sampling-request");
  expectEq(rec.sampling.length, 1, "number of sampling/createMessage requests received");
  const req = rec.sampling[0];
  expectEq(req.maxTokens, SAMPLING_MAX_TOKENS, "sampling request maxTokens");
  expectEq(req.systemPrompt, "You are a helpful test server.", "sampling request systemPrompt");
  expectEq(
    req.messages,
    [{ role: "user", content: { type: "text", text: `Resource trigger-sampling-request context: ${SAMPLING_PROMPT}` } }],
    "sampling request messages",
  );
  expectEq(texts.length, 1, "number of result text blocks");
  const prefix = "LLM sampling result: \n";
  expect(texts[0].startsWith(prefix), `unexpected tool result: ${show(texts[0])}`);
  const echoed = JSON.parse(texts[0].slice(prefix.length));
  expectEq(echoed.content, { type: "text", text: SAMPLING_REPLY }, "sampling result content seen by server");
  expectEq(echoed.model, SAMPLING_MODEL, "sampling result model seen by server");
  expectEq(echoed.role, "assistant", "sampling result role seen by server");
  expectEq(echoed.stopReason, "endTurn", "sampling result stopReason seen by server");
}

async function checkElicitation() {
  const result = await client.callTool({ name: "trigger-elicitation-request", arguments: {} }, undefined, reqOpts);
  const texts = onlyText(result, "trigger-elicitation-request");
  expectEq(rec.elicitation.length, 1, "number of elicitation/create requests received");
  const req = rec.elicitation[0];
  expectEq(req.message, "Please provide inputs for the following fields:", "elicitation message");
  expectEq(req.requestedSchema?.required, ["name"], "elicitation requestedSchema.required");
  for (const prop of ["name", "check", "email", "integer"]) {
    expect(req.requestedSchema?.properties?.[prop], `elicitation requestedSchema lacks property ${prop}`);
  }
  expectEq(texts.length, 3, `number of result text blocks (${show(texts)})`);
  expectEq(texts[0], "✅ User provided the requested information!", "elicitation result line 1");
  expectEq(
    texts[1],
    "User inputs:\n" +
      `- Name: ${ELICIT_CONTENT.name}\n` +
      `- Agreed to terms: ${ELICIT_CONTENT.check}\n` +
      `- Email: ${ELICIT_CONTENT.email}\n` +
      `- Favorite Integer: ${ELICIT_CONTENT.integer}`,
    "elicitation result user inputs",
  );
  const rawPrefix = "\nRaw result: ";
  expect(texts[2].startsWith(rawPrefix), `unexpected raw block ${show(texts[2])}`);
  const raw = JSON.parse(texts[2].slice(rawPrefix.length));
  expectEq(raw.action, "accept", "raw elicitation action seen by server");
  expectEq(raw.content, ELICIT_CONTENT, "raw elicitation content seen by server");
}

async function checkProgress() {
  const seen = [];
  const result = await client.callTool(
    { name: "trigger-long-running-operation", arguments: { duration: PROGRESS_DURATION_S, steps: PROGRESS_STEPS } },
    undefined,
    { ...reqOpts, onprogress: (p) => seen.push(p) },
  );
  expectEq(
    onlyText(result, "trigger-long-running-operation"),
    [`Long running operation completed. Duration: ${PROGRESS_DURATION_S} seconds, Steps: ${PROGRESS_STEPS}.`],
    "long-running result text",
  );
  expectEq(seen.length, PROGRESS_STEPS, `number of progress notifications (got ${show(seen)})`);
  expectEq(
    seen.map((p) => [p.progress, p.total]),
    Array.from({ length: PROGRESS_STEPS }, (_, i) => [i + 1, PROGRESS_STEPS]),
    "progress values",
  );
}

async function checkLogging() {
  await client.setLoggingLevel("debug", reqOpts);
  const toggle = () => client.callTool({ name: "toggle-simulated-logging", arguments: {} }, undefined, reqOpts);
  const texts = onlyText(await toggle(), "toggle-simulated-logging");
  expect(
    texts.length === 1 && texts[0].startsWith("Started simulated, random-leveled logging"),
    `unexpected toggle result ${show(texts)}`,
  );
  const returnedAt = Date.now();
  // server-everything sends one message immediately and then one every 5 s; at level
  // "debug" none is filtered. Wait (bounded) for one that arrives after the tool call
  // returned, i.e. one delivered outside any request (standalone GET SSE stream).
  try {
    const deadline = returnedAt + LOG_WAIT_MS;
    while (!rec.logs.some((l) => l.at > returnedAt)) {
      if (Date.now() > deadline) {
        throw new CheckFailed(
          `no notifications/message received within ${LOG_WAIT_MS / 1000}s after toggle-simulated-logging ` +
            `returned (${rec.logs.length} received before it returned)`,
        );
      }
      await sleep(50);
    }
  } finally {
    await toggle().catch(() => {}); // stop the simulated logging again (best effort)
  }
  for (const { params } of rec.logs) {
    expect(LOG_LEVELS.includes(params.level), `unknown log level ${show(params.level)}`);
    expect(typeof params.data === "string" && LOG_DATA_RE.test(params.data), `unexpected log data ${show(params.data)}`);
    expect(
      params.data.toLowerCase().startsWith(params.level),
      `log data ${show(params.data)} does not match its level ${show(params.level)}`,
    );
  }
}

const CHECKS = [
  ["initialize", checkInitialize],
  ["tools/list", checkToolsList],
  ["tools/call echo", checkEcho],
  ["tools/call get-sum", checkAdd],
  ["resources/list + resources/read", checkResources],
  ["prompts/list + prompts/get", checkPrompts],
  ["sampling (trigger-sampling-request)", checkSampling],
  ["elicitation (trigger-elicitation-request)", checkElicitation],
  ["progress (trigger-long-running-operation)", checkProgress],
  ["logging (logging/setLevel + notifications/message)", checkLogging],
];

function describe(err) {
  if (err instanceof CheckFailed) return err.message;
  return `${err?.name ?? "Error"}: ${err?.message ?? String(err)}`;
}

let passed = 0;
let failed = 0;
function report(name, error) {
  if (error === null) {
    passed += 1;
    console.log(`PASS ${name}`);
  } else {
    failed += 1;
    console.log(`FAIL ${name}: ${error}`);
  }
}

const url = process.argv[2];
if (!url || process.argv.length !== 3) {
  console.error("usage: node ts_client.mjs <streamable-http-url>");
  process.exit(2);
}

const transport = new StreamableHTTPClientTransport(new URL(url));
const transportErrors = [];
client.onerror = (err) => transportErrors.push(describe(err));

async function main() {
  try {
    await withDeadline(client.connect(transport, reqOpts), CHECK_TIMEOUT_MS, "initialize");
  } catch (err) {
    report("initialize", `initialize failed: ${describe(err)}`);
    for (const [name] of CHECKS.slice(1)) report(name, "not run: initialize failed");
    return;
  }
  for (const [name, fn] of CHECKS) {
    const ms = CHECK_TIMEOUT_MS + (fn === checkLogging ? LOG_WAIT_MS : 0);
    try {
      await withDeadline(fn(), ms, name);
      report(name, null);
    } catch (err) {
      report(name, describe(err));
    }
  }
  // DELETE the session (best effort, not a check) and close the transport.
  await withDeadline(transport.terminateSession(), 5_000, "session termination").catch((err) =>
    console.error(`${PREFIX}: note: session termination failed: ${describe(err)}`),
  );
}

const globalTimer = setTimeout(() => {
  console.error(`${PREFIX}: global deadline of ${TOTAL_TIMEOUT_MS / 1000}s exceeded`);
  finish(true);
}, TOTAL_TIMEOUT_MS);

let finished = false;
function finish(timedOut) {
  if (finished) return;
  finished = true;
  clearTimeout(globalTimer);
  if (timedOut) {
    // count every check that never reported as failed
    const missing = CHECKS.length - passed - failed;
    for (let i = 0; i < missing; i++) report("(unfinished check)", "global deadline exceeded");
  }
  if (failed > 0 && transportErrors.length > 0) {
    console.error(`${PREFIX}: transport errors seen: ${show(transportErrors.slice(0, 10))}`);
  }
  console.log(`${PREFIX}: ${passed} passed, ${failed} failed`);
  client.close().catch(() => {});
  // exit explicitly: open SSE streams or timers must not keep the process alive
  setTimeout(() => process.exit(failed === 0 && passed === CHECKS.length ? 0 : 1), 50);
}

main()
  .catch((err) => report("(client)", `unexpected error: ${describe(err)}`))
  .finally(() => finish(false));
