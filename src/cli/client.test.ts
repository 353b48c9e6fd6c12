// The real binary (bin/doubao-gateway.js → dist/cli/main.js, built by `npm test`'s pretest) against a gateway
// on loopback: generate, edit, group, stream, draw, portrait, tasks, models; exit codes and messages.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { jpegSize, startHarness, TEST_KEY, type Harness } from "../testing/harness.js";

const BIN = resolve("bin/doubao-gateway.js");
const SAMPLE = resolve("docs/samples/portrait.jpeg");
const V40 = "doubao-seedream-4-0-250828";
let h: Harness;
let origin = "";
let dir = "";

before(async () => {
  h = await startHarness();
  await h.gateway.app.listen({ port: 0, host: "127.0.0.1" });
  origin = `http://127.0.0.1:${(h.gateway.app.server.address() as { port: number }).port}`;
  dir = mkdtempSync(join(tmpdir(), "doubao-cli-"));
});
after(async () => {
  await h.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Runs the binary (stdout a pipe, not a terminal) and collects its output. */
function run(args: string[], environment: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd: dir, env: { ...process.env, DOUBAO_BASE_URL: origin, DOUBAO_API_KEY: TEST_KEY, ...environment } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    child.on("close", (code) => done({ code, stdout, stderr }));
  });
}

describe("making images", () => {
  test("generate to a file: stdout is the saved path only; an existing file is not overwritten", async () => {
    const first = await run(["generate", "a red lighthouse", "--model", V40, "--size", "1280x720", "--no-watermark", "--out", "out/light.jpeg"]);
    assert.equal(first.code, 0, first.stderr);
    assert.equal(first.stdout, "out/light.jpeg\n");
    assert.equal(first.stderr, "");
    assert.deepEqual(await jpegSize(readFileSync(join(dir, "out/light.jpeg"))), { format: "jpeg", width: 1280, height: 720 });
    const second = await run(["generate", "a red lighthouse", "--model", V40, "--size", "1280x720", "--out", "out/light.jpeg"]);
    assert.equal(second.stdout, "out/light-2.jpeg\n");
  });

  test("a group generation saves every image, named from the prompt and time", async () => {
    const result = await run(["generate", "three birds [[images:3]]", "--model", V40, "--size", "1280x720", "--max-images", "3", "--out", "birds/"]);
    assert.equal(result.code, 0, result.stderr);
    const paths = result.stdout.trim().split("\n");
    assert.equal(paths.length, 3);
    for (const [index, path] of paths.entries()) assert.match(path, new RegExp(`^birds/three-birds-\\d{8}-\\d{6}-${index + 1}\\.jpeg$`));
    assert.equal(readdirSync(join(dir, "birds")).length, 3);
  });

  test("--stream saves each image as its event arrives; a refused one is reported on stderr", async () => {
    const result = await run(["generate", "two kites [[refuse-image:2]]", "--model", V40, "--size", "1280x720", "--max-images", "3", "--stream", "--out", "kites/k.jpeg"]);
    assert.equal(result.code, 0, result.stderr);
    assert.deepEqual(result.stdout.trim().split("\n"), ["kites/k-1.jpeg", "kites/k-3.jpeg"]);
    assert.equal(result.stderr, "image 2 was not made: OutputImageSensitiveContentDetected: The request failed because the output image may contain sensitive information.\n");
  });

  test("edit from a path (the shipped sample) and portrait from it", async () => {
    const edited = await run(["edit", SAMPLE, "--prompt", "make it snow", "--model", V40, "--size", "1280x720", "--out", "edited.jpeg"]);
    assert.equal(edited.code, 0, edited.stderr);
    assert.equal(edited.stdout, "edited.jpeg\n");
    const portrait = await run(["portrait", SAMPLE, "--width", "512", "--height", "640", "--out", "portrait.jpeg"]);
    assert.equal(portrait.code, 0, portrait.stderr);
    assert.deepEqual(await jpegSize(readFileSync(join(dir, "portrait.jpeg"))), { format: "jpeg", width: 512, height: 640 });
    const drawn = await run(["draw", "千军万马", "--width", "256", "--height", "256", "--no-sr", "--out", "drawn.jpeg"]);
    assert.equal(drawn.code, 0, drawn.stderr);
    assert.deepEqual(await jpegSize(readFileSync(join(dir, "drawn.jpeg"))), { format: "jpeg", width: 256, height: 256 });
  });

  test("--json prints the raw answer and saves nothing without --out", async () => {
    const before = readdirSync(dir).length;
    const result = await run(["generate", "a moth", "--model", V40, "--size", "1280x720", "--json"]);
    assert.equal(result.code, 0, result.stderr);
    const answer = JSON.parse(result.stdout);
    assert.deepEqual(Object.keys(answer), ["model", "created", "data", "usage"]);
    assert.equal(answer.data[0].size, "1280x720");
    assert.equal(readdirSync(dir).length, before);
  });

  test("models, models show, tasks wait", async () => {
    const list = await run(["models"]);
    assert.equal(list.code, 0);
    assert.match(list.stdout, /^doubao-seedream-4-5-251128\s+seedream-4\s+live\s+seedream-4\.5, seedream-4-5, seedream-4-5-251128$/m);
    assert.match(list.stdout, /^doubao-seedream-3-0-t2i-250415\s+seedream-3\s+live\s+seedream-3$/m);
    const show = await run(["models", "show", "seedream-5-pro"]);
    assert.equal(JSON.parse(show.stdout).capabilities.max_reference_images, 10);
    const submitted = await h.post("/doubao/drawing?async=true", { prompt: "later", width: 256, height: 256, use_sr: false, return_url: false });
    const waited = await run(["tasks", "wait", submitted.json.task_id, "--out", "task.jpeg"]);
    assert.equal(waited.code, 0, waited.stderr);
    assert.equal(waited.stdout, "task.jpeg\n");
  });
});

test("on a terminal: a progress line with the elapsed time, then the saved path", { skip: !existsSync("/usr/bin/script") && "util-linux script(1) is not installed" }, async () => {
  // script(1) gives the command a pseudo-terminal, as a user's shell would.
  const command = [process.execPath, BIN, "generate", "'a slow lantern [[fault:slow:600]]'", "--model", V40, "--size", "1280x720", "--out", "tty.jpeg"].join(" ");
  const result = await new Promise<{ code: number | null; output: string }>((done) => {
    const child = spawn("/usr/bin/script", ["-qec", command, "/dev/null"], { cwd: dir, env: { ...process.env, DOUBAO_BASE_URL: origin, DOUBAO_API_KEY: TEST_KEY } });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("close", (code) => done({ code, output }));
  });
  assert.equal(result.code, 0, result.output);
  assert.match(result.output, /generating with doubao-seedream-4-0-250828… \d+\.\d s/);
  assert.match(result.output, /tty\.jpeg\r?\n$/);
});

describe("failures and usage", () => {
  test("a refused request: exit 1 and the gateway's message with the request id", async () => {
    const result = await run(["generate", "x", "--model", V40, "--size", "1279x720"]);
    assert.equal(result.code, 1);
    assert.equal(result.stdout, "");
    assert.match(result.stderr, /^doubao-gateway: the request failed \(400 InvalidParameter\): Invalid parameter `size`: doubao-seedream-4-0-250828 accepts .* \(got "1279x720": 920880 pixels, W\/H 1\.776\)\.\n {2}request id: \d{14}[0-9A-F]{16}\n$/);
    const wrongKey = await run(["models"], { DOUBAO_API_KEY: "dg_wrong" });
    assert.equal(wrongKey.code, 1);
    assert.match(wrongKey.stderr, /^doubao-gateway: the request failed \(401 AuthenticationError\): The API key is invalid or has been revoked\./);
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", resolve));
    const port = (closed.address() as { port: number }).port;
    await new Promise((resolve) => closed.close(resolve));
    const down = await run(["models", "--base-url", `http://127.0.0.1:${port}`, "--timeout-ms", "2000"]);
    assert.equal(down.code, 1);
    assert.equal(down.stderr, `doubao-gateway: the request failed (ConnectionError): could not reach http://127.0.0.1:${port}: ECONNREFUSED\n`);
  });

  test("usage errors exit 2 and say what to type", async () => {
    const cases: Array<[string[], string]> = [
      [["generate"], 'doubao-gateway generate: generate needs a prompt: doubao-gateway generate "a lighthouse at dawn"\nSee: doubao-gateway generate --help\n'],
      [["generate", "x", "--sise", "2K"], "doubao-gateway generate: unknown option --sise; did you mean --size?\nSee: doubao-gateway generate --help\n"],
      [["generate", "x", "--max-images", "20"], 'doubao-gateway generate: --max-images must be an integer in [1, 15]; got "20".\nSee: doubao-gateway generate --help\n'],
      [["models"], "doubao-gateway models: No API key: pass --key KEY or set DOUBAO_API_KEY (npm start prints the first key once).\nSee: doubao-gateway models --help\n"],
      [["frobnicate"], ""],
    ];
    for (const [args, stderr] of cases) {
      const result = await run(args, args[0] === "models" ? { DOUBAO_API_KEY: "" } : {});
      assert.equal(result.code, 2, args.join(" "));
      if (stderr) assert.equal(result.stderr, stderr);
    }
  });

  test("--help with examples on every command, and --version", async () => {
    for (const command of ["generate", "edit", "draw", "portrait", "tasks", "models", "serve", "check", "emulator", "keys", "usage"]) {
      const result = await run([command, "--help"]);
      assert.equal(result.code, 0, command);
      assert.match(result.stdout, new RegExp(`^doubao-gateway \\[?${command}`), command);
      if (["generate", "edit", "draw", "portrait", "tasks", "models", "serve"].includes(command)) assert.match(result.stdout, /Examples?:\n/, command);
    }
    const version = await run(["--version"]);
    assert.equal(version.stdout, `${(JSON.parse(readFileSync("package.json", "utf8")) as { version: string }).version}\n`);
  });
});
