/**
 * The Volcengine emulator: a standalone HTTP server speaking Ark Images (`POST /api/v3/images/generations`,
 * Bearer key) and Visual (`POST /?Action=CVProcess&Version=2022-08-31`, HMAC-SHA256 checked against the
 * configured AK/SK). It validates the way the real services do and answers with their bodies, so an adapter
 * bug shows up as an error. Its images are real JPEGs, deterministic for (prompt, seed, size).
 */
import { randomBytes, randomInt, timingSafeEqual } from "node:crypto";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { adaptiveSize } from "../images/adaptive-size.js";
import { AllowList } from "../images/address-policy.js";
import { fetchInput } from "../images/fetch-input.js";
import { sniffFormat } from "../images/inspect.js";
import { drawMark, MARK_TEXT, type MarkPosition } from "../images/watermark.js";
import { parseAuthorization, sha256Hex, sign } from "../providers/visual/sign.js";
import { newRequestId } from "../request-id.js";
import { renderFromImage, renderPicture } from "./render.js";
import sharp from "sharp";

export interface EmulatorOptions {
  /** The Bearer key Ark requests must carry. */
  arkApiKey: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Allowed clock skew for `X-Date`, default 900 s (Volcengine's). */
  maxSkewSeconds?: number;
  now?: () => Date;
  logger?: boolean;
}

export interface EmulatorStats {
  /** Images the emulator generated and returned, all endpoints. */
  imagesGenerated: number;
  requests: number;
}

export interface Emulator {
  app: FastifyInstance;
  stats: EmulatorStats;
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

const isInteger = (value: unknown): value is number => typeof value === "number" && Number.isInteger(value);
const isNumber = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value);

export function createEmulator(options: EmulatorOptions): Emulator {
  const app = Fastify({ logger: options.logger ?? false, bodyLimit: 32 * 1024 * 1024 });
  const stats: EmulatorStats = { imagesGenerated: 0, requests: 0 };
  const results = new Map<string, Buffer>();
  const now = options.now ?? (() => new Date());
  const fetchPolicy = { allow: new AllowList(["localhost", "127.0.0.0/8", "::1"]) };

  app.removeAllContentTypeParsers();
  app.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));

  const host = (request: FastifyRequest) => `http://${request.headers.host ?? "127.0.0.1"}`;
  const keep = (bytes: Buffer, suffix: string): string => {
    const name = `${randomBytes(16).toString("hex")}${suffix}.jpeg`;
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

  async function checkedImage(bytes: Buffer, checkRatio: boolean, fail: (message: string) => never): Promise<{ width: number; height: number }> {
    const format = sniffFormat(bytes);
    if (format !== "png" && format !== "jpeg") return fail(`image format ${format} is not supported; use jpeg or png`);
    if (bytes.length > 10 * 1024 * 1024) return fail("image size exceeds 10MB");
    const metadata = await sharp(bytes).metadata().catch(() => undefined);
    if (!metadata?.width || !metadata.height) return fail("image cannot be decoded");
    const rotated = (metadata.orientation ?? 1) >= 5;
    const width = rotated ? metadata.height : metadata.width;
    const height = rotated ? metadata.width : metadata.height;
    if (width <= 14 || height <= 14) return fail("image width and height must be greater than 14px");
    if (width > 6000 || height > 6000) return fail("image width and height must be at most 6000px");
    if (checkRatio && (width * 3 <= height || height * 3 <= width)) return fail("image aspect ratio must be between 1/3 and 3");
    return { width, height };
  }

  // ---- Ark --------------------------------------------------------------------------------------
  app.post("/api/v3/images/generations", async (request, reply) => {
    stats.requests += 1;
    const id = newRequestId();
    try {
      const expected = Buffer.from(`Bearer ${options.arkApiKey}`);
      const given = Buffer.from(String(request.headers.authorization ?? ""));
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
        throw new ArkFailure(401, "AuthenticationError", "The API key or AK/SK in the request is missing or invalid.");
      }
      let body: Record<string, unknown>;
      try {
        body = JSON.parse((request.body as Buffer | undefined)?.toString("utf8") ?? "") as Record<string, unknown>;
        if (!body || typeof body !== "object" || Array.isArray(body)) throw new Error();
      } catch {
        throw new ArkFailure(400, "InvalidParameter", "The request body is not valid JSON.");
      }
      const invalid = (param: string, message: string): never => {
        throw new ArkFailure(400, "InvalidParameter", `The parameter \`${param}\` specified in the request is not valid: ${message}.`, param);
      };
      const { model, prompt } = body;
      if (model === undefined) throw new ArkFailure(400, "MissingParameter", "The request failed because it is missing one or multiple required parameters: model.", "model");
      if (typeof model !== "string" || !ARK_MODELS.has(model)) {
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
      if (watermark) picture = await drawMark(picture, { text: MARK_TEXT.chinese, position: 0, opacity: 0.5 });
      const { width = 0, height = 0 } = await sharp(picture).metadata();
      stats.imagesGenerated += 1;
      const tokens = Math.round((width * height) / 256);
      const item = format === "b64_json" ? { b64_json: picture.toString("base64") } : { url: `${host(request)}/results/${keep(picture, "-ept86400")}` };
      return reply.code(200).send({
        model,
        created: Math.floor(now().getTime() / 1000),
        data: [item],
        usage: { generated_images: 1, output_tokens: tokens, total_tokens: tokens },
      });
    } catch (error) {
      if (!(error instanceof ArkFailure)) throw error;
      return reply.code(error.status).send({
        error: { code: error.code, message: `${error.message} Request id: ${id}`, param: error.param, type: arkType(error.status) },
      });
    }
  });

  // ---- Visual -----------------------------------------------------------------------------------
  app.post("/", async (request, reply) => {
    stats.requests += 1;
    const id = newRequestId();
    const started = process.hrtime.bigint();
    const query = request.query as Record<string, string>;
    const metadata = (codeN: number, code: string, message: string) => ({
      ResponseMetadata: {
        RequestId: id, Action: query.Action ?? "", Version: query.Version ?? "", Service: "cv", Region: "cn-north-1",
        Error: { CodeN: codeN, Code: code, Message: message },
      },
    });
    if (query.Action !== "CVProcess" || query.Version !== "2022-08-31") {
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
      method: request.method, path: "/", query: { Action: query.Action, Version: query.Version }, headers: signedHeaders, payloadHash,
      accessKeyId: options.accessKeyId, secretAccessKey: options.secretAccessKey, region: auth.region, service: auth.service,
    });
    const sameSignature = expected.signature.length === auth.signature.length && timingSafeEqual(Buffer.from(expected.signature), Buffer.from(auth.signature));
    if (!sameSignature || auth.region !== "cn-north-1" || auth.service !== "cv" || auth.shortDate !== xDate.slice(0, 8)) return mismatch();

    const elapsed = () => `${(Number(process.hrtime.bigint() - started) / 1e9).toFixed(6)}s`;
    try {
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(raw.toString("utf8")) as Record<string, unknown>;
        if (!body || typeof body !== "object" || Array.isArray(body)) throw new Error();
      } catch {
        throw new VisualFailure(400, 50204, "Parse Args Error");
      }
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
        invalid("req_key");
      }
      const logo = body.logo_info as { add_logo?: unknown; position?: unknown; language?: unknown; opacity?: unknown; logo_text_content?: unknown } | undefined;
      if (logo !== undefined && (typeof logo !== "object" || logo === null)) invalid("logo_info");
      if (logo?.add_logo === true) {
        const position = isInteger(logo.position) && logo.position >= 0 && logo.position <= 3 ? (logo.position as MarkPosition) : 0;
        const text = typeof logo.logo_text_content === "string" && logo.logo_text_content ? logo.logo_text_content : logo.language === 1 ? MARK_TEXT.english : MARK_TEXT.chinese;
        const opacity = isNumber(logo.opacity) ? logo.opacity : 1;
        picture = await drawMark(picture!, { text, position, opacity });
      }
      stats.imagesGenerated += 1;
      const returnUrl = body.return_url === true;
      return reply.code(200).send({
        code: 10000,
        data: {
          algorithm_base_resp: { status_code: 0, status_message: "Success" },
          binary_data_base64: returnUrl ? [] : [picture!.toString("base64")],
          image_urls: returnUrl ? [`${host(request)}/results/${keep(picture!, "")}`] : null,
          llm_result: "", pe_result: typeof body.prompt === "string" && body.use_pre_llm !== false ? body.prompt : "",
          predict_tags_result: "", rephraser_result: "", request_id: randomBytes(16).toString("hex"), vlm_result: "",
        },
        message: "Success",
        request_id: id,
        status: 10000,
        time_elapsed: elapsed(),
      });
    } catch (error) {
      if (!(error instanceof VisualFailure)) throw error;
      return reply.code(error.status).send({ code: error.code, data: null, message: error.message, request_id: id, status: error.code, time_elapsed: elapsed() });
    }
  });

  // ---- Results ----------------------------------------------------------------------------------
  app.get("/results/:name", async (request: FastifyRequest<{ Params: { name: string } }>, reply: FastifyReply) => {
    const bytes = results.get(request.params.name);
    if (!bytes) return reply.code(404).type("application/xml").send("<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>");
    return reply.type("image/jpeg").send(bytes);
  });

  app.get("/_emulator/stats", async () => stats);

  return {
    app,
    stats,
    async listen(port, hostname = "127.0.0.1") {
      await app.listen({ port, host: hostname });
      const address = app.server.address();
      const actualPort = typeof address === "object" && address ? address.port : port;
      return `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${actualPort}`;
    },
    close: () => app.close(),
  };
}

function arkType(status: number): string {
  return { 400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 429: "TooManyRequests" }[status] ?? "InternalServerError";
}
