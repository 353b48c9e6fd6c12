/**
 * The Volcengine emulator: a standalone HTTP server speaking Ark Images (`POST /api/v3/images/generations`,
 * Bearer key) and Visual (`POST /?Action=CVProcess&Version=2022-08-31`, HMAC-SHA256 checked against the
 * configured AK/SK) and, when given a 302.AI key, the 302.AI relay (`/doubao/images/generations`,
 * `/v1/images/generations`, `/doubao/drawing`, `/doubao/drawing/portrait`, Bearer key). It validates the
 * way the real services do and answers with their bodies, so an adapter bug shows up as an error. Its
 * images are real JPEGs, deterministic for (prompt, seed, size). It fails on request (emulator/faults.ts).
 */
import { randomBytes, randomInt, timingSafeEqual } from "node:crypto";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { dropNulls } from "../api/nulls.js";
import { adaptiveSize } from "../images/adaptive-size.js";
import { AllowList } from "../images/address-policy.js";
import { fetchInput } from "../images/fetch-input.js";
import { sniffFormat } from "../images/inspect.js";
import { ARK_MARK, drawMark, MARK_TEXT, type MarkPosition } from "../images/watermark.js";
import { parseAuthorization, sha256Hex, sign } from "../providers/visual/sign.js";
import { newRequestId } from "../process/request-id.js";
import {
  ARK_ERRORS, FaultBook, FaultSpecError, parseFaultSpec, RELAY_302_ERRORS, VISUAL_BUSINESS_ERRORS, VISUAL_GATEWAY_ERRORS,
  type EmulatedApi, type Fault,
} from "./faults.js";
import { renderFromImage, renderPicture } from "./render.js";
import { INTERNAL_ERROR, MODERATION_ERROR, outcomeOf, planSeedream4, renderSeedream4, SEEDREAM_4_VERSIONS, Seedream4Refusal, seedream4Usage, type Seedream4Plan } from "./seedream4.js";
import sharp from "sharp";
import { GENERAL_3_MODEL, GENERAL_3_REQ_KEY } from "../api/models.js";
import { AsyncFailure, createVisualTasks, DEFAULT_ASYNC_TIMING, type AsyncTiming } from "./visual-async.js";

export interface EmulatorOptions {
  /** The Bearer key Ark requests must carry. */
  arkApiKey: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** The Bearer key 302.AI relay requests must carry; without it the relay routes are not served. */
  api302Key?: string;
  /** Models answered as Ark answers a retired one (404 "does not exist"), e.g. Seedream 3.0 after May 2026. */
  retiredModels?: readonly string[];
  /** Models the account has not activated: 404 `ModelNotOpen`, as Ark answers them. */
  inactiveModels?: readonly string[];
  /**
   * More Ark accounts beside `arkApiKey`'s (named `default`), each with a key of its own: a BytePlus ModelArk account
   * (`byteplus`) knows its models only by BytePlus ids and answers a Volcengine id 404; `endpoints` are its custom
   * inference endpoints (`ep-…` → the model each serves), any other `ep-` id a 404; `imagesPerMinute` caps the images
   * asked of it in any 60 s (a group's `max_images` counts whole), past which it answers 429
   * `ModelAccountIpmRateLimitExceeded` with `Retry-After`, as Ark does.
   */
  arkAccounts?: ReadonlyArray<{ name: string; apiKey: string; byteplus?: boolean; endpoints?: Readonly<Record<string, string>>; imagesPerMinute?: number }>;
  /** Allowed clock skew for `X-Date`, default 900 s (Volcengine's). */
  maxSkewSeconds?: number;
  /** How the asynchronous models' tasks pass through in_queue and generating, and how long one is kept (visual-async.ts). */
  asyncTiming?: Partial<AsyncTiming>;
  now?: () => Date;
  logger?: boolean;
}

export interface EmulatorStats {
  /** Images the emulator generated and returned, all endpoints. */
  imagesGenerated: number;
  requests: number;
  /** Requests per emulated API. */
  byApi: Record<EmulatedApi, number>;
  /** Requests whose client went away before the answer was sent. */
  aborted: number;
  /** Faults produced, by marker or by queue. */
  faultsInjected: number;
  /** Streamed answers whose headers were sent (each only once its first image was done). */
  streamsOpened: number;
  /** Reference images received by the Seedream 4.x/5.x models. */
  referenceImages: number;
  /** Ark requests per account (`default` for `arkApiKey`), and the model ids each was sent. */
  arkAccounts: Record<string, { requests: number; models: Record<string, number> }>;
  /** The asynchronous models' submits and result queries (`CVSync2AsyncSubmitTask`, `CVSync2AsyncGetResult`). */
  visualTasks: { submitted: number; queries: number };
}

export interface Emulator {
  app: FastifyInstance;
  stats: EmulatorStats;
  /** The base URL once listening. */
  base: string | undefined;
  /** Listens and returns the base URL, e.g. http://127.0.0.1:40123. */
  listen(port: number, host?: string): Promise<string>;
  close(): Promise<void>;
}

const ARK_MODELS = new Set(["doubao-seedream-3-0-t2i-250415", "doubao-seededit-3-0-i2i-250628"]);
const SEEDREAM = "doubao-seedream-3-0-t2i-250415";
const T2I_KEYS: Record<string, { maxSide: number; version: string }> = {
  high_aes_general_v21_L: { maxSide: 768, version: "general_v2.1_L" },
  high_aes_general_v20_L: { maxSide: 768, version: "general_v2.0_L" },
  high_aes_general_v20: { maxSide: 680, version: "general_v2.0" },
};
const MAX_RESULTS = 256;

class ArkFailure extends Error {
  constructor(readonly status: number, readonly code: string, message: string, readonly param = "") {
    super(message);
  }
}
class VisualFailure extends Error {
  constructor(readonly status: number, readonly code: number, message: string) {
    super(message);
  }
}

/** A JSON object body, or undefined for anything else. */
function parseJson(raw: Buffer | undefined): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(raw?.toString("utf8") ?? "");
    return value && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

const isInteger = (value: unknown): value is number => typeof value === "number" && Number.isInteger(value);
const isNumber = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value);

export function createEmulator(options: EmulatorOptions): Emulator {
  // A test double: closing it cuts every connection, idle or not (a slow fault may still hold one).
  const app = Fastify({ logger: options.logger ?? false, bodyLimit: 32 * 1024 * 1024, forceCloseConnections: true });
  const stats: EmulatorStats = { imagesGenerated: 0, requests: 0, byApi: { ark: 0, visual: 0, "302": 0 }, aborted: 0, faultsInjected: 0, streamsOpened: 0, referenceImages: 0, arkAccounts: {}, visualTasks: { submitted: 0, queries: 0 } };
  const arkAccounts: NonNullable<EmulatorOptions["arkAccounts"]> = [{ name: "default", apiKey: options.arkApiKey }, ...(options.arkAccounts ?? [])];
  // Per account, when each image asked of it in the last minute was asked (its images-per-minute window).
  const asked = new Map<string, number[]>();
  /** The Ark account whose key a request carries (compared in constant time), if any. */
  const arkAccountOf = (authorization: string) => {
    const given = Buffer.from(authorization);
    return arkAccounts.find((account) => {
      const expected = Buffer.from(`Bearer ${account.apiKey}`);
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
  };
  const retired = new Set(options.retiredModels ?? []);
  const inactive = new Set(options.inactiveModels ?? []);
  const faults = new FaultBook();
  /** Requests the emulator itself dropped: not counted as aborted by their client. */
  const dropped = new WeakSet<object>();
  const results = new Map<string, Buffer>();
  const now = options.now ?? (() => new Date());
  const fetchPolicy = { allow: new AllowList(["localhost", "127.0.0.0/8", "::1"]) };

  app.addHook("onRequest", async (request, reply) => {
    reply.raw.on("close", () => {
      if (!reply.raw.writableFinished && !dropped.has(request.raw)) stats.aborted += 1;
    });
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));

  const host = (request: FastifyRequest) => `http://${request.headers.host ?? "127.0.0.1"}`;
  /** Stores a result for `/results/:name`; an `expired-url` fault hands out a name that is already gone. */
  const keep = (bytes: Buffer, suffix: string, expired = false, format: "jpeg" | "png" = "jpeg"): string => {
    const name = `${randomBytes(16).toString("hex")}${suffix}.${format}`;
    if (expired) return name;
    results.set(name, bytes);
    if (results.size > MAX_RESULTS) results.delete(results.keys().next().value as string);
    return name;
  };

  async function loadImage(value: string, fail: (message: string) => never): Promise<Buffer> {
    if (value.startsWith("data:")) {
      const match = /^data:image\/([a-z]+);base64,(.*)$/s.exec(value);
      if (!match) return fail("image data URL must be data:image/<lower-case format>;base64,<data>");
      return Buffer.from(match[2] ?? "", "base64");
    }
    if (/^https?:\/\//i.test(value)) {
      try {
        return (await fetchInput(value, "image", fetchPolicy)).bytes;
      } catch {
        return fail("image url could not be downloaded");
      }
    }
    return fail("image must be a URL or a base64 data URL");
  }

  async function checkedImage(
    bytes: Buffer,
    checkRatio: boolean,
    fail: (message: string) => never,
    ratio?: { min: number; max: number },
    formats: readonly string[] = ["png", "jpeg"],
  ): Promise<{ width: number; height: number }> {
    const format = sniffFormat(bytes);
    if (!formats.includes(format)) return fail(`image format ${format} is not supported; use ${formats.join(", ")}`);
    if (bytes.length > 10 * 1024 * 1024) return fail("image size exceeds 10MB");
    const metadata = await sharp(bytes).metadata().catch(() => undefined);
    if (!metadata?.width || !metadata.height) return fail("image cannot be decoded");
    const rotated = (metadata.orientation ?? 1) >= 5;
    const width = rotated ? metadata.height : metadata.width;
    const height = rotated ? metadata.width : metadata.height;
    if (width <= 14 || height <= 14) return fail("image width and height must be greater than 14px");
    if (width > 6000 || height > 6000) return fail("image width and height must be at most 6000px");
    if (checkRatio && (width * 3 <= height || height * 3 <= width)) return fail("image aspect ratio must be between 1/3 and 3");
    if (ratio && (width < height * ratio.min || width > height * ratio.max)) return fail("image aspect ratio must be in [1/16, 16]");
    return { width, height };
  }

  const visualTasks = createVisualTasks(
    {
      now: () => now().getTime(),
      loadImage,
      checkImage: (bytes, fail) => checkedImage(bytes, false, fail),
      renderPicture,
      renderFromImage,
      toPng: (jpeg) => sharp(jpeg).png().toBuffer(),
      keep: (bytes, format) => keep(bytes, "", false, format),
    },
    { ...DEFAULT_ASYNC_TIMING, ...options.asyncTiming },
  );
  stats.visualTasks = visualTasks.stats;

  /** One answer of an emulated API, before it is written. */
  interface Answer {
    status: number;
    body: unknown;
  }

  const closedBeforeAnswer = (reply: FastifyReply) =>
    new Promise<void>((resolve) => reply.raw.on("close", () => !reply.raw.writableFinished && resolve()));

  /**
   * Plays a fault. Returns `undefined` when the request should go on (after a `slow` delay, or with
   * an expired result URL), or `"sent"` when the fault answered (or dropped) the request itself.
   */
  async function playFault(fault: Fault, request: FastifyRequest, reply: FastifyReply, errorBody: (fault: Fault) => Answer): Promise<"sent" | undefined> {
    const { spec } = fault;
    if (spec.kind === "slow") {
      const closed = closedBeforeAnswer(reply);
      let timer: NodeJS.Timeout | undefined;
      const outcome = await Promise.race([
        new Promise<"waited">((resolve) => (timer = setTimeout(() => resolve("waited"), spec.ms))),
        closed.then(() => "closed" as const),
      ]);
      clearTimeout(timer);
      if (outcome === "closed") {
        reply.hijack();
        return "sent";
      }
      return undefined;
    }
    if (spec.kind === "expired-url") return undefined;
    if (spec.kind === "drop") {
      dropped.add(request.raw);
      reply.hijack();
      request.raw.socket.destroy();
      return "sent";
    }
    if (spec.kind === "malformed") {
      await reply.code(200).type("application/json").send('{"code":10000,"data":{"image_urls":["http://');
      return "sent";
    }
    if (spec.kind === "http") {
      const title = `${spec.status} ${spec.status === 502 ? "Bad Gateway" : spec.status === 503 ? "Service Temporarily Unavailable" : spec.status === 504 ? "Gateway Time-out" : "Error"}`;
      if (fault.retryAfter !== undefined) reply.header("retry-after", String(fault.retryAfter));
      await reply.code(spec.status).type("text/html").send(`<html><head><title>${title}</title></head><body><center><h1>${title}</h1></center></body></html>`);
      return "sent";
    }
    const answer = errorBody(fault);
    if (fault.retryAfter !== undefined) reply.header("retry-after", String(fault.retryAfter));
    await reply.code(answer.status).send(answer.body);
    return "sent";
  }

  const arkErrorBody = (status: number, code: string, message: string, id: string, param = "") => ({
    error: { code, message: `${message} Request id: ${id}`, param, type: arkType(status) },
  });
  const visualErrorBody = (code: number, message: string, id: string, elapsed: string) => ({
    code, data: null, message, request_id: id, status: code, time_elapsed: elapsed,
  });
  const visualMetadata = (query: Record<string, string>, id: string, codeN: number, code: string, message: string) => ({
    ResponseMetadata: {
      RequestId: id, Action: query.Action ?? "", Version: query.Version ?? "", Service: "cv", Region: "cn-north-1",
      Error: { CodeN: codeN, Code: code, Message: message },
    },
  });

  /** The error answer an Ark, Visual or 302 code fault produces, in the shape of the API it names. */
  const faultAnswer = (id: string, query: Record<string, string>) => (fault: Fault): Answer => {
    const { spec } = fault;
    if (spec.kind === "ark") {
      const entry = ARK_ERRORS[spec.code] as { status: number; message: string };
      return { status: entry.status, body: arkErrorBody(entry.status, spec.code, entry.message, id) };
    }
    if (spec.kind === "visual") {
      const business = VISUAL_BUSINESS_ERRORS[spec.code];
      if (business) return { status: business.status, body: visualErrorBody(spec.code, business.message, id, "0.001000s") };
      const gateway = VISUAL_GATEWAY_ERRORS[spec.code] as { status: number; code: string };
      return { status: gateway.status, body: visualMetadata(query, id, spec.code, gateway.code, `${gateway.code} (emulated fault)`) };
    }
    if (spec.kind === "302") {
      const entry = RELAY_302_ERRORS[spec.code] as { status: number; message: string; messageCn: string };
      return { status: entry.status, body: { error: { err_code: spec.code, message: entry.message, message_cn: entry.messageCn, message_jp: entry.message, type: "api_error" } } };
    }
    throw new Error(`fault ${spec.kind} has no error body`);
  };

  // ---- Ark --------------------------------------------------------------------------------------
  /** Ark `images/generations` on a parsed body: the success body, or the Ark error body with its status. */
  async function arkGenerate(body: Record<string, unknown>, base: string, id: string, expiredUrl: boolean): Promise<Answer> {
    try {
      const invalid = (param: string, message: string): never => {
        throw new ArkFailure(400, "InvalidParameter", `The parameter \`${param}\` specified in the request is not valid: ${message}.`, param);
      };
      const { model, prompt } = body;
      if (model === undefined) throw new ArkFailure(400, "MissingParameter", "The request failed because it is missing one or multiple required parameters: model.", "model");
      if (typeof model !== "string" || !ARK_MODELS.has(model) || retired.has(model)) {
        throw new ArkFailure(404, "InvalidEndpointOrModel.NotFound", `The model or endpoint ${String(model)} does not exist or you do not have access to it.`, "model");
      }
      if (typeof prompt !== "string" || prompt.length === 0) throw new ArkFailure(400, "MissingParameter", "The request failed because it is missing one or multiple required parameters: prompt.", "prompt");
      const format = body.response_format ?? "url";
      if (format !== "url" && format !== "b64_json") invalid("response_format", "must be url or b64_json");
      const seed = body.seed ?? -1;
      if (!isInteger(seed) || seed < -1 || seed > 2147483647) invalid("seed", "must be an integer in [-1, 2147483647]");
      const guidance = body.guidance_scale ?? (model === SEEDREAM ? 2.5 : 5.5);
      if (!isNumber(guidance) || guidance < 1 || guidance > 10) invalid("guidance_scale", "must be in [1, 10]");
      const watermark = body.watermark ?? true;
      if (typeof watermark !== "boolean") invalid("watermark", "must be a boolean");
      const effectiveSeed = seed === -1 ? randomInt(0, 2147483647) : (seed as number);

      let picture: Buffer;
      if (model === SEEDREAM) {
        if (body.image !== undefined) invalid("image", `image is not supported by ${SEEDREAM}`);
        const size = body.size ?? "1024x1024";
        const match = typeof size === "string" ? /^(\d+)x(\d+)$/.exec(size) : null;
        const width = Number(match?.[1]);
        const height = Number(match?.[2]);
        if (!match || width < 512 || width > 2048 || height < 512 || height > 2048) invalid("size", "must be WxH within [512x512, 2048x2048]");
        picture = await renderPicture({ prompt, seed: effectiveSeed, width, height });
      } else {
        if ((body.size ?? "adaptive") !== "adaptive") invalid("size", "only adaptive is supported");
        if (typeof body.image !== "string") throw new ArkFailure(400, "MissingParameter", "The request failed because it is missing one or multiple required parameters: image.", "image");
        const source = await loadImage(body.image, (message) => invalid("image", message));
        const input = await checkedImage(source, true, (message) => invalid("image", message));
        const output = adaptiveSize(input.width, input.height);
        picture = await renderFromImage(source, { prompt, seed: effectiveSeed, ...output });
      }
      if (watermark) picture = await drawMark(picture, ARK_MARK);
      const { width = 0, height = 0 } = await sharp(picture).metadata();
      stats.imagesGenerated += 1;
      const tokens = Math.round((width * height) / 256);
      const item = format === "b64_json" ? { b64_json: picture.toString("base64") } : { url: `${base}/results/${keep(picture, "-ept86400", expiredUrl)}` };
      return {
        status: 200,
        body: { model, created: Math.floor(now().getTime() / 1000), data: [item], usage: { generated_images: 1, output_tokens: tokens, total_tokens: tokens } },
      };
    } catch (error) {
      if (!(error instanceof ArkFailure)) throw error;
      return { status: error.status, body: arkErrorBody(error.status, error.code, error.message, id, error.param) };
    }
  }

  /** Seedream 4.x/5.x: the JSON answer, or `"sent"` when the answer was streamed to `reply`. */
  async function seedream4Generate(model: string, body: Record<string, unknown>, base: string, id: string, expiredUrl: boolean, reply: FastifyReply): Promise<Answer | "sent"> {
    let plan: Seedream4Plan;
    try {
      plan = await planSeedream4(model, body, async (value) => {
        const fail = (message: string): never => {
          throw new Seedream4Refusal("InvalidParameter", `The parameter \`image\` specified in the request is not valid: ${message}.`, "image");
        };
        const bytes = await loadImage(value, fail);
        await checkedImage(bytes, false, fail, { min: 1 / 16, max: 16 }, ["png", "jpeg", "webp", "gif", "tiff", "bmp"]);
        return bytes;
      });
    } catch (error) {
      if (!(error instanceof Seedream4Refusal)) throw error;
      return { status: 400, body: arkErrorBody(400, error.code, error.message, id, error.param) };
    }
    stats.referenceImages += plan.references.length;
    const created = () => Math.floor(now().getTime() / 1000);
    const item = async (index: number) => {
      const bytes = await renderSeedream4(plan, index);
      stats.imagesGenerated += 1;
      const image = plan.responseFormat === "b64_json" ? { b64_json: bytes.toString("base64") } : { url: `${base}/results/${keep(bytes, "-ept86400", expiredUrl, plan.format)}` };
      return { ...image, size: `${plan.width}x${plan.height}`, ...(plan.version.v5 ? { output_format: plan.format } : {}) };
    };
    if (!plan.stream) {
      const data: unknown[] = [];
      let made = 0;
      for (let index = 0; index < plan.count; index += 1) {
        const outcome = outcomeOf(plan, index);
        if (outcome === "made") {
          data.push(await item(index));
          made += 1;
        } else {
          data.push({ error: outcome === "refused" ? MODERATION_ERROR : INTERNAL_ERROR });
          if (outcome === "failed") break;
        }
      }
      if (made === 0) {
        const first = (data[0] as { error: { code: string; message: string } }).error;
        const status = first.code === INTERNAL_ERROR.code ? 500 : 400;
        return { status, body: arkErrorBody(status, first.code, first.message, id) };
      }
      return { status: 200, body: { model, created: created(), data, usage: seedream4Usage(plan, made) } };
    }
    // Streamed: like Ark, nothing is sent before the first image is done; then one event per image.
    reply.hijack();
    const raw = reply.raw;
    let events = 0;
    let made = 0;
    const send = (event: string, data: Record<string, unknown>) => {
      // `[[drop-after:N]]`: the connection is cut instead of the event after the N-th (those were written well before).
      if (plan.dropAfter !== undefined && events >= plan.dropAfter) {
        dropped.add(raw.req);
        raw.destroy();
        return false;
      }
      if (!raw.headersSent) {
        raw.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", "x-request-id": id });
        stats.streamsOpened += 1;
      }
      raw.write(`event: ${event}\ndata: ${JSON.stringify({ type: event, model, created: created(), ...data })}\n\n`);
      events += 1;
      return true;
    };
    for (let index = 0; index < plan.count; index += 1) {
      if (index > 0 && plan.pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, plan.pauseMs));
      if (raw.destroyed) return "sent";
      const outcome = outcomeOf(plan, index);
      if (outcome === "made") {
        const image = await item(index);
        if (raw.destroyed) return "sent";
        made += 1;
        if (!send("image_generation.partial_succeeded", { image_index: index, ...image })) return "sent";
      } else {
        if (!send("image_generation.partial_failed", { image_index: index, error: outcome === "refused" ? MODERATION_ERROR : INTERNAL_ERROR })) return "sent";
        if (outcome === "failed") break;
      }
    }
    if (!send("image_generation.completed", { usage: seedream4Usage(plan, made) })) return "sent";
    raw.end("data: [DONE]\n\n");
    return "sent";
  }

  /** Ark's images API on a parsed body, whichever version the model is; a `null` field is an absent one, as on Ark. */
  const arkImages = (body: Record<string, unknown>, base: string, id: string, expiredUrl: boolean, reply: FastifyReply): Promise<Answer | "sent"> => {
    dropNulls(body);
    return typeof body.model === "string" && SEEDREAM_4_VERSIONS[body.model] && !retired.has(body.model)
      ? seedream4Generate(body.model, body, base, id, expiredUrl, reply)
      : arkGenerate(body, base, id, expiredUrl);
  };

  app.post("/api/v3/images/generations", async (request, reply) => {
    stats.requests += 1;
    stats.byApi.ark += 1;
    const id = newRequestId();
    const account = arkAccountOf(String(request.headers.authorization ?? ""));
    if (!account) return reply.code(401).send(arkErrorBody(401, "AuthenticationError", "The API key or AK/SK in the request is missing or invalid.", id));
    const body = parseJson(request.body as Buffer | undefined);
    if (!body) return reply.code(400).send(arkErrorBody(400, "InvalidParameter", "The request body is not valid JSON.", id));
    const seen = (stats.arkAccounts[account.name] ??= { requests: 0, models: {} });
    seen.requests += 1;
    if (typeof body.model === "string") {
      seen.models[body.model] = (seen.models[body.model] ?? 0) + 1;
      const notFound = () => reply.code(404).send(arkErrorBody(404, "InvalidEndpointOrModel.NotFound", `The model or endpoint ${body.model as string} does not exist or you do not have access to it.`, id, "model"));
      // BytePlus names Volcengine's models without the `doubao-` of their ids.
      if (account.byteplus && body.model.startsWith("doubao-")) return notFound();
      if (body.model.startsWith("ep-")) {
        const served = account.endpoints?.[body.model];
        if (!served) return notFound();
        body.model = served;
      }
    }
    if (account.imagesPerMinute !== undefined) {
      const now = Date.now();
      const window = (asked.get(account.name) ?? []).filter((at) => now - at < 60_000);
      const group = body.sequential_image_generation_options as { max_images?: unknown } | undefined;
      const images = body.sequential_image_generation === "auto" && typeof group?.max_images === "number" ? group.max_images : 1;
      if (window.length + images > account.imagesPerMinute) {
        asked.set(account.name, window);
        const wait = Math.max(1, Math.ceil(((window[0] ?? now) + 60_000 - now) / 1000));
        return reply.code(429).header("retry-after", String(wait)).send(arkErrorBody(429, "ModelAccountIpmRateLimitExceeded", "The request has exceeded the account's IPM rate limit for the model.", id));
      }
      asked.set(account.name, [...window, ...Array.from({ length: images }, () => now)]);
    }
    if (typeof body.model === "string" && inactive.has(body.model)) {
      return reply.code(404).send(arkErrorBody(404, "ModelNotOpen", `Your account has not activated the model service ${body.model}. Please activate it in the Ark console.`, id, "model"));
    }
    const fault = faults.take("ark", body.prompt);
    if (fault && (await playFault(fault, request, reply, faultAnswer(id, {}))) === "sent") return reply;
    const answer = await arkImages(body, host(request), id, fault?.spec.kind === "expired-url", reply);
    if (answer === "sent") return reply;
    return reply.code(answer.status).send(answer.body);
  });

  // ---- Visual -----------------------------------------------------------------------------------
  /** Visual `CVProcess` on a parsed body: the code-10000 envelope, or the business error with its status. */
  async function visualProcess(body: Record<string, unknown>, base: string, id: string, expiredUrl: boolean): Promise<Answer> {
    const started = process.hrtime.bigint();
    const elapsed = () => `${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(6)}s`;
    try {
      const invalid = (field: string): never => {
        throw new VisualFailure(400, 50200, `Request Invalid Args: ${field}`);
      };
      const reqKey = body.req_key;
      const seedOf = (value: unknown) => {
        const seed = value ?? -1;
        if (!isInteger(seed)) return invalid("seed");
        return seed === -1 ? randomInt(0, 2147483647) : seed;
      };
      let picture: Buffer;
      if (typeof reqKey === "string" && T2I_KEYS[reqKey]) {
        const model = T2I_KEYS[reqKey];
        if (typeof body.prompt !== "string" || body.prompt.length === 0) throw new VisualFailure(400, 50201, "Request Missing Args: prompt");
        if (body.model_version !== undefined && body.model_version !== model.version) invalid("model_version");
        if (reqKey === "high_aes_general_v20" && body.model_version === undefined) invalid("model_version");
        const side = (name: string) => {
          const value = body[name] ?? 512;
          if (!isInteger(value) || value < 256 || value > model.maxSide) return invalid(name);
          return value;
        };
        const width = side("width");
        const height = side("height");
        for (const [name, min, max] of [["scale", 1, 10], ["ddim_steps", 1, 200], ["sr_strength", 0, 1], ["sr_scale", 1, 10], ["sr_steps", 1, 200]] as const) {
          if (body[name] !== undefined && (!isNumber(body[name]) || (body[name] as number) < min || (body[name] as number) > max)) invalid(name);
        }
        if (body.req_schedule_conf !== undefined && !["general_v20_9B_pe", "general_v20_9B_rephraser"].includes(String(body.req_schedule_conf))) invalid("req_schedule_conf");
        const scale = body.use_sr === false ? 1 : 2;
        picture = await renderPicture({ prompt: body.prompt, seed: seedOf(body.seed), width: width * scale, height: height * scale });
      } else if (reqKey === GENERAL_3_REQ_KEY) {
        // General 3.0 (VISUAL-ASYNC.md §2): no req_schedule_conf, super-resolution or steps; sides 512–2048, default 1328.
        if (typeof body.prompt !== "string" || body.prompt.length === 0) throw new VisualFailure(400, 50201, "Request Missing Args: prompt");
        for (const name of ["req_schedule_conf", "use_sr", "ddim_steps", "llm_seed"]) if (body[name] !== undefined) invalid(name);
        const side = (name: string) => {
          const value = body[name] ?? 1328;
          if (!isInteger(value) || value < 512 || value > 2048) return invalid(name);
          return value;
        };
        if (body.scale !== undefined && (!isNumber(body.scale) || body.scale < 1 || body.scale > 10)) invalid("scale");
        if (body.use_pre_llm !== undefined && typeof body.use_pre_llm !== "boolean") invalid("use_pre_llm");
        picture = await renderPicture({ prompt: body.prompt, seed: seedOf(body.seed), width: side("width"), height: side("height") });
      } else if (reqKey === "i2i_portrait_photo") {
        const images = body.binary_data_base64;
        let source: Buffer;
        if (Array.isArray(images) && typeof images[0] === "string" && images[0].length > 0) {
          if (images.length !== 1) invalid("binary_data_base64");
          source = Buffer.from(images[0], "base64");
        } else if (typeof body.image_input === "string") {
          source = await loadImage(body.image_input, () => {
            throw new VisualFailure(400, 50206, "Image Empty Or Download Failed");
          });
        } else {
          throw new VisualFailure(400, 50201, "Request Missing Args: image_input");
        }
        await checkedImage(source, false, () => {
          throw new VisualFailure(400, 50207, "Image Decode Error");
        });
        const side = (name: string) => {
          const value = body[name] ?? 1328;
          if (!isInteger(value) || value < 512 || value > 2048) return invalid(name);
          return value;
        };
        for (const name of ["gpen", "skin", "skin_unifi"]) {
          const value = body[name];
          if (value !== undefined && (!isNumber(value) || value < 0 || value > 1)) invalid(name);
        }
        if (body.gen_mode !== undefined && !["creative", "reference", "reference_char"].includes(String(body.gen_mode))) invalid("gen_mode");
        const prompt = typeof body.prompt === "string" ? body.prompt : "";
        picture = await renderFromImage(source, { prompt, seed: seedOf(body.seed), width: side("width"), height: side("height") });
      } else {
        return invalid("req_key");
      }
      const logo = body.logo_info as { add_logo?: unknown; position?: unknown; language?: unknown; opacity?: unknown; logo_text_content?: unknown } | undefined;
      if (logo !== undefined && (typeof logo !== "object" || logo === null)) invalid("logo_info");
      if (logo?.add_logo === true) {
        const position = isInteger(logo.position) && logo.position >= 0 && logo.position <= 3 ? (logo.position as MarkPosition) : 0;
        const text = typeof logo.logo_text_content === "string" && logo.logo_text_content ? logo.logo_text_content : logo.language === 1 ? MARK_TEXT.english : MARK_TEXT.chinese;
        const opacity = isNumber(logo.opacity) ? logo.opacity : 1;
        picture = await drawMark(picture, { text, position, opacity });
      }
      stats.imagesGenerated += 1;
      const returnUrl = body.return_url === true;
      return {
        status: 200,
        body: {
          code: 10000,
          data: {
            algorithm_base_resp: { status_code: 0, status_message: "Success" },
            binary_data_base64: returnUrl ? [] : [picture.toString("base64")],
            image_urls: returnUrl ? [`${base}/results/${keep(picture, "", expiredUrl)}`] : null,
            llm_result: "", pe_result: typeof body.prompt === "string" && body.use_pre_llm !== false ? body.prompt : "",
            predict_tags_result: "", rephraser_result: "", request_id: randomBytes(16).toString("hex"), vlm_result: "",
          },
          message: "Success",
          request_id: id,
          status: 10000,
          time_elapsed: elapsed(),
        },
      };
    } catch (error) {
      if (!(error instanceof VisualFailure)) throw error;
      return { status: error.status, body: visualErrorBody(error.code, error.message, id, elapsed()) };
    }
  }

  /** An asynchronous model's submit or result query, answered in Visual's envelope (also what 302.AI passes through). */
  async function visualTask(action: "submit" | "result", body: Record<string, unknown>, base: string, id: string): Promise<Answer> {
    const started = process.hrtime.bigint();
    const elapsed = () => `${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(6)}s`;
    try {
      const data = action === "submit" ? await visualTasks.submit(body) : await visualTasks.result(body, base);
      if (data instanceof AsyncFailure) return { status: data.status, body: visualErrorBody(data.code, data.message, id, elapsed()) };
      return { status: 200, body: { code: 10000, data, message: "Success", request_id: id, status: 10000, time_elapsed: elapsed() } };
    } catch (error) {
      if (!(error instanceof AsyncFailure)) throw error;
      return { status: error.status, body: visualErrorBody(error.code, error.message, id, elapsed()) };
    }
  }

  app.post("/", async (request, reply) => {
    stats.requests += 1;
    stats.byApi.visual += 1;
    const id = newRequestId();
    const query = request.query as Record<string, string>;
    const metadata = (codeN: number, code: string, message: string) => visualMetadata(query, id, codeN, code, message);
    if (!["CVProcess", "CVSync2AsyncSubmitTask", "CVSync2AsyncGetResult"].includes(query.Action ?? "") || query.Version !== "2022-08-31") {
      return reply.code(404).send(metadata(100008, "InvalidActionOrVersion", `Could not find operation ${query.Action ?? ""} for version ${query.Version ?? ""}`));
    }
    const raw = (request.body as Buffer | undefined) ?? Buffer.alloc(0);
    const auth = parseAuthorization(request.headers.authorization);
    if (!auth) return reply.code(400).send(metadata(100024, "InvalidAuthorization", "The Authorization header is missing or malformed."));
    if (auth.accessKeyId !== options.accessKeyId) return reply.code(401).send(metadata(100009, "InvalidAccessKey", "The AccessKey is invalid."));
    const xDate = String(request.headers["x-date"] ?? "");
    const signedAt = /^\d{8}T\d{6}Z$/.test(xDate)
      ? Date.UTC(+xDate.slice(0, 4), +xDate.slice(4, 6) - 1, +xDate.slice(6, 8), +xDate.slice(9, 11), +xDate.slice(11, 13), +xDate.slice(13, 15))
      : Number.NaN;
    if (!Number.isFinite(signedAt) || Math.abs(now().getTime() - signedAt) > (options.maxSkewSeconds ?? 900) * 1000) {
      return reply.code(400).send(metadata(100006, "InvalidTimestamp", "The X-Date header is missing or too far from the current time."));
    }
    const payloadHash = sha256Hex(raw);
    const declaredHash = request.headers["x-content-sha256"];
    const signedHeaders: Record<string, string> = {};
    for (const name of auth.signedHeaders) signedHeaders[name] = String(request.headers[name] ?? "");
    const mismatch = () => reply.code(401).send(metadata(100010, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided."));
    if (!auth.signedHeaders.includes("host") || !auth.signedHeaders.includes("x-date")) return mismatch();
    if (declaredHash !== undefined && declaredHash !== payloadHash) return mismatch();
    const expected = sign({
      method: request.method, path: "/", query: { Action: query.Action ?? "", Version: query.Version }, headers: signedHeaders, payloadHash,
      accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey, region: auth.region, service: auth.service,
    });
    const sameSignature = expected.signature.length === auth.signature.length && timingSafeEqual(Buffer.from(expected.signature), Buffer.from(auth.signature));
    if (!sameSignature || auth.region !== "cn-north-1" || auth.service !== "cv" || auth.shortDate !== xDate.slice(0, 8)) return mismatch();

    const body = parseJson(raw);
    if (!body) return reply.code(400).send(visualErrorBody(50204, "Parse Args Error", id, "0.000100s"));
    const fault = faults.take("visual", body.prompt);
    if (fault && (await playFault(fault, request, reply, faultAnswer(id, query))) === "sent") return reply;
    if (query.Action !== "CVProcess") {
      const answer = await visualTask(query.Action === "CVSync2AsyncSubmitTask" ? "submit" : "result", body, host(request), id);
      return reply.code(answer.status).send(answer.body);
    }
    const answer = await visualProcess(body, host(request), id, fault?.spec.kind === "expired-url");
    return reply.code(answer.status).send(answer.body);
  });

  // ---- 302.AI relay -----------------------------------------------------------------------------
  if (options.api302Key !== undefined) {
    const relayKey = Buffer.from(`Bearer ${options.api302Key}`);
    const relayError = (errCode: number) => {
      const entry = RELAY_302_ERRORS[errCode] as { status: number; message: string; messageCn: string };
      return { status: entry.status, body: { error: { err_code: errCode, message: entry.message, message_cn: entry.messageCn, message_jp: entry.message, type: "api_error" } } };
    };
    /** 302's own checks, then the fault, then the upstream call; 302 passes Ark and Visual answers through. */
    const relay = (upstream: (body: Record<string, unknown>, request: FastifyRequest, id: string, expiredUrl: boolean, reply: FastifyReply) => Promise<Answer | "sent">) =>
      async (request: FastifyRequest, reply: FastifyReply) => {
        stats.requests += 1;
        stats.byApi["302"] += 1;
        const id = newRequestId();
        const given = Buffer.from(String(request.headers.authorization ?? ""));
        let answer: Answer | undefined;
        if (!request.headers.authorization) answer = relayError(-10001);
        else if (given.length !== relayKey.length || !timingSafeEqual(given, relayKey)) answer = relayError(-10002);
        const body = parseJson(request.body as Buffer | undefined);
        if (!answer && !body) answer = relayError(-10003);
        if (answer) return reply.code(answer.status).send(answer.body);
        const fault = faults.take("302", body?.prompt);
        if (fault && (await playFault(fault, request, reply, faultAnswer(id, {}))) === "sent") return reply;
        const upstreamAnswer = await upstream(body as Record<string, unknown>, request, id, fault?.spec.kind === "expired-url", reply);
        if (upstreamAnswer === "sent") return reply;
        return reply.code(upstreamAnswer.status).send(upstreamAnswer.body);
      };
    const images = relay((body, request, id, expired, reply) => arkImages(body, host(request), id, expired, reply));
    app.post("/doubao/images/generations", images);
    app.post("/v1/images/generations", images);
    app.post("/doubao/drawing", relay((body, request, id, expired) => {
      const version = typeof body.model_version === "string" ? body.model_version : "general_v2.1_L";
      const reqKey = version === GENERAL_3_MODEL ? GENERAL_3_REQ_KEY : (Object.keys(T2I_KEYS).find((key) => T2I_KEYS[key]?.version === version) ?? `unknown:${version}`);
      return visualProcess({ ...body, req_key: reqKey, model_version: version, return_url: body.return_url ?? true }, host(request), id, expired);
    }));
    app.post("/doubao/drawing/portrait", relay((body, request, id, expired) => {
      const { response_format: format } = request.query as { response_format?: string };
      return visualProcess({ ...body, req_key: "i2i_portrait_photo", return_url: format !== "b64_json" }, host(request), id, expired);
    }));
    // SeedEdit 3.0 on CV as 302.AI serves it (VISUAL-ASYNC.md §4): a submit, then its result by task id; JSON bodies only
    // here (one of 302's clients sends multipart, which the emulator does not take).
    app.post("/doubao/drawing/seededit_v30", relay((body, request, id) => visualTask("submit", { ...body, req_key: "seededit_v3.0" }, host(request), id)));
    app.post("/doubao/drawing/seededit_v30_result", relay((body, request, id) => {
      const { response_format: format } = request.query as { response_format?: string };
      const reqJson = body.req_json ?? (format === "url" ? JSON.stringify({ return_url: true }) : undefined);
      return visualTask("result", { ...body, req_key: "seededit_v3.0", ...(reqJson !== undefined ? { req_json: reqJson } : {}) }, host(request), id);
    }));
  }

  // ---- Results ----------------------------------------------------------------------------------
  app.get("/results/:name", async (request: FastifyRequest<{ Params: { name: string } }>, reply: FastifyReply) => {
    const bytes = results.get(request.params.name);
    if (!bytes) return reply.code(404).type("application/xml").send("<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>");
    return reply.type(request.params.name.endsWith(".png") ? "image/png" : "image/jpeg").send(bytes);
  });

  app.get("/_emulator/stats", async () => ({ ...stats, faultsInjected: faults.injected }));
  app.post("/_emulator/faults", async (request, reply) => {
    const body = parseJson(request.body as Buffer | undefined) as { fault?: unknown; times?: unknown; api?: unknown; retry_after?: unknown } | undefined;
    const times = body?.times ?? 1;
    const api = body?.api ?? "any";
    try {
      if (typeof body?.fault !== "string") throw new FaultSpecError('body must be {"fault": "<spec>", "times"?: n, "api"?: "ark"|"visual"|"302"|"any", "retry_after"?: s}');
      if (!isInteger(times) || times < 1) throw new FaultSpecError("times must be a positive integer");
      if (api !== "any" && api !== "ark" && api !== "visual" && api !== "302") throw new FaultSpecError("api must be ark, visual, 302 or any");
      if (body.retry_after !== undefined && (!isInteger(body.retry_after) || body.retry_after < 0)) throw new FaultSpecError("retry_after must be a non-negative integer");
      faults.enqueue(parseFaultSpec(body.fault), times, api, body.retry_after as number | undefined);
      return reply.code(201).send({ queued: body.fault, times, api });
    } catch (error) {
      if (!(error instanceof FaultSpecError)) throw error;
      return reply.code(400).send({ error: error.message });
    }
  });
  app.delete("/_emulator/faults", async (_request, reply) => {
    faults.clear();
    return reply.code(204).send();
  });

  const emulator: Emulator = {
    app,
    stats,
    base: undefined,
    async listen(port, hostname = "127.0.0.1") {
      await app.listen({ port, host: hostname });
      const address = app.server.address();
      const actualPort = typeof address === "object" && address ? address.port : port;
      emulator.base = `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${actualPort}`;
      return emulator.base;
    },
    close: () => app.close(),
  };
  return emulator;
}

function arkType(status: number): string {
  return { 400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 429: "TooManyRequests" }[status] ?? "InternalServerError";
}
