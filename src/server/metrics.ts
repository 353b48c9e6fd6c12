/**
 * `GET /metrics` (Prometheus text format, prom-client): requests by route and status with latency, upstream
 * attempts by provider and outcome, images generated and charged by model, breaker state by provider, and
 * async tasks pending (queued and running, across every instance of the database) and their durations. One registry per gateway (tests run several in one process); no key or secret is a label.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface GatewayMetrics {
  registry: Registry;
  requests: Counter<"route" | "method" | "status">;
  requestSeconds: Histogram<"route">;
  upstreamAttempts: Counter<"provider" | "outcome" | "code">;
  imagesGenerated: Counter<"provider">;
  imagesCharged: Counter<"model">;
  breakerState: Gauge<"provider">;
  tasksPending: Gauge;
  tasks: Gauge<"state">;
  /** Writes journalled while the database was away, not yet made (stores/durable.ts). */
  journalWaiting: Gauge;
  taskSeconds: Histogram<"outcome">;
}

export const BREAKER_VALUES = { closed: 0, "half-open": 1, open: 2 } as const;

export function createMetrics(options: { processMetrics?: boolean } = {}): GatewayMetrics {
  const registry = new Registry();
  if (options.processMetrics) collectDefaultMetrics({ register: registry });
  const registers = [registry];
  return {
    registry,
    requests: new Counter({ name: "gateway_http_requests_total", help: "Requests answered, by route, method and status", labelNames: ["route", "method", "status"], registers }),
    requestSeconds: new Histogram({
      name: "gateway_http_request_duration_seconds", help: "Time from request to answer, by route", labelNames: ["route"], registers,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
    }),
    upstreamAttempts: new Counter({ name: "gateway_upstream_attempts_total", help: "Upstream attempts by provider, outcome (ok, transient, provider, request) and error code", labelNames: ["provider", "outcome", "code"], registers }),
    imagesGenerated: new Counter({ name: "gateway_images_generated_total", help: "Images the upstreams returned (whether or not a client received them), by provider", labelNames: ["provider"], registers }),
    imagesCharged: new Counter({ name: "gateway_images_charged_total", help: "Images charged in the ledger, by the model asked for", labelNames: ["model"], registers }),
    breakerState: new Gauge({ name: "gateway_breaker_state", help: "Circuit breaker per provider: 0 closed, 1 half-open, 2 open", labelNames: ["provider"], registers }),
    tasksPending: new Gauge({ name: "gateway_tasks_pending", help: "Async tasks submitted and not finished (queued or running)", registers }),
    tasks: new Gauge({ name: "gateway_tasks", help: "Async tasks in the shared queue by state (queued, running), every instance's", labelNames: ["state"], registers }),
    journalWaiting: new Gauge({ name: "gateway_journal_waiting", help: "Writes this instance journalled while the database was away (settles, releases, task finishes) and has not yet made", registers }),
    taskSeconds: new Histogram({
      name: "gateway_task_duration_seconds", help: "Async tasks run here: time from claim to result, by outcome (succeeded, failed)", labelNames: ["outcome"], registers,
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    }),
  };
}
