// GET /metrics, parsed by a Prometheus text-format parser: the values move with the traffic sent.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import parsePrometheusTextFormat from "parse-prometheus-text-format";
import { startHarness, type Harness } from "../testing/harness.js";

let h: Harness;
before(async () => {
  h = await startHarness({}, { random: () => 0 });
});
after(() => h.close());

async function scrape() {
  const response = await h.get("/metrics", {});
  assert.equal(response.status, 200);
  assert.match(String(response.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
  const families = parsePrometheusTextFormat(response.body.toString("utf8"));
  /** The value of one sample (0 when absent); for a histogram, its observations summed over every series (this parser keeps no histogram labels). */
  return (name: string, labels: Record<string, string> = {}) => {
    const family = families.find((candidate) => candidate.name === name);
    if (family?.type === "HISTOGRAM") return family.metrics.reduce((sum, metric) => sum + Number(metric.buckets?.["+Inf"] ?? 0), 0);
    const sample = family?.metrics.find((metric) => Object.entries(labels).every(([key, value]) => metric.labels?.[key] === value));
    return Number(sample?.value ?? 0);
  };
}

test("requests, latency, upstream attempts, images generated and charged, breakers and pending tasks", async () => {
  const before = await scrape();
  const route = { route: "/doubao/images/generations", method: "POST" };
  const ok = await h.post("/doubao/images/generations", { model: "doubao-seedream-4-0-250828", prompt: "m [[images:2]]", size: "1280x720", sequential_image_generation: "auto", sequential_image_generation_options: { max_images: 2 } });
  assert.equal(ok.status, 200);
  assert.equal((await h.post("/doubao/images/generations", { model: "doubao-seedream-4-0-250828", prompt: "x", size: "1x1" })).status, 400);
  const retried = await h.post("/doubao/images/generations", { model: "doubao-seedream-4-0-250828", prompt: "busy [[fault:ark:ServerOverloaded*1]]", size: "1280x720" });
  assert.equal(retried.status, 200);
  const after = await scrape();
  assert.equal(after("gateway_http_requests_total", { ...route, status: "200" }) - before("gateway_http_requests_total", { ...route, status: "200" }), 2);
  assert.equal(after("gateway_http_requests_total", { ...route, status: "400" }) - before("gateway_http_requests_total", { ...route, status: "400" }), 1);
  assert.equal(after("gateway_http_request_duration_seconds") - before("gateway_http_request_duration_seconds"), 3);
  assert.equal(after("gateway_upstream_attempts_total", { provider: "ark", outcome: "ok" }) - before("gateway_upstream_attempts_total", { provider: "ark", outcome: "ok" }), 2);
  assert.equal(after("gateway_upstream_attempts_total", { provider: "ark", outcome: "transient", code: "ServerOverloaded" }), 1);
  assert.equal(after("gateway_images_generated_total", { provider: "ark" }) - before("gateway_images_generated_total", { provider: "ark" }), 3);
  assert.equal(after("gateway_images_charged_total", { model: "doubao-seedream-4-0-250828" }) - before("gateway_images_charged_total", { model: "doubao-seedream-4-0-250828" }), 3);
  assert.equal(after("gateway_breaker_state", { provider: "ark" }), 0);
  assert.equal(after("gateway_tasks_pending"), 0);
  assert.equal(after("gateway_journal_waiting"), 0, "no write waits for the database");
});

test("the task queue's depth by state while a task runs, and the task's duration once it is done", async () => {
  const before = await scrape();
  const submitted = await h.post("/doubao/drawing?async=true", { prompt: "slow [[fault:slow:600]]", width: 256, height: 256, use_sr: false, return_url: false });
  assert.equal(submitted.status, 202);
  await new Promise((resolve) => setTimeout(resolve, 200));
  const during = await scrape();
  assert.deepEqual([during("gateway_tasks", { state: "running" }), during("gateway_tasks", { state: "queued" }), during("gateway_tasks_pending")], [1, 0, 1]);
  for (let poll = 0; poll < 200; poll += 1) {
    if ((await h.get(`/v1/tasks/${submitted.json.task_id}`)).json().status === "succeeded") break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const after = await scrape();
  assert.deepEqual([after("gateway_tasks", { state: "running" }), after("gateway_tasks_pending")], [0, 0]);
  assert.equal(after("gateway_task_duration_seconds") - before("gateway_task_duration_seconds"), 1);
});
