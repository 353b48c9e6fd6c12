/**
 * Signed callbacks when an async task finishes (Standard Webhooks): a POST of
 * `{"type": "task.completed", "timestamp", "data": {task_id, status_code, content_type, data}}` with the headers
 * `webhook-id` (the same on every try), `webhook-timestamp` (unix seconds) and `webhook-signature`
 * (`v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`, keyed with the API key's `whsec_` secret). Sent through
 * the SSRF-safe client (public addresses only unless GATEWAY_FETCH_ALLOW trusts one), no redirect followed. Which
 * message is due, and its retries, live in the database (tasks/outbox.ts), so any gateway sends it.
 */
import { createHmac } from "node:crypto";
import { postChecked, type FetchPolicy } from "../images/fetch-input.js";
import type { TaskResult } from "./tasks.js";

/** `v1,<signature>` for a Standard Webhooks message. */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  return `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")}`;
}

export interface WebhookSender {
  /** One delivery attempt of a signed message; resolves to whether the receiver accepted it (2xx), and why not. */
  send(url: string, secret: string, id: string, body: string): Promise<{ delivered: boolean; failure?: string }>;
}

/** The message of a finished task, as stored in the outbox (tasks/outbox.ts) and sent on every try. */
export function taskCompletedBody(taskId: string, result: TaskResult, now: number): string {
  return JSON.stringify({
    type: "task.completed", timestamp: new Date(now).toISOString(),
    data: { task_id: taskId, status_code: result.statusCode, content_type: result.contentType, data: result.data },
  });
}

/** The `webhook-id` of a task's message: the same on every try and from every gateway, so a receiver can drop repeats. */
export const webhookIdOf = (taskId: string) => `msg_${taskId}`;

export function createWebhookSender(options: { policy: FetchPolicy; now?: () => number }): WebhookSender {
  const now = options.now ?? Date.now;
  return {
    async send(url, secret, id, body) {
      const timestamp = Math.floor(now() / 1000);
      const headers = { "content-type": "application/json", "webhook-id": id, "webhook-timestamp": String(timestamp), "webhook-signature": signWebhook(secret, id, timestamp, body) };
      try {
        const status = await postChecked(url, body, headers, options.policy);
        return status >= 200 && status < 300 ? { delivered: true } : { delivered: false, failure: `HTTP ${status}` };
      } catch (error) {
        return { delivered: false, failure: (error as Error).message };
      }
    },
  };
}
