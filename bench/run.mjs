// `npm run bench`: every scenario on loopback in one run, each figure as min / median / max of 3 rounds, written to
// bench/RESULTS.md. The load generator (autocannon) runs in a process of its own; the servers are real processes
// (the gateway from dist/, as `npm start` runs it). CPU per request is read from /proc. Not part of `npm test`.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import sharp from "sharp";

const root = new URL("..", import.meta.url).pathname;
const here = new URL(".", import.meta.url).pathname;
const KEY = "dg_bench_key_0123456789abcdefghijklmnop";
const ROUNDS = 3;
const DURATION = Number(process.env.BENCH_SECONDS ?? 8);
const CONNECTIONS = 50;
const work = mkdtempSync(join(tmpdir(), "doubao-bench-"));
const started = new Set();
const TICKS = 100; // USER_HZ on Linux

function log(line) {
  process.stderr.write(`${line}\n`);
}

/** Starts a process (with a raised descriptor limit) and resolves with its port once it prints that it listens. */
function startProcess(name, command, env, pattern = /listening (\d+)/) {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", `ulimit -n 20000 && exec ${command}`], { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    started.add(child);
    let output = "";
    const timer = setTimeout(() => reject(new Error(`${name} did not start:\n${output}`)), 30_000);
    const onData = (chunk) => {
      output += chunk.toString();
      const match = pattern.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ child, port: Number(match[1]), pid: child.pid, stop: () => stopProcess(child) });
      }
      if (output.length > 100_000) output = output.slice(-10_000);
    };
    child.stdout.on("data", onData);
    child.stderr.on("data", onData);
    child.on("exit", (code) => {
      started.delete(child);
      clearTimeout(timer);
      reject(new Error(`${name} exited (${code}):\n${output}`));
    });
  });
}

async function stopProcess(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGKILL");
  await exited;
}

const procStat = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * (1000 / TICKS);
};
const procStatus = (pid, field) => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0) / 1024;

function load(options) {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", `ulimit -n 20000 && exec node ${join(here, "load.mjs")} '${JSON.stringify(options).replace(/'/g, "'\\''")}'`], { stdio: ["ignore", "pipe", "inherit"] });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(output)) : reject(new Error(`load generator exited ${code}`))));
  });
}

/** One measured round against a target; fails loudly when any answer was not 2xx. */
async function round(target) {
  const before = target.pid ? procStat(target.pid) : 0;
  const result = await load({ url: target.url, method: "POST", headers: target.headers, body: target.body, connections: CONNECTIONS, duration: DURATION, ...(target.clientRequestIds ? { clientRequestIds: target.clientRequestIds } : {}) });
  const cpu = target.pid ? procStat(target.pid) - before : 0;
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    throw new Error(`${target.name}: ${result.non2xx} non-2xx answers, ${result.errors} errors, ${result.timeouts} timeouts of ${result.requests}: the comparison is broken`);
  }
  return { ...result, cpuPerRequest: target.pid ? cpu / result.requests : undefined };
}

const stats = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  return { min: sorted[0], median: sorted[Math.floor(sorted.length / 2)], max: sorted[sorted.length - 1] };
};
const fmt = (value, digits = 0) => (value === undefined ? "–" : value.toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits }));
const triple = (values, digits = 0) => {
  const { min, median, max } = stats(values);
  return `${fmt(min, digits)} / **${fmt(median, digits)}** / ${fmt(max, digits)}`;
};

const ARK_BODY = JSON.stringify({ model: "doubao-seedream-4-5-251128", prompt: "a lighthouse at dawn", size: "2K", response_format: "url", watermark: false });

async function startGateway(upstreamPort, extra = {}, nodeOptions = "") {
  const dataDir = mkdtempSync(join(work, "gw-"));
  return startProcess("gateway", `node ${nodeOptions} dist/main.js`, {
    NODE_ENV: "production", HOST: "127.0.0.1", PORT: "0", DATA_DIR: dataDir, GATEWAY_EMULATE: "0", GATEWAY_BOOTSTRAP_KEY: KEY,
    ARK_API_KEY: "bench-ark-key", ARK_BASE_URL: `http://127.0.0.1:${upstreamPort}/api/v3`, RESULT_HOSTING: "upstream", GATEWAY_FETCH_ALLOW: "127.0.0.1",
    ...extra,
  }, /listening on http:\/\/127\.0\.0\.1:(\d+)/);
}

const gatewayTarget = (name, server) => ({
  name, pid: server.pid, url: `http://127.0.0.1:${server.port}/doubao/images/generations`, body: ARK_BODY,
  headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` },
});

/**
 * The same request as Volcengine's Python SDK sends it (src/testing/python-ark.ts): Ark's path, all 14 fields with the
 * unset ones null, and a new X-Client-Request-Id on every request (bench/load.mjs) — the SDK's own (`sdk`), or a
 * caller's (`caller`), which the gateway keeps like an Idempotency-Key: the cost of that path, against the rows above.
 */
const PYTHON_SDK_BODY = JSON.stringify({
  model: "doubao-seedream-4-5-251128", prompt: "a lighthouse at dawn", image: null, response_format: "url", size: "2K", seed: null, guidance_scale: null, watermark: false,
  optimize_prompt: null, optimize_prompt_options: null, sequential_image_generation: null, sequential_image_generation_options: null, tools: null, output_format: null,
});
const pythonSdkTarget = (name, server, clientRequestIds) => ({
  name, pid: server.pid, url: `http://127.0.0.1:${server.port}/api/v3/images/generations`, body: PYTHON_SDK_BODY, clientRequestIds,
  headers: { "content-type": "application/json", accept: "application/json", authorization: `Bearer ${KEY}`, "user-agent": "volc-sdk-python/5.0.42" },
});

async function passThrough(lines) {
  const upstream = await startProcess("upstream", `node ${join(here, "upstream.mjs")}`, {});
  const floor = await startProcess("floor", `node ${join(here, "floor.mjs")}`, { UPSTREAM: `http://127.0.0.1:${upstream.port}` });
  const fastifyFloor = await startProcess("fastify floor", `node ${join(here, "fastify-floor.mjs")}`, { UPSTREAM: `http://127.0.0.1:${upstream.port}` });
  const portkeyPort = 18787 + Math.floor(Math.random() * 1000);
  const portkey = await startProcess("portkey", `node node_modules/@portkey-ai/gateway/build/start-server.js --port=${portkeyPort}`, {}, /Ready for (connections)/);
  portkey.port = portkeyPort;
  const gateway = await startGateway(upstream.port);
  const targets = [
    { name: "upstream directly", pid: upstream.pid, url: `http://127.0.0.1:${upstream.port}/api/v3/images/generations`, body: ARK_BODY, headers: { "content-type": "application/json" } },
    { name: "floor (node:http + undici)", pid: floor.pid, url: `http://127.0.0.1:${floor.port}/`, body: ARK_BODY, headers: { "content-type": "application/json" } },
    { name: "reference: the floor as a Fastify route, no gateway work", pid: fastifyFloor.pid, url: `http://127.0.0.1:${fastifyFloor.port}/`, body: ARK_BODY, headers: { "content-type": "application/json" } },
    {
      name: "Portkey gateway", pid: portkey.pid, url: `http://127.0.0.1:${portkey.port}/v1/images/generations`, body: ARK_BODY,
      headers: { "content-type": "application/json", authorization: "Bearer bench-ark-key", "x-portkey-provider": "openai", "x-portkey-custom-host": `http://127.0.0.1:${upstream.port}/api/v3` },
    },
    gatewayTarget("doubao-gateway (RESULT_HOSTING=upstream)", gateway),
    pythonSdkTarget("doubao-gateway, Volcengine's Python SDK request (its own X-Client-Request-Id)", gateway, "sdk"),
    pythonSdkTarget("doubao-gateway, the same with a caller's X-Client-Request-Id, new each time (kept)", gateway, "caller"),
  ];
  const results = Object.fromEntries(targets.map((target) => [target.name, []]));
  for (const target of targets) await load({ url: target.url, method: "POST", headers: target.headers, body: target.body, connections: CONNECTIONS, duration: 2, ...(target.clientRequestIds ? { clientRequestIds: target.clientRequestIds } : {}) }); // warm-up
  for (let index = 0; index < ROUNDS; index += 1) {
    for (const target of targets) {
      const result = await round(target);
      results[target.name].push(result);
      log(`pass-through round ${index + 1}: ${target.name}: ${fmt(result.rps)} req/s, p99 ${result.p99} ms, ${fmt(result.cpuPerRequest, 3)} ms CPU/request`);
    }
  }
  // The scale-out path, side by side with the rows above: PostgreSQL + Redis, then the same with the Ark account's own
  // limits (rpm, ipm, concurrency; never reached here) counted in Redis on every attempt.
  const servicesRows = [];
  for (const limited of process.env.BENCH_NO_SERVICES ? [] : [false, true]) {
    const services = await servicesGateway(upstream.port, limited);
    if (!services) break;
    servicesRows.push(services.target.name);
    results[services.target.name] = [];
    await load({ url: services.target.url, method: "POST", headers: services.target.headers, body: services.target.body, connections: CONNECTIONS, duration: 2 });
    for (let index = 0; index < ROUNDS; index += 1) {
      const result = await round(services.target);
      results[services.target.name].push(result);
      log(`pass-through round ${index + 1}: ${services.target.name}: ${fmt(result.rps)} req/s, ${fmt(result.cpuPerRequest, 3)} ms CPU/request`);
    }
    await services.close();
  }
  const floorRps = stats(results["floor (node:http + undici)"].map((r) => r.rps)).median;
  const floorP99 = stats(results["floor (node:http + undici)"].map((r) => r.p99)).median;
  const portkeyRps = stats(results["Portkey gateway"].map((r) => r.rps)).median;
  lines.push("## Pass-through overhead", "", `${CONNECTIONS} connections, ${DURATION} s a round, an instant Ark-shaped upstream; min / **median** / max of ${ROUNDS} rounds.`, "",
    "| target | req/s | p50 ms | p99 ms | CPU ms / request (server process) | req/s vs floor | vs Portkey |", "|---|---|---|---|---|---|---|");
  for (const [name, rows] of Object.entries(results)) {
    const rps = stats(rows.map((r) => r.rps)).median;
    lines.push(`| ${name} | ${triple(rows.map((r) => r.rps))} | ${triple(rows.map((r) => r.p50))} | ${triple(rows.map((r) => r.p99))} | ${triple(rows.map((r) => r.cpuPerRequest), 3)} | ${fmt((rps / floorRps) * 100, 1)} % | ${fmt(rps / portkeyRps, 2)}× |`);
  }
  const ours = results["doubao-gateway (RESULT_HOSTING=upstream)"];
  const oursRps = stats(ours.map((r) => r.rps)).median;
  const oursP99 = stats(ours.map((r) => r.p99)).median;
  lines.push("", "Targets (medians):",
    `- ≥ 60 % of the floor's req/s: ${fmt((oursRps / floorRps) * 100, 1)} % — ${oursRps / floorRps >= 0.6 ? "met" : "**missed**"}`,
    `- p99 ≤ 2× the floor's: ${fmt(oursP99)} ms vs ${fmt(floorP99)} ms (${fmt(oursP99 / floorP99, 2)}×) — ${oursP99 <= 2 * floorP99 ? "met" : "**missed**"}`,
    `- ≥ 5× Portkey's req/s: ${fmt(oursRps / portkeyRps, 2)}× — ${oursRps / portkeyRps >= 5 ? "met" : "**missed**"}`,
    ...servicesRows.map((name) => {
      const ratio = stats(results[name].map((r) => r.cpuPerRequest)).median / stats(ours.map((r) => r.cpuPerRequest)).median;
      return `- ${name}: CPU per request ≤ 1.5× the SQLite path's: ${fmt(ratio, 2)}× — ${ratio <= 1.5 ? "met" : "**missed**"}`;
    }), "");
  for (const server of [upstream, floor, fastifyFloor, portkey, gateway]) await server.stop();
  return { floorRps };
}

/**
 * The same gateway on the machine's PostgreSQL and Redis (a schema of its own, dropped after); with `limited`, its Ark
 * account is one of `upstreams:` with limits far above the load, so each attempt counts them in Redis.
 */
async function servicesGateway(upstreamPort, limited) {
  const base = process.env.TEST_DATABASE_URL ?? "postgres://postgres@127.0.0.1:5432/test";
  const schema = `dg_bench_${process.pid}_${limited ? "limited" : "plain"}`;
  const client = new pg.Client({ connectionString: base });
  try {
    await client.connect();
  } catch (error) {
    log(`PostgreSQL not reachable (${error.message}): the DATABASE_URL/REDIS_URL rows are left out`);
    return undefined;
  }
  const url = new URL(base);
  url.searchParams.set("schema", schema);
  const extra = { DATABASE_URL: url.toString(), REDIS_URL: "redis://127.0.0.1:6379/0", REDIS_PREFIX: `doubao-bench-${process.pid}-${limited ? "l" : "p"}:` };
  if (limited) {
    const file = join(work, "limited.yaml");
    writeFileSync(file, `upstreams:\n  - { id: ark, protocol: ark, base_url: "http://127.0.0.1:${upstreamPort}/api/v3", api_key_env: ARK_API_KEY, limits: { rpm: 1000000, ipm: 1000000, concurrency: 1000 } }\n`);
    extra.GATEWAY_CONFIG = file;
  }
  const gateway = await startGateway(upstreamPort, extra);
  return {
    target: gatewayTarget(limited ? "doubao-gateway on PostgreSQL + Redis, the account's limits counted in Redis" : "doubao-gateway on PostgreSQL + Redis", gateway),
    async close() {
      await gateway.stop();
      await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await client.end();
    },
  };
}

/**
 * A JPEG the size a generated picture has (~300 KB at 1024², quality 90): gradients with fine noise, which JPEG
 * cannot squeeze the way it squeezes one flat colour (6 KB).
 */
function photoLike(width, height) {
  const raw = Buffer.alloc(width * height * 3);
  for (let index = 0; index < width * height; index += 1) {
    const x = index % width;
    const y = Math.floor(index / width);
    const noise = ((Math.imul(index * 3 + 1, 2654435761) >>> 24) & 31) - 16;
    raw[index * 3] = Math.max(0, Math.min(255, (x >> 2) + noise));
    raw[index * 3 + 1] = Math.max(0, Math.min(255, (y >> 2) + noise));
    raw[index * 3 + 2] = Math.max(0, Math.min(255, 160 + noise));
  }
  return sharp(raw, { raw: { width, height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
}

async function rehosting(lines, floorRps) {
  const imageFile = join(work, "1024.jpeg");
  const image = await photoLike(1024, 1024);
  writeFileSync(imageFile, image);
  const upstream = await startProcess("upstream", `node ${join(here, "upstream.mjs")}`, { IMAGE_FILE: imageFile });
  const gateway = await startGateway(upstream.port, { RESULT_HOSTING: "gateway", PUBLIC_BASE_URL: "http://127.0.0.1:1" });
  const floor = await startProcess("re-hosting floor", `node ${join(here, "rehost-floor.mjs")}`, { UPSTREAM: `http://127.0.0.1:${upstream.port}`, DATA_DIR: mkdtempSync(join(work, "floor-")) });
  const B64_BODY = JSON.stringify({ ...JSON.parse(ARK_BODY), response_format: "b64_json" });
  const targets = [
    { name: "upstream directly (its base64 answer)", pid: upstream.pid, url: `http://127.0.0.1:${upstream.port}/api/v3/images/generations`, body: B64_BODY, headers: { "content-type": "application/json" } },
    { name: "reference: a minimal re-hosting proxy (node:http + undici, JSON.parse, decode, write, rename)", pid: floor.pid, url: `http://127.0.0.1:${floor.port}/`, body: ARK_BODY, headers: { "content-type": "application/json" } },
    gatewayTarget("doubao-gateway (RESULT_HOSTING=gateway)", gateway),
  ];
  const results = Object.fromEntries(targets.map((target) => [target.name, []]));
  for (const target of targets) await load({ url: target.url, method: "POST", headers: target.headers, body: target.body, connections: CONNECTIONS, duration: 2 });
  for (let index = 0; index < ROUNDS; index += 1) {
    for (const target of targets) {
      results[target.name].push(await round(target));
      log(`re-hosting round ${index + 1}: ${target.name}: ${fmt(results[target.name].at(-1).rps)} images/s`);
    }
  }
  await gateway.stop();
  await floor.stop();
  const copies = await copiesPerImage(upstream.port, image.length);
  await upstream.stop();
  const rows = results["doubao-gateway (RESULT_HOSTING=gateway)"];
  const rps = stats(rows.map((r) => r.rps)).median;
  const floorRehostRps = stats(results[targets[1].name].map((r) => r.rps)).median;
  lines.push("## Full path with re-hosting", "", `The upstream answers a 1024×1024 JPEG of ${fmt(image.length / 1024)} KB as base64; the gateway decodes, checks and stores it, and answers its own URL.`, "",
    "| target | images/s | p50 ms | p99 ms | CPU ms / image (server process) |", "|---|---|---|---|---|",
    ...Object.entries(results).map(([name, list]) => `| ${name} | ${triple(list.map((r) => r.rps))} | ${triple(list.map((r) => r.p50))} | ${triple(list.map((r) => r.p99))} | ${triple(list.map((r) => r.cpuPerRequest), 2)} |`), "",
    floorRps > 0 ? `Target ≥ 40 % of the floor's req/s: ${fmt((rps / floorRps) * 100, 1)} % — ${rps / floorRps >= 0.4 ? "met" : "**missed**"}.` : "The floor was not measured in this run (BENCH_ONLY without pass): no ratio.",
    `Against the minimal re-hosting proxy (a reference, not a target): ${fmt((rps / floorRehostRps) * 100, 1)} %.`, "",
    `### Bytes copied per image`, "",
    `A separate run of ${fmt(copies.images)} requests, one connection, with \`bench/copies.cjs\` preloaded (it tallies what passes through the JavaScript APIs that copy bytes; native copies inside libvips and the kernel are not seen). The image is ${fmt(copies.imageBytes)} bytes (${fmt(copies.base64Bytes)} as base64 in the upstream's JSON).`, "",
    "| copy | bytes per image | × the image |", "|---|---|---|",
    ...copies.rows.map(([name, bytes]) => `| ${name} | ${fmt(bytes)} | ${fmt(bytes / copies.imageBytes, 2)} |`),
    `| **all** | **${fmt(copies.total)}** | **${fmt(copies.total / copies.imageBytes, 2)}** |`, "");
}

const COPY_NAMES = {
  socketReads: "read from sockets (the upstream's answer, the client's request)", concat: "Buffer.concat (body chunks joined)",
  decodeToString: "bytes decoded to strings", jsonParse: "JSON.parse input", fromCopy: "Buffer.from (a copy: of a string or another buffer)", writeInto: "strings written into buffers (base64 decoded in slices)",
  fileWrites: "written to the file store", jsonStringify: "JSON.stringify output (answers, log lines)",
};

/** Bytes copied per re-hosted image: totals from the preload before and after a run of requests, divided by the images. */
async function copiesPerImage(upstreamPort, imageBytes) {
  const file = join(work, "copies.json");
  const gateway = await startGateway(upstreamPort, { RESULT_HOSTING: "gateway", PUBLIC_BASE_URL: "http://127.0.0.1:1", COPIES_FILE: file }, `--require ${join(here, "copies.cjs")}`);
  const target = gatewayTarget("copies", gateway);
  const snapshot = async () => {
    process.kill(gateway.pid, "SIGUSR2");
    for (let tries = 0; tries < 100; tries += 1) {
      await sleep(20);
      try {
        const totals = JSON.parse(readFileSync(file, "utf8"));
        rmSync(file);
        return totals;
      } catch {
        // not written yet
      }
    }
    throw new Error("the gateway did not write its copy totals");
  };
  await load({ url: target.url, method: "POST", headers: target.headers, body: target.body, connections: 1, amount: 20 });
  const before = await snapshot();
  const images = 200;
  const result = await load({ url: target.url, method: "POST", headers: target.headers, body: target.body, connections: 1, amount: images });
  if (result.non2xx + result.errors + result.timeouts > 0) throw new Error("copies: some re-hosting requests failed");
  const after = await snapshot();
  await gateway.stop();
  const rows = Object.entries(COPY_NAMES).map(([key, name]) => [name, (after[key] - before[key]) / images]);
  return { images, imageBytes, base64Bytes: Math.ceil(imageBytes / 3) * 4, rows, total: rows.reduce((sum, [, bytes]) => sum + bytes, 0) };
}

async function waiting(lines) {
  const rows = [];
  const direct = [];
  const floors = [];
  const body = { method: "POST", body: ARK_BODY, connections: 5000, amount: 5000, timeout: 60 };
  for (let index = 0; index < ROUNDS; index += 1) {
    const upstream = await startProcess("upstream", `node ${join(here, "upstream.mjs")}`, { DELAY_MS: "10000" });
    // The same 5,000 clients on the upstream itself: what the load generator and the machine add without any gateway.
    direct.push(await load({ ...body, url: `http://127.0.0.1:${upstream.port}/api/v3/images/generations`, headers: { "content-type": "application/json" } }));
    // The floor's proxy (a connection per request, as the gateway opens them): what any Node proxy in between adds.
    const floor = await startProcess("floor", `node ${join(here, "floor.mjs")}`, { UPSTREAM: `http://127.0.0.1:${upstream.port}`, UNLIMITED: "1" });
    floors.push({ ...(await load({ ...body, url: `http://127.0.0.1:${floor.port}/`, headers: { "content-type": "application/json" } })), peak: procStatus(floor.pid, "VmHWM") });
    await floor.stop();
    const gateway = await startGateway(upstream.port);
    const target = gatewayTarget("waiting", gateway);
    const result = await load({ ...body, url: target.url, headers: target.headers });
    const peak = procStatus(gateway.pid, "VmHWM");
    rows.push({ ...result, peak });
    log(`5,000 waiting round ${index + 1}: ${result.non2xx + result.errors + result.timeouts} failed, peak RSS ${fmt(peak)} MB, p50 ${result.p50} ms, p99 ${result.p99} ms, max ${result.max} ms (upstream directly: p99 ${direct.at(-1).p99} ms; the floor's proxy: ${floors.at(-1).non2xx + floors.at(-1).errors + floors.at(-1).timeouts} failed, p99 ${floors.at(-1).p99} ms)`);
    await gateway.stop();
    await upstream.stop();
  }
  const failed = rows.map((r) => r.non2xx + r.errors + r.timeouts);
  const peak = stats(rows.map((r) => r.peak)).median;
  const p99 = stats(rows.map((r) => r.p99)).median;
  const directP99 = stats(direct.map((r) => r.p99)).median;
  lines.push("## 5,000 clients waiting on a 10 s upstream", "", "5,000 connections, one request each, all at once; the upstream answers each after 10 s. The first row is the same load on the upstream itself, the second through the floor's proxy.", "",
    "| target | failed | peak RSS MB | answer p50 ms | p99 ms | max ms |", "|---|---|---|---|---|---|",
    `| upstream directly | ${triple(direct.map((r) => r.non2xx + r.errors + r.timeouts))} | – | ${triple(direct.map((r) => r.p50))} | ${triple(direct.map((r) => r.p99))} | ${triple(direct.map((r) => r.max))} |`,
    `| reference: the floor's proxy (node:http + undici, a connection per request) | ${triple(floors.map((r) => r.non2xx + r.errors + r.timeouts))} | ${triple(floors.map((r) => r.peak))} | ${triple(floors.map((r) => r.p50))} | ${triple(floors.map((r) => r.p99))} | ${triple(floors.map((r) => r.max))} |`,
    `| doubao-gateway | ${triple(failed)} | ${triple(rows.map((r) => r.peak))} | ${triple(rows.map((r) => r.p50))} | ${triple(rows.map((r) => r.p99))} | ${triple(rows.map((r) => r.max))} |`, "",
    `Targets: zero errors — ${Math.max(...failed) === 0 ? "met" : "**missed**"}; < 400 MB resident — ${fmt(peak)} MB, ${peak < 400 ? "met" : "**missed**"}; p99 ≤ the upstream's time + 1 s — ${fmt(p99)} ms: against the nominal 10 s, ${p99 <= 11_000 ? "met" : "**missed**"}; against the upstream's own p99 under the same load generator (${fmt(directP99)} ms), ${p99 <= directP99 + 1000 ? "met" : "**missed**"} (the gateway adds ${fmt(p99 - directP99)} ms at p99; the floor's proxy adds ${fmt(stats(floors.map((r) => r.p99)).median - directP99)} ms).`, "");
}

async function imageWork(lines) {
  const raw = await new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(here, "images.mjs")], { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(output)) : reject(new Error(`images.mjs exited ${code}`))));
  });
  const { input, ...operations } = raw;
  lines.push("## Image work", "", `In one process, 10 runs a round: the gateway's operation against sharp doing the bare operation on the same input (the inspection's input: a ${(input.bytes / 1048576).toFixed(1)} MB ${input.width}×${input.height} JPEG).`, "",
    "| operation | gateway ms | bare sharp ms | ratio (medians) |", "|---|---|---|---|");
  let worst = 0;
  for (const [name, { gateway, sharp: bare }] of Object.entries(operations)) {
    const ratio = stats(gateway).median / stats(bare).median;
    if (!name.startsWith("b64")) worst = Math.max(worst, ratio);
    lines.push(`| ${name} | ${triple(gateway, 2)} | ${triple(bare, 2)} | ${fmt(ratio, 2)}× |`);
  }
  lines.push("", `Target within 1.5× of bare sharp (image operations): worst ${fmt(worst, 2)}× — ${worst <= 1.5 ? "met" : "**missed**"}. The b64_json row is the answer's JSON against the bare base64 (no sharp involved; under a tenth of a millisecond either way).`, "");

  // Resident memory while images are re-hosted 8 at a time for 30 s: 2048×2048 JPEGs from the upstream.
  const imageFile = join(work, "2048.jpeg");
  writeFileSync(imageFile, await sharp(Buffer.alloc(2048 * 2048 * 3, 7).map((_, index) => (index * 2654435761) >>> 24), { raw: { width: 2048, height: 2048, channels: 3 } }).jpeg({ quality: 90 }).toBuffer());
  const upstream = await startProcess("upstream", `node ${join(here, "upstream.mjs")}`, { IMAGE_FILE: imageFile });
  const gateway = await startGateway(upstream.port, { RESULT_HOSTING: "gateway", PUBLIC_BASE_URL: "http://127.0.0.1:1" });
  const target = gatewayTarget("image memory", gateway);
  const samples = [];
  const sampler = setInterval(() => samples.push(procStatus(gateway.pid, "VmRSS")), 500);
  const result = await load({ url: target.url, method: "POST", headers: target.headers, body: target.body, connections: 8, duration: 30 });
  clearInterval(sampler);
  const peak = procStatus(gateway.pid, "VmHWM");
  const at = (second) => samples[Math.min(samples.length - 1, second * 2)];
  await gateway.stop();
  await upstream.stop();
  const lastThird = Math.max(...samples.slice(Math.floor((samples.length * 2) / 3)));
  const middleThird = Math.max(...samples.slice(Math.floor(samples.length / 3), Math.floor((samples.length * 2) / 3)));
  lines.push("### Resident memory under image work", "", `2048×2048 JPEGs (${(readFileSync(imageFile).length / 1048576).toFixed(1)} MB) re-hosted 8 at a time for 30 s: ${fmt(result.requests)} images, ${result.non2xx + result.errors} failed.`, "",
    "| RSS at 5 s | 10 s | 20 s | 30 s | peak |", "|---|---|---|---|---|", `| ${fmt(at(5))} MB | ${fmt(at(10))} MB | ${fmt(at(20))} MB | ${fmt(at(29))} MB | ${fmt(peak)} MB |`, "",
    `Target: levels off below 600 MB — peak ${fmt(peak)} MB; the last 10 s rose ${fmt(lastThird - middleThird)} MB over the 10 s before — ${peak < 600 && lastThird - middleThird < 50 ? "met" : "**missed**"}. libvips runs ${process.env.SHARP_CONCURRENCY ?? 2} threads (SHARP_CONCURRENCY) with its cache off.`, "");
}

function streamClient(options) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(here, "stream-client.mjs"), JSON.stringify(options)], { cwd: root, stdio: ["ignore", "pipe", "inherit"] });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.on("exit", (code) => (code === 0 ? resolve(JSON.parse(output)) : reject(new Error(`stream-client.mjs exited ${code}`))));
  });
}

async function streaming(lines) {
  const imageFile = join(work, "stream-1024.jpeg");
  writeFileSync(imageFile, await photoLike(1024, 1024));
  const upstream = await startProcess("upstream", `node ${join(here, "upstream.mjs")}`, { IMAGE_FILE: imageFile, EVENT_GAP_MS: "100" });
  const gateway = await startGateway(upstream.port);
  const body = JSON.stringify({
    model: "doubao-seedream-4-5-251128", prompt: "three panels", size: "2K", stream: true, response_format: "b64_json", watermark: false,
    sequential_image_generation: "auto", sequential_image_generation_options: { max_images: 3 },
  });
  const count = 20;
  const rounds = [];
  const directTarget = { url: `http://127.0.0.1:${upstream.port}/api/v3/images/generations`, headers: { "content-type": "application/json" }, body };
  const oursTarget = { url: `http://127.0.0.1:${gateway.port}/doubao/images/generations`, headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` }, body };
  // Warm-up, as every other scenario has: the gateway's first stream loads the stream code (~150 ms here), which
  // would otherwise be spread over the first round's mean as ~7 ms per event.
  await streamClient({ ...directTarget, count: 3 });
  await streamClient({ ...oursTarget, count: 3 });
  for (let index = 0; index < ROUNDS; index += 1) {
    const upstreamBefore = procStat(upstream.pid);
    const direct = await streamClient({ ...directTarget, count });
    const upstreamCpu = procStat(upstream.pid) - upstreamBefore;
    const gatewayBefore = procStat(gateway.pid);
    const ours = await streamClient({ ...oursTarget, count });
    const gatewayCpu = procStat(gateway.pid) - gatewayBefore;
    const mean = (values) => values.reduce((sum, value) => sum + value, 0) / values.length;
    const perEvent = mean(ours.flatMap((run, at) => run.events.map((arrived, event) => arrived - (direct[at]?.events[event] ?? arrived))));
    if (ours.some((run) => run.events.length !== 3)) throw new Error(`the gateway's streams did not carry 3 images: ${JSON.stringify(ours.map((run) => run.events.length))}`);
    rounds.push({ directFirstByte: mean(direct.map((run) => run.firstByte)), oursFirstByte: mean(ours.map((run) => run.firstByte)), directFirstImage: mean(direct.map((run) => run.events[0])), oursFirstImage: mean(ours.map((run) => run.events[0])), perEvent,
      directCpu: upstreamCpu / (count * 3), oursCpu: gatewayCpu / (count * 3) });
    log(`streaming round ${index + 1}: first byte ${fmt(rounds.at(-1).oursFirstByte, 1)} ms (upstream ${fmt(rounds.at(-1).directFirstByte, 1)} ms), first image ${fmt(rounds.at(-1).oursFirstImage, 1)} ms (upstream ${fmt(rounds.at(-1).directFirstImage, 1)} ms), +${fmt(perEvent, 1)} ms per image event, ${fmt(rounds.at(-1).oursCpu, 2)} ms of CPU per image event (upstream ${fmt(rounds.at(-1).directCpu, 2)} ms)`);
  }
  await gateway.stop();
  await upstream.stop();
  lines.push("## Streaming", "", `${count} streamed group requests a round, one after another: three 1024×1024 images as base64 events 100 ms apart, then the end. The gateway checks each image (its JPEG/PNG header) before it sends it on.`, "",
    "| | first byte ms | first image event ms | added per image event ms | CPU ms per image event (server process) |", "|---|---|---|---|---|",
    `| upstream directly | ${triple(rounds.map((r) => r.directFirstByte), 1)} | ${triple(rounds.map((r) => r.directFirstImage), 1)} | – | ${triple(rounds.map((r) => r.directCpu), 2)} |`,
    `| doubao-gateway | ${triple(rounds.map((r) => r.oursFirstByte), 1)} | ${triple(rounds.map((r) => r.oursFirstImage), 1)} | ${triple(rounds.map((r) => r.perEvent), 1)} | ${triple(rounds.map((r) => r.oursCpu), 2)} |`, "",
    "The gateway's first byte is its `: stream opened` comment, sent before the upstream answers. \"Added per image event\" is the mean delay of every image event against the same event straight from the upstream: it holds the request's own set-up (key, reservation, the upstream call: ~4 ms here) as well as each event's reading, check and re-encoding. The CPU column is the server process's CPU (from /proc) over the round, per image event, a third of each request's own set-up included.", "");
}

async function coldStart(lines) {
  const upstream = await startProcess("upstream", `node ${join(here, "upstream.mjs")}`, {});
  const rows = [];
  for (let index = 0; index < ROUNDS; index += 1) {
    const t0 = performance.now();
    const gateway = await startGateway(upstream.port);
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${gateway.port}/health`).then((r) => r.ok, () => false);
      if (ok) break;
      await sleep(5);
    }
    const ms = performance.now() - t0;
    await sleep(2000);
    rows.push({ ms, rss: procStatus(gateway.pid, "VmRSS") });
    log(`cold start round ${index + 1}: ${fmt(ms)} ms, idle RSS ${fmt(rows.at(-1).rss)} MB`);
    await gateway.stop();
  }
  await upstream.stop();
  const ms = stats(rows.map((r) => r.ms)).median;
  const rss = stats(rows.map((r) => r.rss)).median;
  lines.push("## Cold start and idle memory", "", "Process start (`node dist/main.js`, a real upstream configured) to the first 200 on `/health`; resident memory 2 s later.", "",
    "| cold start ms | idle RSS MB |", "|---|---|", `| ${triple(rows.map((r) => r.ms))} | ${triple(rows.map((r) => r.rss))} |`, "",
    `Targets: cold start < 1 s — ${ms < 1000 ? "met" : "**missed**"}; idle RSS < 100 MB — ${fmt(rss)} MB, ${rss < 100 ? "met" : "**missed**"}.`, "");
}

const lines = [
  "# Benchmark results", "",
  `Written by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), Node ${process.version}. All on loopback;`,
  "the load generator (autocannon) in a process of its own. Each figure is min / **median** / max of 3 rounds.", "",
];
try {
  const only = process.env.BENCH_ONLY?.split(",");
  const want = (name) => !only || only.includes(name);
  let floorRps = 0;
  if (want("pass")) ({ floorRps } = await passThrough(lines));
  if (want("rehost")) await rehosting(lines, floorRps);
  if (want("waiting")) await waiting(lines);
  if (want("images")) await imageWork(lines);
  if (want("stream")) await streaming(lines);
  if (want("cold")) await coldStart(lines);
  // The hand-written reading of the profiles (bench/NOTES.md), kept with the figures it explains.
  lines.push(readFileSync(join(here, "NOTES.md"), "utf8").trim(), "");
  // A partial run (BENCH_ONLY) never replaces the full report.
  const file = join(here, only ? `RESULTS-${only.join("-")}.md` : "RESULTS.md");
  writeFileSync(file, `${lines.join("\n")}\n`);
  log(`wrote ${file}`);
} finally {
  for (const child of started) child.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
}
