/**
 * Signed callbacks when an async task finishes (Standard Webhooks): a POST of
 * `{"type": "task.completed", "timestamp", "data": {task_id, status_code, content_type, data}}` with the headers
 * `webhook-id` (the same on every try), `webhook-timestamp` (unix seconds) and `webhook-signature`
 * (`v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, keyed with the API key's `whsec_` secret). Sent through
 * the SSRF-safe client (public addresses only unless GATEWAY_FETCH_ALLOW trusts one), no redirect followed; a
 * non-2xx answer or a failure is tried again after each delay of `delaysMs`. Deliveries wait in memory: one
 * pending when the process stops is not sent (the result stays at /async_result).
 */
import { createHmac } from "node:crypto";
import { postChecked, type FetchPolicy } from "../images/fetch-input.js";
import type { TaskResult } from "./tasks.js";

export const DEFAULT_WEBHOOK_DELAYS_MS: readonly number[] = [1_000, 5_000, 30_000, 120_000, 600_000];

/** `v1,<signature>` for a Standard Webhooks message. */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")}`;
}

export interface WebhookLogger {
  warn(object: Record<string, unknown>, message: string): void;
}

export interface WebhookSender {
  /** Sends the task's result to `url`, trying again on failure; resolves with the attempts made and whether one was accepted. */
  taskCompleted(url: string, secret: string, taskId: string, result: TaskResult): Promise<{ attempts: number; delivered: boolean }>;
}

export function createWebhookSender(options: { policy: FetchPolicy; delaysMs?: readonly number[]; now?: () => number; log?: WebhookLogger }): WebhookSender {
  const delays = options.delaysMs ?? DEFAULT_WEBHOOK_DELAYS_MS;
  const now = options.now ?? Date.now;
  return {
    async taskCompleted(url, secret, taskId, result) {
      const id = `msg_${taskId}`;
      const body = JSON.stringify({
        type: "task.completed", timestamp: new Date(now()).toISOString(),
        data: { task_id: taskId, status_code: result.statusCode, content_type: result.contentType, data: result.data },
      });
      for (let attempt = 1; ; attempt += 1) {
        const timestamp = Math.floor(now() / 1000);
        const headers = { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signWebhook(secret, id, timestamp, body) };
        let failure: string;
        try {
          const status = await postChecked(url, body, headers, options.policy);
          if (status >= 200 && status < 300) return { attempts: attempt, delivered: true };
          failure = `HTTP ${status}`;
        } catch (error) {
          failure = (error as Error).message;
        }
        const delay = delays[attempt - 1];
        options.log?.warn({ taskId, attempt, failure, ...(delay !== undefined ? { retryInMs: delay } : { gaveUp: true }) }, "webhook delivery failed");
        if (delay === undefined) return { attempts: attempt, delivered: false };
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
      }
    },
  };
}
