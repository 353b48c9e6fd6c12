/**
 * The one way a client-supplied URL is fetched (CONTRACT.md §5). Every connection is made by a connector
 * that resolves the name once, refuses any non-public address, and connects to the checked address
 * itself (no second lookup for a rebinding DNS server to answer). Redirects are followed by hand and each
 * hop is checked again. Time and bytes are bounded; reading stops at the byte limit.
 */
import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import type { Agent, Dispatcher } from "undici";
import { loadUndici } from "../process/undici.js";
import { invalidParameter } from "../errors/errors.js";
import { AllowList, isPublicAddress, unmapIPv4 } from "./address-policy.js";
import { MAX_INPUT_BYTES } from "./inspect.js";

export type Resolver = (hostname: string) => Promise<string[]>;

export interface FetchPolicy {
  /** Name → addresses. Default: the system resolver (all addresses). */
  resolve?: Resolver;
  /** Where to open the socket for a checked address; tests map public test addresses to 127.0.0.1. */
  dial?: (address: string) => string;
  allow?: AllowList;
  /** Default 10 MB. */
  maxBytes?: number;
  /** Whole fetch, all redirects included. Default 15 s (FETCH_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Default 3. */
  maxRedirects?: number;
}

export interface FetchedInput {
  bytes: Buffer;
  contentType: string | undefined;
  finalUrl: string;
}

const systemResolve: Resolver = async (hostname) => (await lookup(hostname, { all: true, verbatim: true })).map((entry) => entry.address);

class BlockedAddress extends Error {
  constructor(readonly hostname: string, readonly address: string) {
    super(`${hostname} resolves to ${address}`);
  }
}
class Unresolvable extends Error {}

const agents = new WeakMap<FetchPolicy, Agent>();

async function agentFor(policy: FetchPolicy): Promise<Agent> {
  let agent = agents.get(policy);
  if (agent) return agent;
  const { Agent, buildConnector } = await loadUndici();
  agent = agents.get(policy);
  if (agent) return agent;
  const base = buildConnector({ timeout: 10_000 });
  const resolve = policy.resolve ?? systemResolve;
  const allow = policy.allow ?? new AllowList();
  agent = new Agent({
    connections: 16,
    connect: (options, callback) => {
      const hostname = options.hostname.replace(/^\[|\]$/g, "");
      void checkedAddress(hostname, resolve, allow).then(
        (address) => {
          const target = policy.dial ? policy.dial(address) : address;
          base({ ...options, hostname: target, ...(isIP(hostname) ? {} : { servername: hostname }) }, callback);
        },
        (error: Error) => callback(error, null),
      );
    },
  });
  agents.set(policy, agent);
  return agent;
}

/** Resolves and checks a host name; returns the address to connect to. */
export async function checkedAddress(hostname: string, resolve: Resolver, allow: AllowList): Promise<string> {
  const literal = isIP(hostname) ? [hostname] : undefined;
  const lower = hostname.toLowerCase();
  const trustedHost = allow.allowsHost(hostname);
  if (!literal && !trustedHost && (lower === "localhost" || lower.endsWith(".localhost"))) throw new BlockedAddress(hostname, "loopback");
  let addresses: string[];
  try {
    addresses = literal ?? (await resolve(hostname));
  } catch {
    throw new Unresolvable(hostname);
  }
  if (addresses.length === 0) throw new Unresolvable(hostname);
  if (!trustedHost) {
    for (const address of addresses) {
      if (!isPublicAddress(address) && !allow.allowsAddress(address)) throw new BlockedAddress(hostname, unmapIPv4(address));
    }
  }
  return addresses[0] as string;
}

/** Fetches a client's image URL under the policy; every failure is a 400 naming `field`. */
export const FETCH_TIMEOUT_MS = 15_000;

export async function fetchInput(url: string, field: string, policy: FetchPolicy, signal?: AbortSignal): Promise<FetchedInput> {
  const fail = (reason: string): never => {
    throw invalidParameter(field, `Invalid parameter \`${field}\`: ${reason}`);
  };
  const maxBytes = policy.maxBytes ?? MAX_INPUT_BYTES;
  const maxRedirects = policy.maxRedirects ?? 3;
  const deadline = AbortSignal.timeout(policy.timeoutMs ?? FETCH_TIMEOUT_MS);
  const combined = signal ? AbortSignal.any([signal, deadline]) : deadline;
  let current = url;
  for (let hop = 0; ; hop += 1) {
    let parsed: URL;
    try {
      parsed = new URL(current);
    } catch {
      return fail(`"${current.slice(0, 80)}" is not a valid URL.`);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") return fail(`only http and https URLs are fetched; got ${parsed.protocol.replace(":", "")}.`);
    if (parsed.username || parsed.password) return fail("URLs with credentials are not fetched.");
    let response: Dispatcher.ResponseData;
    try {
      const { request } = await loadUndici();
      response = await request(parsed, {
        method: "GET",
        dispatcher: await agentFor(policy),
        signal: combined,
        headers: { accept: "image/png,image/jpeg;q=0.9,*/*;q=0.1", "user-agent": "doubao-gateway" },
      });
    } catch (error) {
      const cause = findCause(error);
      if (cause instanceof BlockedAddress) {
        return fail(`the image URL's host ${cause.hostname} points to a ${cause.address === "loopback" ? "loopback name" : `non-public address (${cause.address})`}; the gateway only fetches public addresses.`);
      }
      if (cause instanceof Unresolvable) return fail(`the image URL's host ${cause.message || parsed.hostname} does not resolve.`);
      if (deadline.aborted) return fail(`fetching the image URL took longer than ${(policy.timeoutMs ?? FETCH_TIMEOUT_MS) / 1000} s.`);
      if (signal?.aborted) throw error;
      return fail(`the image URL could not be fetched (${describeNetworkError(error)}).`);
    }
    const { statusCode, headers, body } = response;
    if (statusCode >= 300 && statusCode < 400 && headers.location) {
      discard(body);
      if (hop >= maxRedirects) return fail(`the image URL redirected more than ${maxRedirects} times.`);
      current = new URL(String(headers.location), parsed).toString();
      continue;
    }
    if (statusCode !== 200) {
      discard(body);
      return fail(`the image URL answered HTTP ${statusCode}.`);
    }
    const declared = Number(headers["content-length"] ?? Number.NaN);
    if (declared > maxBytes) {
      discard(body);
      return fail(`the image is ${declared} bytes; the limit is ${maxBytes} bytes (10 MB).`);
    }
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const chunk of body) {
        total += (chunk as Buffer).length;
        if (total > maxBytes) {
          discard(body);
          return fail(`the image is larger than the limit of ${maxBytes} bytes (10 MB).`);
        }
        chunks.push(chunk as Buffer);
      }
    } catch (error) {
      if (error instanceof Error && "status" in error) throw error;
      if (deadline.aborted) return fail(`fetching the image URL took longer than ${(policy.timeoutMs ?? FETCH_TIMEOUT_MS) / 1000} s.`);
      if (signal?.aborted) throw error;
      return fail(`the image download broke off (${describeNetworkError(error)}).`);
    }
    const contentType = headers["content-type"];
    return { bytes: Buffer.concat(chunks, total), contentType: typeof contentType === "string" ? contentType : undefined, finalUrl: current };
  }
}

/** Drops a response body without letting its abort surface as an uncaught stream error. */
function discard(body: NodeJS.ReadableStream & { destroy(): void }): void {
  body.on("error", () => undefined);
  body.destroy();
}

function findCause(error: unknown): unknown {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth += 1) {
    if (current instanceof BlockedAddress || current instanceof Unresolvable) return current;
    current = (current as { cause?: unknown }).cause;
  }
  return error;
}

function describeNetworkError(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? code : "network error";
}

/**
 * POSTs to a client-supplied URL (a webhook) under the same address rules as `fetchInput`: the name resolved
 * once, every address public unless allowed, no redirect followed, bounded in time. The status, or the error.
 */
export async function postChecked(url: string, body: string, headers: Record<string, string>, policy: FetchPolicy): Promise<number> {
  const parsed = new URL(url);
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error(`only http and https URLs are called; got ${parsed.protocol.replace(":", "")}`);
  if (parsed.username || parsed.password) throw new Error("URLs with credentials are not called");
  const { request } = await loadUndici();
  const response = await request(url, {
    method: "POST", body, headers, dispatcher: await agentFor(policy), maxRedirections: 0,
    headersTimeout: policy.timeoutMs ?? FETCH_TIMEOUT_MS, bodyTimeout: policy.timeoutMs ?? FETCH_TIMEOUT_MS,
  } as Parameters<typeof request>[1]);
  await response.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
  return response.statusCode;
}
