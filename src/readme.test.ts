// The README's command-line and SDK examples, run as they are written, against a gateway on loopback.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { startHarness, TEST_KEY, type Harness } from "./testing/harness.js";
import { pythonArk, type SdkParams } from "./testing/python-ark.js";

const README = readFileSync("README.md", "utf8");
/** The code block after `<!-- tested: NAME -->`. */
function example(name: string): string {
  const match = new RegExp(`<!-- tested: ${name} -->\\n\`\`\`\\w+\\n([\\s\\S]*?)\\n\`\`\``).exec(README);
  assert.ok(match, `README has a tested ${name} example`);
  return match[1] as string;
}

/** Splits a shell command line into words (double quotes group; no other shell syntax is used in the examples). */
function words(line: string): string[] {
  return [...line.matchAll(/"([^"]*)"|(\S+)/g)].map((match) => (match[1] ?? match[2]) as string);
}

let h: Harness;
let origin = "";
// Under the repository, so that the SDK example resolves @doubao-gateway/sdk from node_modules like a user's project would.
const work = resolve(`node_modules/.cache/readme-test-${process.pid}`);
before(async () => {
  // The result URLs must be reachable, as for a user: the gateway's public URL is the port it listens on.
  const probe = createServer();
  await new Promise<void>((done) => probe.listen(0, "127.0.0.1", done));
  const port = (probe.address() as { port: number }).port;
  await new Promise((done) => probe.close(done));
  origin = `http://127.0.0.1:${port}`;
  h = await startHarness({ PUBLIC_BASE_URL: origin });
  await h.gateway.app.listen({ port, host: "127.0.0.1" });
  mkdirSync(work, { recursive: true });
  cpSync("docs/samples", join(work, "docs/samples"), { recursive: true });
});
after(async () => {
  await h.close();
  rmSync(work, { recursive: true, force: true });
});

function run(command: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(command, args, { cwd: work, env: { ...process.env, DOUBAO_BASE_URL: origin, DOUBAO_API_KEY: TEST_KEY } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
}

test("every command of the README's command-line example runs and prints what it saved", async () => {
  const lines = example("cli").split("\n").filter((line) => line.startsWith("doubao-gateway "));
  assert.equal(lines.length, 8);
  for (const line of lines) {
    const result = await run(process.execPath, [resolve("bin/doubao-gateway.js"), ...words(line).slice(1)]);
    assert.equal(result.code, 0, `${line}\n${result.stderr}`);
    assert.notEqual(result.stdout.trim(), "", line);
  }
  const saved = (await run("find", [".", "-name", "*.jpeg", "-not", "-path", "./docs/*"])).stdout.trim().split("\n").sort();
  assert.equal(saved.length, 1 + 4 + 3 + 1 + 1 + 1);
});

test("the README's SDK example runs as written", async () => {
  writeFileSync(join(work, "example.mts"), example("sdk"));
  const result = await run(process.execPath, ["--import", "tsx", "example.mts"]);
  assert.equal(result.code, 0, result.stderr);
  const saved = [...result.stdout.matchAll(/'(out\/seasons-\d{8}-\d{6}-\d\.jpeg)'/g)].map((match) => match[1]);
  assert.equal(saved.length, 3, result.stdout);
  assert.ok(result.stdout.endsWith("\nimage 0 1280x720\n400 size\n"), result.stdout);
});

test("the README's AI SDK example runs as written (@ai-sdk/bytedance on Ark's path)", async () => {
  writeFileSync(join(work, "ai-sdk.mts"), example("ai-sdk"));
  const result = await run(process.execPath, ["--import", "tsx", "ai-sdk.mts"]);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout, "2 image/jpeg\n");
});

/** A Python literal of the README's example: a string, True/False/None, a number, or a dict of strings. */
function pythonLiteral(text: string): unknown {
  const value = text.trim();
  if (value === "True" || value === "False") return value === "True";
  if (value === "None") return null;
  if (/^-?\d+(\.\d+)?$/.test(value)) return Number(value);
  // A string in double quotes, or a dict of them, reads as JSON.
  return JSON.parse(value);
}

test("the README's Python example, replayed as Volcengine's SDK sends it (the SDK is not on npm)", async () => {
  const code = example("python-ark");
  const base = /Ark\(base_url=os\.environ\["DOUBAO_BASE_URL"\] \+ "([^"]+)", api_key=os\.environ\["DOUBAO_API_KEY"\]\)/.exec(code);
  assert.ok(base, "Ark(base_url=…, api_key=…) as the test reads it");
  const call = /client\.images\.generate\(\n([\s\S]*?)\n\)/.exec(code);
  assert.ok(call);
  const kwargs = Object.fromEntries((call[1] as string).split(",\n").map((line) => line.trim().replace(/,$/, "")).filter(Boolean).map((line) => {
    const at = line.indexOf("=");
    return [line.slice(0, at), pythonLiteral(line.slice(at + 1))];
  })) as Record<string, unknown>;
  const { extra_headers: extraHeaders, ...params } = kwargs;
  const client = pythonArk({ baseUrl: `${origin}${base[1] as string}`, apiKey: TEST_KEY });
  const result = await client.images.generate(params as SdkParams, { extraHeaders: extraHeaders as Record<string, string> }) as { data: Array<{ url: string }> };
  // print(result.data[0].url): a URL of the gateway's that serves the image
  assert.match(result.data[0]?.url ?? "", new RegExp(`^${origin}/files/\\d{8}/[\\w-]+\\.jpeg$`));
  const image = await fetch(result.data[0]?.url as string);
  assert.equal(image.status, 200);
  assert.equal(image.headers.get("content-type"), "image/jpeg");
  assert.deepEqual(client.attempts.map((attempt) => attempt.status), [200]);
});
