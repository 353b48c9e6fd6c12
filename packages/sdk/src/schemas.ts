/**
 * Request schemas (the wire contract, CONTRACT.md §2 and LIVE-MODELS.md §2). The same zod objects validate
 * requests in the gateway, produce its `/openapi.json`, and type this SDK's methods: one source of truth.
 * Each issue message is the rule a field broke; the gateway prefixes the field name.
 */
import { z } from "zod";

export const SEEDREAM_3_T2I = "doubao-seedream-3-0-t2i-250415";
export const SEEDEDIT_3_I2I = "doubao-seededit-3-0-i2i-250628";
/** `model_version` values on `/doubao/drawing`. */
export const DRAWING_MODEL_VERSIONS = ["general_v2.1_L", "general_v2.0_L", "general_v2.0"] as const;
export type DrawingModelVersion = (typeof DRAWING_MODEL_VERSIONS)[number];
/** The portrait model; its public id is the Visual `req_key`. */
export const PORTRAIT_MODEL = "i2i_portrait_photo";

export const MAX_PROMPT_CHARS = 4000;
export const SEED_MAX = 2147483647;

/** An integer in [min, max], with one message for every way it can be wrong. */
export function integerIn(min: number, max: number) {
  const rule = `must be an integer in [${min}, ${max}]`;
  return z.int({ error: rule }).min(min, { error: rule }).max(max, { error: rule });
}

/** A finite number in [min, max]. */
export function numberIn(min: number, max: number) {
  const rule = `must be a number in [${min}, ${max}]`;
  return z.number({ error: rule }).min(min, { error: rule }).max(max, { error: rule });
}

/** An integer, or an integer written as a string (the 302 pages type some seeds as strings). */
export function integerOrString(min: number, max: number) {
  const rule = `must be an integer in [${min}, ${max}], or such an integer written as a string`;
  return z
    .union([z.int({ error: rule }), z.string({ error: rule }).regex(/^-?\d{1,10}$/, { error: rule })], { error: rule })
    .transform((value) => Number(value))
    .pipe(z.number().min(min, { error: rule }).max(max, { error: rule }));
}

/** Length in characters (Unicode code points), not UTF-16 units: an emoji is one character, as a user counts it. */
export function characters(value: string): number {
  let count = 0;
  for (const _ of value) count += 1;
  return count;
}

const boolean = () => z.boolean({ error: "must be a boolean (true or false)" });

const prompt = () =>
  z
    .string({ error: "must be a non-empty string" })
    .refine((value) => value.trim().length > 0, { error: "must be a non-empty string" })
    .refine((value) => value.length <= MAX_PROMPT_CHARS || characters(value) <= MAX_PROMPT_CHARS, { error: `must be at most ${MAX_PROMPT_CHARS} characters` });

export const responseFormat = z.enum(["url", "b64_json"], { error: 'must be "url" or "b64_json"' });
export type ResponseFormat = z.infer<typeof responseFormat>;

const SIZE_RULE = 'must be "<W>x<H>" with each side an integer in [512, 2048], e.g. "1024x1024"';
const SIZE_PATTERN = /^(\d{1,5})x(\d{1,5})$/;

/** Parses `"<W>x<H>"`; undefined when the string is not of that form or a side is out of [512, 2048]. */
export function parseSeedreamSize(size: string): { width: number; height: number } | undefined {
  const match = SIZE_PATTERN.exec(size);
  if (!match) return undefined;
  const width = Number(match[1]);
  const height = Number(match[2]);
  const inRange = (side: number) => side >= 512 && side <= 2048;
  return inRange(width) && inRange(height) ? { width, height } : undefined;
}

const seedreamSize = z
  .string({ error: SIZE_RULE })
  .refine((value) => parseSeedreamSize(value) !== undefined, { error: SIZE_RULE });

const arkCommon = {
  prompt: prompt(),
  response_format: responseFormat.default("url"),
  seed: integerIn(-1, SEED_MAX).default(-1),
  watermark: boolean().default(true),
};

/** `n` on `/v1/images/generations`: the gateway makes n calls with seeds seed, seed+1, … */
const n = integerIn(1, 4).default(1);

/** Seedream 3.0 text-to-image (CONTRACT.md §2.1). */
export const seedreamRequest = z.object({
  model: z.literal(SEEDREAM_3_T2I),
  ...arkCommon,
  size: seedreamSize.default("1024x1024"),
  guidance_scale: numberIn(1, 10).default(2.5),
  image: z.never({ error: `is not accepted by ${SEEDREAM_3_T2I} (text-to-image only); use ${SEEDEDIT_3_I2I} to edit an image` }).optional(),
});
export const seedreamRequestV1 = seedreamRequest.extend({ n });
export type SeedreamRequest = z.infer<typeof seedreamRequestV1>;

/** SeedEdit 3.0 (CONTRACT.md §2.2). `image` is checked further when it is loaded (images/load-input.ts). */
export const seededitRequest = z.object({
  model: z.literal(SEEDEDIT_3_I2I),
  ...arkCommon,
  image: z
    .string({ error: "must be one image: an http(s) URL or a data URL data:image/<png|jpeg>;base64,<…>" })
    .min(1, { error: "must be one image: an http(s) URL or a data URL data:image/<png|jpeg>;base64,<…>" }),
  size: z.literal("adaptive", { error: `must be "adaptive" (the only size ${SEEDEDIT_3_I2I} supports)` }).default("adaptive"),
  guidance_scale: numberIn(1, 10).default(5.5),
});
export const seededitRequestV1 = seededitRequest.extend({ n });
export type SeededitRequest = z.infer<typeof seededitRequestV1>;

const referenceRule = "must be an image: an http(s) URL or a data URL data:image/<png|jpeg|webp|gif|tiff>;base64,<…>";
const reference = z.string({ error: referenceRule }).min(1, { error: referenceRule });

/**
 * Seedream 4.x/5.x (LIVE-MODELS.md §1.3, §2.2): the field types. What each model accepts (sizes,
 * reference count, group, stream, modes, formats, tools) is checked from its model-table entry
 * (models/capabilities.ts). `seed` and `guidance_scale` from a 3.0 client are accepted and not forwarded.
 */
export const seedream4Request = z.object({
  model: z.string(),
  prompt: prompt(),
  image: z.union([reference, z.array(reference, { error: "must be an image or an array of images" }).min(1, { error: "must list at least one image" }).max(15, { error: "must list at most 15 images" })], {
    error: "must be an image (http(s) URL or data URL) or an array of up to 15 of them",
  }).optional(),
  size: z.string({ error: 'must be a size keyword such as "2K" or "<W>x<H>"' }).optional(),
  response_format: responseFormat.default("url"),
  watermark: boolean().default(true),
  optimize_prompt_options: z.object({
    mode: z.string({ error: "must be a string" }).optional(),
    thinking: z.enum(["enabled", "disabled"], { error: 'must be "enabled" or "disabled"' }).optional(),
  }, { error: "must be an object {mode, thinking}" }).optional(),
  sequential_image_generation: z.enum(["disabled", "auto"], { error: 'must be "disabled" or "auto"' }).default("disabled"),
  sequential_image_generation_options: z.object({ max_images: integerIn(1, 15).optional() }, { error: "must be an object {max_images}" }).optional(),
  stream: boolean().default(false),
  output_format: z.string({ error: "must be a string" }).optional(),
  tools: z.array(z.object({ type: z.string({ error: "must be a string" }) }, { error: "must be an object {type}" }), { error: 'must be an array such as [{"type": "web_search"}]' }).max(8).optional(),
  seed: z.unknown().optional(),
  guidance_scale: z.unknown().optional(),
});
export const seedream4RequestV1 = seedream4Request.extend({ n });
export type Seedream4Request = z.infer<typeof seedream4RequestV1>;

const logoInfo = z
  .object(
    {
      add_logo: boolean().default(false),
      position: z.union([z.literal(0), z.literal(1), z.literal(2), z.literal(3)], {
        error: "must be 0 (bottom-right), 1 (bottom-left), 2 (top-left) or 3 (top-right)",
      }).default(0),
      language: z.union([z.literal(0), z.literal(1)], { error: 'must be 0 ("AI生成") or 1 ("Generated by AI")' }).default(0),
      opacity: numberIn(0, 1).default(0.3),
      logo_text_content: z.string({ error: "must be a string" }).refine((value) => characters(value) <= 50, { error: "must be at most 50 characters" }).optional(),
    },
    { error: "must be an object {add_logo, position, language, opacity, logo_text_content}" },
  )
  .prefault({});

const drawingSide = integerIn(256, 768).default(512);

/** `/doubao/drawing` (CONTRACT.md §2.3). */
export const drawingRequest = z
  .object({
    prompt: prompt(),
    model_version: z
      .enum(DRAWING_MODEL_VERSIONS, { error: `must be one of ${[...DRAWING_MODEL_VERSIONS, "general_v3.0"].join(", ")}` })
      .default("general_v2.1_L"),
    req_schedule_conf: z
      .enum(["general_v20_9B_pe", "general_v20_9B_rephraser"], {
        error: "must be general_v20_9B_pe (aesthetic) or general_v20_9B_rephraser (standard)",
      })
      .default("general_v20_9B_pe"),
    llm_seed: integerOrString(-1, SEED_MAX).default(-1),
    seed: integerIn(-1, SEED_MAX).default(-1),
    scale: numberIn(1, 10).default(3.5),
    ddim_steps: integerIn(1, 200).default(25),
    width: drawingSide,
    height: drawingSide,
    use_pre_llm: boolean().default(true),
    use_sr: boolean().default(true),
    sr_seed: integerIn(-1, SEED_MAX).default(-1),
    sr_strength: numberIn(0, 1).default(0.4),
    sr_scale: numberIn(1, 10).default(3.5),
    sr_steps: integerIn(1, 200).default(20),
    is_only_sr: boolean().default(false),
    return_url: boolean().default(true),
    logo_info: logoInfo,
  })
  .superRefine((body, context) => {
    if (body.model_version !== "general_v2.0") return;
    for (const side of ["width", "height"] as const) {
      if (body[side] > 680) {
        context.addIssue({ code: "custom", path: [side], input: body[side], message: "must be an integer in [256, 680] for general_v2.0" });
      }
    }
  });
export type DrawingRequest = z.infer<typeof drawingRequest>;

const general3Side = integerIn(512, 2048).default(1328);

/**
 * `/doubao/drawing` with `model_version: "general_v3.0"` (Visual's `high_aes_general_v30l_zt2i`, VISUAL-ASYNC.md §2):
 * its own fields and defaults — no req_schedule_conf, steps or super-resolution; sides 512–2048.
 */
export const general3Request = z.object({
  prompt: prompt(),
  model_version: z.literal("general_v3.0", { error: 'must be "general_v3.0"' }),
  use_pre_llm: boolean().default(false),
  seed: integerIn(-1, SEED_MAX).default(-1),
  scale: numberIn(1, 10).default(2.5),
  width: general3Side,
  height: general3Side,
  return_url: boolean().default(true),
  logo_info: logoInfo,
});
export type General3Request = z.infer<typeof general3Request>;
export type LogoInfo = DrawingRequest["logo_info"];

const tenth = (fallback: number) =>
  z
    .number({ error: "must be one of 0, 0.1, 0.2, …, 1" })
    .refine((value) => value >= 0 && value <= 1 && Math.abs(value * 10 - Math.round(value * 10)) < 1e-9, {
      error: "must be one of 0, 0.1, 0.2, …, 1",
    })
    .default(fallback);

const portraitSide = integerIn(512, 2048).default(1328);

/** `/doubao/drawing/portrait` (CONTRACT.md §2.4). */
export const portraitRequest = z.object({
  image_input: z
    .string({ error: "must be one photo: an http(s) URL or a data URL data:image/<png|jpeg>;base64,<…>" })
    .min(1, { error: "must be one photo: an http(s) URL or a data URL data:image/<png|jpeg>;base64,<…>" }),
  prompt: z.string({ error: "must be a string" }).refine((value) => characters(value) <= MAX_PROMPT_CHARS, { error: `must be at most ${MAX_PROMPT_CHARS} characters` }).optional(),
  width: portraitSide,
  height: portraitSide,
  gpen: tenth(0.4),
  skin: tenth(0.3),
  skin_unifi: tenth(0),
  gen_mode: z
    .enum(["creative", "reference", "reference_char"], { error: "must be creative, reference or reference_char" })
    .optional(),
  seed: integerOrString(-1, SEED_MAX).default(-1),
});
export type PortraitRequest = z.infer<typeof portraitRequest>;

export const portraitQuery = z.object({ response_format: responseFormat.default("url") });

/** The first look at an Ark-family body: which model, so the right schema can take over. */
export const arkModelField = z.object({
  model: z.string({ error: "must be a string naming a served model" }).min(1, { error: "must be a string naming a served model" }),
});

/** A multipart field (always a string) read as a number when it spells one. */
const fromForm = <Schema extends z.ZodType>(schema: Schema) =>
  z.preprocess((value) => (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value)) ? Number(value) : value), schema);
const formBoolean = () =>
  z.preprocess((value) => (value === "true" ? true : value === "false" ? false : value), z.boolean({ error: 'must be "true" or "false"' }));

/** `/v1/images/edits` as the openai SDK's `images.edit` sends it (multipart; `image` is the file part). */
/** `/v1/images/edits` for a Seedream 4.x/5.x model: the files are its reference images (routes/edits.ts). */
export const seedream4EditsForm = z.object({
  prompt: prompt(),
  response_format: responseFormat.default("url"),
  n: fromForm(integerIn(1, 4)).default(1),
  size: z.string({ error: 'must be a size keyword such as "2K" or "<W>x<H>"' }).optional(),
  watermark: formBoolean().default(true),
  output_format: z.string({ error: "must be a string" }).optional(),
});

export const editsForm = z.object({
  model: z.literal(SEEDEDIT_3_I2I).default(SEEDEDIT_3_I2I),
  prompt: prompt(),
  response_format: responseFormat.default("url"),
  n: fromForm(integerIn(1, 4)).default(1),
  size: z
    .literal("adaptive", { error: `must be "adaptive": ${SEEDEDIT_3_I2I} picks the output size from the input image's ratio` })
    .default("adaptive"),
  seed: fromForm(integerIn(-1, SEED_MAX)).default(-1),
  guidance_scale: fromForm(numberIn(1, 10)).default(5.5),
  watermark: formBoolean().default(true),
});

const limitCount = (what: string) =>
  z.number({ error: `must be a positive integer (${what}) or null for no limit` }).int({ error: `must be a positive integer (${what}) or null for no limit` })
    .min(1, { error: `must be at least 1 (${what}), or null for no limit` }).max(1_000_000_000).nullable();
const money = z.number({ error: "must be an amount ≥ 0 in the price currency, or null for no limit" }).min(0, { error: "must be ≥ 0, or null for no limit" }).max(1_000_000_000).nullable();

/**
 * An API key's settings (`POST /admin/keys`, `PATCH /admin/keys/{id}`); every field optional, `null` removes a
 * limit. `modelIds` restricts `allowed_models` to the models a gateway serves (the gateway passes its own).
 */
export function keySettingsSchema(modelIds?: readonly string[]) {
  const modelId = modelIds && modelIds.length > 0
    ? z.enum(modelIds as [string, ...string[]], { error: `must list models among ${modelIds.join(", ")}` })
    : z.string({ error: "must be a model id" }).min(1, { error: "must be a model id" });
  return z.strictObject({
    name: z.string({ error: "must be a string" }).trim().min(1, { error: "must not be empty" }).max(100, { error: "must be at most 100 characters" }),
    role: z.enum(["user", "admin"], { error: 'must be "user" or "admin"' }),
    expires_at: z.iso.datetime({ offset: true, error: "must be an ISO 8601 date-time such as 2027-01-01T00:00:00Z, or null" }).nullable(),
    allowed_models: z.array(modelId, { error: "must be a list of model ids, or null for all" }).min(1, { error: "must list at least one model, or be null for all" }).nullable(),
    rpm_limit: limitCount("requests per minute"),
    concurrency_limit: limitCount("requests at a time"),
    daily_image_quota: limitCount("images per day"),
    total_image_quota: limitCount("images in total"),
    daily_spend_limit: money,
    total_spend_limit: money,
    webhook_url: z.string({ error: "must be an http(s) URL of at most 2048 characters, or null for none" })
      .max(2048, { error: "must be an http(s) URL of at most 2048 characters, or null for none" })
      .regex(/^https?:\/\/[^\s/]+/, { error: "must be an http(s) URL of at most 2048 characters, or null for none" })
      .nullable(),
    failed_images: z.enum(["inline", "omit"], { error: 'must be "inline" (an error item at its place, as Ark answers) or "omit" (failed images left out of data and listed in failed)' }),
  }).partial();
}
export const keySettings = keySettingsSchema();
export type KeySettings = z.input<typeof keySettings>;

const DAY = /^\d{4}-\d{2}-\d{2}$/;
/** A calendar day `YYYY-MM-DD` that exists (2026-13-45 does not). */
const day = () =>
  z.string({ error: "must be a day, YYYY-MM-DD" })
    .regex(DAY, { error: "must be a day, YYYY-MM-DD" })
    .refine((value) => {
      const time = Date.parse(`${value}T00:00:00Z`);
      return Number.isFinite(time) && new Date(time).toISOString().startsWith(value);
    }, { error: "must be a day that exists, YYYY-MM-DD" });

/** `?since=&until=&group_by=&key=&format=` of `GET /v1/usage` and `GET /admin/usage`; days in the gateway's usage time zone. */
export const usageQuery = z.strictObject({
  since: day().optional(),
  until: day().optional(),
  group_by: z.string().regex(/^(key|model|day)(,(key|model|day))*$/, { error: "must be a comma-separated list of key, model, day" }).optional(),
  key: z.string().min(1).optional(),
  format: z.enum(["json", "csv"], { error: "must be json or csv" }).optional(),
});
export type UsageQuery = z.input<typeof usageQuery>;

/** `GET /admin/requests`: the newest requests in the ledger. */
export const recentRequestsQuery = z.strictObject({
  limit: z
    .string({ error: "must be an integer in [1, 500]" })
    .refine((value) => /^\d{1,3}$/.test(value) && Number(value) >= 1 && Number(value) <= 500, { error: "must be an integer in [1, 500]" })
    .transform(Number)
    .optional()
    .describe("How many rows: an integer in [1, 500]; default 50"),
  key: z.string().min(1).optional().describe("Only this key's requests (its id)"),
});

/** The first rule an input breaks, in the words of the gateway's 400 (`param` and `message`). */
export interface FieldProblem {
  field: string;
  message: string;
  /** The field is required and absent (the gateway's `MissingParameter`). */
  missing: boolean;
}

/** A short, safe rendering of a bad value for an error message (never the whole of a huge string). */
function describeValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return `${typeof value} ${String(value)}`;
}

/**
 * A zod issue as the field it names and the gateway's message for it; `prefix` names the part of the request the
 * schema checked. Parse with `{ reportInput: true }` so that the message can say what was sent.
 */
export function issueProblem(issue: z.core.$ZodIssue | undefined, prefix = ""): FieldProblem {
  if (!issue) return { field: prefix || "body", message: "is invalid", missing: false };
  if (issue.code === "unrecognized_keys") {
    const field = [prefix, ...issue.path.map(String), issue.keys[0]].filter(Boolean).join(".");
    return { field, message: `Invalid parameter \`${field}\`: is not a known field.`, missing: false };
  }
  const field = [prefix, ...issue.path.map(String)].filter(Boolean).join(".") || "body";
  if (issue.code === "invalid_type" && "input" in issue && issue.input === undefined) {
    return { field, message: `Missing required parameter \`${field}\`.`, missing: true };
  }
  const got = "input" in issue && issue.input !== undefined ? ` (got ${describeValue(issue.input)})` : "";
  return { field, message: `Invalid parameter \`${field}\`: ${issue.message}${got}.`, missing: false };
}

/** The first rule `input` breaks under `schema` (as the gateway would answer it), or undefined when it keeps them all. */
export function firstProblem(schema: z.ZodType, input: unknown, prefix = ""): FieldProblem | undefined {
  const result = schema.safeParse(input, { reportInput: true });
  return result.success ? undefined : issueProblem(result.error.issues[0], prefix);
}
