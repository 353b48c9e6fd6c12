/**
 * The client: one object with a method per endpoint of the contract. Works against doubao-gateway and
 * against api.302.ai unchanged (same paths, Bearer key). Retries 408/409/429/5xx and connection failures
 * with backoff (0.5 s → 8 s, jittered), never sooner than `Retry-After`; never a 4xx refusal.
 */
import { createParser } from "eventsource-parser";
import type { z } from "zod";
import { ConnectionError, DoubaoError, errorFromResponse, TimeoutError } from "./errors.js";
import type {
  drawingRequest, general3Request, keySettings, portraitRequest, seededitRequest, seededitRequestV1, seedream4EditsForm, seedream4Request, seedream4RequestV1,
  seedreamRequest, seedreamRequestV1, usageQuery,
} from "./schemas.js";
import type {
  ArkStreamEvent, DrawingResponse, ImagesResponse, KeyCreated, KeyView, ModelList, ModelObject, OpenAIStreamEvent, PortraitResponse, Readiness,
  RecentRequests, UpstreamAccountView, TaskResult, TaskObject, TaskSubmitted, UsageReport,
} from "./types.js";

/** `images.generate`'s body: any image model's request (types from the gateway's own schemas). */
export type ImageGenerateParams =
  | z.input<typeof seedream4Request> | z.input<typeof seedreamRequest> | z.input<typeof seededitRequest>
  | z.input<typeof seedream4RequestV1> | z.input<typeof seedreamRequestV1> | z.input<typeof seededitRequestV1>;
/** `/doubao/drawing`: a v2.x model's fields, or general 3.0's (`model_version: "general_v3.0"`). */
export type DrawingParams = z.input<typeof drawingRequest> | z.input<typeof general3Request>;
export type PortraitParams = z.input<typeof portraitRequest>;
export type KeySettingsParams = z.input<typeof keySettings>;
export type UsageParams = Omit<z.input<typeof usageQuery>, "format">;

/** A file for `images.edit`: bytes or a Blob/File (in Node, `readFile` from `@doubao-gateway/sdk/node`). */
export type Uploadable = Blob | Uint8Array | ArrayBuffer;

export type ImageEditParams = Omit<z.input<typeof seedream4EditsForm>, "n" | "watermark"> & {
  /** One image, or several for a 4.x/5.x model (its reference images). */
  image: Uploadable | Uploadable[];
  /** Default: SeedEdit 3.0 (served by its replacement when retired). */
  model?: string;
  n?: number;
  watermark?: boolean;
  seed?: number;
  guidance_scale?: number;
};

/** The JSON endpoints that take `?async=true`. */
export type TaskEndpoint = "/doubao/images/generations" | "/v1/images/generations" | "/doubao/drawing" | "/doubao/drawing/portrait";

export interface ClientOptions {
  /** The gateway's origin, e.g. `http://127.0.0.1:8302`, or `https://api.302.ai`. */
  baseUrl: string;
  apiKey: string;
  /** Per attempt, in ms; default 120 000 (image models take tens of seconds). */
  timeoutMs?: number;
  /** Retries after the first attempt; default 2. */
  maxRetries?: number;
  /** Default: the global `fetch`. */
  fetch?: typeof fetch;
  /** Headers sent with every request. */
  headers?: Record<string, string>;
  /** [0, 1): the jitter source (tests). */
  random?: () => number;
  /** Waits between attempts (tests inject one that does not sleep). */
  sleep?: (ms: number) => Promise<void>;
}

export interface RequestOptions {
  signal?: AbortSignal;
  /** Overrides the client's per-attempt timeout. */
  timeoutMs?: number;
}

export interface WaitOptions extends RequestOptions {
  /** Between polls, in ms; default 1000. */
  intervalMs?: number;
  /** Gives up after this long, in ms; default 600 000. */
  maxWaitMs?: number;
  /** Called after every poll that found the task still pending. */
  onProgress?: (progress: { taskId: string; elapsedMs: number; polls: number }) => void;
}

const RETRIED = (status: number) => status === 408 || status === 409 || status === 429 || status >= 500;
const MAX_RETRY_AFTER_S = 60;

interface Call {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  path: string;
  query?: Record<string, string | number | boolean | undefined> | undefined;
  json?: unknown;
  form?: FormData;
  accept?: string;
  /** Statuses besides 2xx whose body is the answer (`/ready`'s 503), neither thrown nor retried. */
  answers?: readonly number[];
}

export class DoubaoClient {
  readonly baseUrl: string;
  private readonly apiKey: string;
  private readonly timeoutMs: number;
  private readonly maxRetries: number;
  private readonly fetchFunction: typeof fetch;
  private readonly headers: Record<string, string>;
  private readonly random: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(options: ClientOptions) {
    if (!options.baseUrl) throw new DoubaoError("baseUrl is required, e.g. http://127.0.0.1:8302");
    if (!options.apiKey) throw new DoubaoError("apiKey is required (the gateway's key, or your 302.AI key)");
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.apiKey = options.apiKey;
    this.timeoutMs = options.timeoutMs ?? 120_000;
    this.maxRetries = options.maxRetries ?? 2;
    this.fetchFunction = options.fetch ?? ((...args) => globalThis.fetch(...args));
    this.headers = options.headers ?? {};
    this.random = options.random ?? Math.random;
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  readonly images = {
    /** Seedream 4.x/5.x, 3.0 or SeedEdit: `/doubao/images/generations`, or `/v1/images/generations` when `n` is given. */
    generate: (params: ImageGenerateParams, options?: RequestOptions): Promise<ImagesResponse> =>
      this.json({ method: "POST", path: "n" in params && params.n !== undefined ? "/v1/images/generations" : "/doubao/images/generations", json: { ...params, stream: undefined } }, options),
    /** `stream: true`: Ark's events, one per image as it is made (4.0, 4.5, 5.0). */
    generateStream: (params: Exclude<ImageGenerateParams, { n?: unknown }> | z.input<typeof seedream4Request>, options?: RequestOptions): AsyncIterable<ArkStreamEvent> =>
      this.events<ArkStreamEvent>({ method: "POST", path: "/doubao/images/generations", json: { ...params, stream: true } }, options),
    /** The same on `/v1`, in OpenAI's event shape (`image_generation.completed` with `b64_json` per image). */
    generateStreamOpenAI: (params: z.input<typeof seedream4RequestV1>, options?: RequestOptions): AsyncIterable<OpenAIStreamEvent> =>
      this.events<OpenAIStreamEvent>({ method: "POST", path: "/v1/images/generations", json: { ...params, stream: true } }, options),
    /** `/v1/images/edits` (multipart), as the openai SDK sends it. */
    edit: (params: ImageEditParams, options?: RequestOptions): Promise<ImagesResponse> => {
      const form = new FormData();
      const images = Array.isArray(params.image) ? params.image : [params.image];
      images.forEach((image, index) => form.append(images.length > 1 ? "image[]" : "image", toBlob(image), `image-${index}`));
      for (const [name, value] of Object.entries(params)) {
        if (name !== "image" && value !== undefined && value !== null) form.append(name, String(value));
      }
      return this.json({ method: "POST", path: "/v1/images/edits", form }, options);
    },
  };

  readonly drawing = {
    /** `/doubao/drawing`: general_v2.x. */
    create: (params: DrawingParams, options?: RequestOptions): Promise<DrawingResponse> => this.json({ method: "POST", path: "/doubao/drawing", json: params }, options),
  };

  readonly portrait = {
    /** `/doubao/drawing/portrait`; `responseFormat` is the query's `response_format`. */
    create: (params: PortraitParams, options?: RequestOptions & { responseFormat?: "url" | "b64_json" }): Promise<PortraitResponse> =>
      this.json({ method: "POST", path: "/doubao/drawing/portrait", query: { response_format: options?.responseFormat }, json: params }, options),
  };

  readonly tasks = {
    /** Sends a request with `?async=true`: the task id at once. */
    submit: (endpoint: TaskEndpoint, body: ImageGenerateParams | DrawingParams | PortraitParams, options?: RequestOptions): Promise<TaskSubmitted> =>
      this.json({ method: "POST", path: endpoint, query: { async: true }, json: body }, options),
    /** `GET /v1/tasks/{id}`: state (queued, running, succeeded, failed), timestamps and the answer. */
    retrieve: (taskId: string, options?: RequestOptions): Promise<TaskObject> => this.json({ method: "GET", path: `/v1/tasks/${encodeURIComponent(taskId)}` }, options),
    /** `GET /async_result?task_id=`. */
    get: (taskId: string, options?: RequestOptions): Promise<TaskResult> => this.json({ method: "GET", path: "/async_result", query: { task_id: taskId } }, options),
    /** Polls until the task is done; its answer, or its error thrown as the synchronous call would have. */
    wait: async <T = unknown>(taskId: string, options: WaitOptions = {}): Promise<T> => {
      const started = Date.now();
      for (let polls = 1; ; polls += 1) {
        const result = await this.tasks.get(taskId, options);
        if (result.status_code !== 202 && "data" in result) {
          const body = parseMaybeJson(result.data);
          if (result.status_code >= 400) throw errorFromResponse(result.status_code, body, new Headers());
          return body as T;
        }
        const elapsedMs = Date.now() - started;
        options.onProgress?.({ taskId, elapsedMs, polls });
        if (elapsedMs >= (options.maxWaitMs ?? 600_000)) throw new TimeoutError(`task ${taskId} was still pending after ${Math.round(elapsedMs / 1000)} s`);
        if (options.signal?.aborted) throw options.signal.reason;
        await this.sleep(options.intervalMs ?? 1000);
      }
    },
  };

  readonly models = {
    list: (options?: RequestOptions): Promise<ModelList> => this.json({ method: "GET", path: "/v1/models" }, options),
    retrieve: (id: string, options?: RequestOptions): Promise<ModelObject> => this.json({ method: "GET", path: `/v1/models/${encodeURIComponent(id)}` }, options),
  };

  readonly usage = {
    /** The calling key's own usage. */
    get: (query: UsageParams = {}, options?: RequestOptions): Promise<UsageReport> => this.json({ method: "GET", path: "/v1/usage", query }, options),
  };

  readonly health = {
    /** `GET /ready`: providers with their breakers, and the gateway's parts; a 503 (not ready) is answered, not thrown. */
    ready: (options?: RequestOptions): Promise<Readiness> => this.json({ method: "GET", path: "/ready", answers: [503] }, options),
  };

  readonly admin = {
    /** The newest requests in the ledger (admin keys only): status, provider, latency and cost of each. */
    requests: (query: { limit?: number; key?: string } = {}, options?: RequestOptions): Promise<RecentRequests> =>
      this.json({ method: "GET", path: "/admin/requests", query }, options),
    keys: {
      create: (settings: KeySettingsParams & { name: string }, options?: RequestOptions): Promise<KeyCreated> => this.json({ method: "POST", path: "/admin/keys", json: settings }, options),
      list: async (options?: RequestOptions): Promise<KeyView[]> => (await this.json<{ data: KeyView[] }>({ method: "GET", path: "/admin/keys" }, options)).data,
      /** By id, a unique start of the id or prefix, or the unique name. */
      get: (reference: string, options?: RequestOptions): Promise<KeyView> => this.json({ method: "GET", path: `/admin/keys/${encodeURIComponent(reference)}` }, options),
      update: (reference: string, settings: KeySettingsParams, options?: RequestOptions): Promise<KeyView> =>
        this.json({ method: "PATCH", path: `/admin/keys/${encodeURIComponent(reference)}`, json: settings }, options),
      disable: (reference: string, options?: RequestOptions): Promise<KeyView> => this.json({ method: "POST", path: `/admin/keys/${encodeURIComponent(reference)}/disable` }, options),
      enable: (reference: string, options?: RequestOptions): Promise<KeyView> => this.json({ method: "POST", path: `/admin/keys/${encodeURIComponent(reference)}/enable` }, options),
      delete: (reference: string, options?: RequestOptions): Promise<{ id: string; deleted: true }> =>
        this.json({ method: "DELETE", path: `/admin/keys/${encodeURIComponent(reference)}` }, options),
    },
    /** The upstream accounts: state, breaker, limits and their use, last failure; each switched off or on for every gateway. */
    upstreams: {
      list: async (options?: RequestOptions): Promise<UpstreamAccountView[]> => (await this.json<{ data: UpstreamAccountView[] }>({ method: "GET", path: "/admin/upstreams" }, options)).data,
      disable: (id: string, options?: RequestOptions): Promise<UpstreamAccountView> => this.json({ method: "POST", path: `/admin/upstreams/${encodeURIComponent(id)}/disable` }, options),
      enable: (id: string, options?: RequestOptions): Promise<UpstreamAccountView> => this.json({ method: "POST", path: `/admin/upstreams/${encodeURIComponent(id)}/enable` }, options),
    },
    /** Usage of every key (admin keys only). */
    usage: (query: UsageParams & { key?: string } = {}, options?: RequestOptions): Promise<UsageReport> => this.json({ method: "GET", path: "/admin/usage", query }, options),
  };

  /** One request with the retry policy; the parsed JSON of a 2xx. */
  async json<T>(call: Call, options: RequestOptions = {}): Promise<T> {
    const response = await this.send(call, options);
    const text = await response.text();
    return (text ? parseMaybeJson(text) : undefined) as T;
  }

  /** A streamed request: retried until the answer's headers arrive, then its events. */
  async *events<T>(call: Call, options: RequestOptions = {}): AsyncGenerator<T> {
    const response = await this.send({ ...call, accept: "text/event-stream" }, options, true);
    if (!response.body) return;
    const queue: T[] = [];
    let done = false;
    let failure: DoubaoError | undefined;
    const parser = createParser({
      onEvent: (message) => {
        if (message.data.trim() === "[DONE]") {
          done = true;
          return;
        }
        const data = parseMaybeJson(message.data) as Record<string, unknown>;
        if (message.event === "error" || (data && typeof data === "object" && "error" in data && data.type === "error")) {
          failure = errorFromResponse(502, data, response.headers);
          return;
        }
        queue.push(data as T);
      },
    });
    const reader = response.body.getReader();
    const decoder = new TextDecoder();
    try {
      while (!done && !failure) {
        const chunk = await reader.read().catch((error: unknown) => {
          throw new ConnectionError(`the stream was cut: ${(error as Error).message}`);
        });
        if (chunk.done) break;
        parser.feed(decoder.decode(chunk.value, { stream: true }));
        while (queue.length > 0) yield queue.shift() as T;
      }
      while (queue.length > 0) yield queue.shift() as T;
      if (failure) throw failure;
    } finally {
      await reader.cancel().catch(() => undefined);
    }
  }

  private url(call: Call): string {
    const url = new URL(`${this.baseUrl}${call.path}`);
    for (const [name, value] of Object.entries(call.query ?? {})) if (value !== undefined) url.searchParams.set(name, String(value));
    return url.toString();
  }

  /** Sends with retries; returns a 2xx response, throws the error of anything else. `stream`: the timeout covers only the wait for headers. */
  private async send(call: Call, options: RequestOptions, stream = false): Promise<Response> {
    const headers: Record<string, string> = { ...this.headers, authorization: `Bearer ${this.apiKey}`, accept: call.accept ?? "application/json" };
    let body: string | FormData | undefined;
    if (call.json !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(call.json);
    } else if (call.form) {
      body = call.form;
    }
    const timeoutMs = options.timeoutMs ?? this.timeoutMs;
    for (let attempt = 0; ; attempt += 1) {
      const controller = new AbortController();
      const onAbort = () => controller.abort(options.signal?.reason);
      options.signal?.addEventListener("abort", onAbort, { once: true });
      const timer = setTimeout(() => controller.abort(new TimeoutError(`no answer within ${timeoutMs} ms`)), timeoutMs);
      let failure: DoubaoError;
      try {
        const response = await this.fetchFunction(this.url(call), { method: call.method, headers, ...(body !== undefined ? { body } : {}), signal: controller.signal });
        if (response.ok || call.answers?.includes(response.status)) {
          if (!stream) {
            // The body is read under the same timeout: buffer it now.
            const text = await response.text();
            return new Response(text, { status: response.status, headers: response.headers });
          }
          return response;
        }
        const text = await response.text();
        failure = errorFromResponse(response.status, parseMaybeJson(text), response.headers);
        if (!RETRIED(response.status)) throw failure;
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason ?? error;
        if (error instanceof DoubaoError && !(error instanceof TimeoutError) && !(error instanceof ConnectionError)) {
          if (!RETRIED(error.status ?? 0)) throw error;
          failure = error;
        } else if (controller.signal.reason instanceof TimeoutError) {
          failure = controller.signal.reason;
        } else {
          failure = new ConnectionError(`could not reach ${this.baseUrl}: ${connectionCause(error)}`);
        }
      } finally {
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
      }
      if (attempt >= this.maxRetries) throw failure;
      await this.sleep(this.delay(attempt + 1, failure.retryAfter));
    }
  }

  /** Before retry `n`: `Retry-After` when the server said (up to 60 s), else 0.5 s × 2^(n−1) up to 8 s, jittered to 75–100 %. */
  delay(retry: number, retryAfterSeconds: number | undefined): number {
    if (retryAfterSeconds !== undefined && retryAfterSeconds <= MAX_RETRY_AFTER_S) return Math.round(retryAfterSeconds * 1000);
    const full = Math.min(8000, 500 * 2 ** (retry - 1));
    return Math.round(full * (0.75 + 0.25 * this.random()));
  }
}

function toBlob(value: Uploadable): Blob {
  if (value instanceof Blob) return value;
  const bytes = value instanceof ArrayBuffer ? new Uint8Array(value) : value;
  return new Blob([bytes as Uint8Array<ArrayBuffer>]);
}

function parseMaybeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function connectionCause(error: unknown): string {
  const cause = (error as { cause?: { code?: unknown; message?: unknown } } | undefined)?.cause;
  if (typeof cause?.code === "string") return cause.code;
  if (typeof cause?.message === "string") return cause.message;
  return (error as Error | undefined)?.message ?? String(error);
}
