/**
 * The app's one way to the gateway: the SDK's client, on the gateway that served this page. The base URL is the
 * folder of the page (`https://host/prefix/` → `https://host/prefix`), so the app works behind a path prefix.
 */
import { ConnectionError, DoubaoClient, DoubaoError, TimeoutError } from "@doubao-gateway/sdk";
import { lang, t, type MessageKey } from "./i18n.js";
import { signal } from "./state.js";

export const baseUrl = (): string => new URL(".", location.href).href.replace(/\/+$/, "");

const KEY_STORAGE = "dg.key";
export const apiKey = signal<string>(sessionStorage.getItem(KEY_STORAGE) ?? "");

export function setApiKey(key: string): void {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
  apiKey.set(key);
}

/** A client for the current key; image calls may take minutes, so one attempt waits up to 5 minutes. */
export function client(): DoubaoClient {
  return new DoubaoClient({ baseUrl: baseUrl(), apiKey: apiKey.get() || "none", timeoutMs: 300_000, maxRetries: 1 });
}

/** The key's visible prefix (`dg_abcd…`), never the whole secret. */
export const keyPrefix = (key: string): string => `${key.slice(0, 8)}…`;

export interface ShownError {
  text: string;
  /** The HTTP status, when the gateway answered. */
  status?: number;
  requestId?: string;
  field?: string;
}

/** The statuses with words of their own (i18n `error.<status>`); other 4xx read as a refusal, 5xx as an upstream failure. */
const WORDED = [400, 401, 403, 404, 410, 413, 429];

/** An error as the user reads it: what happened, in their language, with the gateway's own message. */
export function describeError(error: unknown): ShownError {
  if (error instanceof TimeoutError) return { text: t("error.timeout", { message: error.message }) };
  if (error instanceof ConnectionError) return { text: t("error.connection", { message: error.message }) };
  if (error instanceof DoubaoError) {
    const message = (lang.get() === "zh" && error.messageCn) || error.message;
    const status = error.status ?? 0;
    const key: MessageKey = status >= 500 ? "error.5xx" : WORDED.includes(status) ? (`error.${status}` as MessageKey) : "error.400";
    return { text: t(key, { message }), ...(error.status ? { status: error.status } : {}), ...(error.requestId ? { requestId: error.requestId } : {}), ...(error.param ? { field: error.param } : {}) };
  }
  if (error instanceof DOMException && error.name === "AbortError") return { text: t("error.timeout", { message: error.message }) };
  return { text: t("error.connection", { message: error instanceof Error ? error.message : String(error) }) };
}
