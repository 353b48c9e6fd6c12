/**
 * Visual's asynchronous image models as the emulator plays them (VISUAL-ASYNC.md): `CVSync2AsyncSubmitTask` checks a
 * request like the service and answers a `task_id`; `CVSync2AsyncGetResult` reports `in_queue`, then `generating`,
 * then `done` with the images (or the failure a finished task carries), `not_found` for a task it does not know or
 * one older than its lifetime, and `expired` for one that must be submitted again.
 *
 * Models: SeedEdit 3.0 on CV (`seededit_v3.0`, one input image), Jimeng 4.0 (`jimeng_t2i_v40`) and 4.6
 * (`jimeng_seedream46_cvtob`), with their fields and ranges. A Jimeng task makes one image, or the number a
 * `[[images:N]]` marker in its prompt asks (at most 15 less its inputs; `force_single` makes one). A marker
 * `[[result:CODE]]` makes the finished task fail with that Visual code (50511: the output image refused), and
 * `[[result:expired]]` makes it `expired`; submit-time failures are the emulator's ordinary faults.
 */
import { randomBytes } from "node:crypto";

/** How a task's time passes; each phase in ms. */
export interface AsyncTiming {
  /** `in_queue` after the submit; default 150. */
  queueMs: number;
  /** then `generating`; default 350. */
  generateMs: number;
  /** A task older than this is `not_found`; default 12 h, as Volcengine keeps them. */
  lifetimeMs: number;
}

export const DEFAULT_ASYNC_TIMING: AsyncTiming = { queueMs: 150, generateMs: 350, lifetimeMs: 12 * 3600 * 1000 };

/** What a finished task made, or the failure it carries. */
type Outcome = { images: Array<{ bytes: Buffer; format: "jpeg" | "png" }> } | { code: number; message: string } | "expired";

interface Task {
  reqKey: string;
  submittedAt: number;
  /** Made once, at the first query after `done`: the images are rendered when they are due. */
  make: () => Promise<Outcome>;
  outcome?: Promise<Outcome>;
}

/** A Visual business failure to answer: its HTTP status, code and message. */
export class AsyncFailure extends Error {
  constructor(readonly status: number, readonly code: number, message: string) {
    super(message);
  }
}

export interface AsyncHelpers {
  now: () => number;
  /** The request's image by URL or data URL (`image_urls` items), or fails. */
  loadImage: (value: string, fail: (message: string) => never) => Promise<Buffer>;
  checkImage: (bytes: Buffer, fail: (message: string) => never) => Promise<{ width: number; height: number }>;
  renderPicture: (input: { prompt: string; seed: number; width: number; height: number }) => Promise<Buffer>;
  renderFromImage: (source: Buffer, input: { prompt: string; seed: number; width: number; height: number }) => Promise<Buffer>;
  toPng: (jpeg: Buffer) => Promise<Buffer>;
  /** Stores a result for `/results/:name` and answers its name. */
  keep: (bytes: Buffer, format: "jpeg" | "png") => string;
}

const JIMENG = {
  jimeng_t2i_v40: { maxInputs: 10, scale: { min: 0, max: 1, integer: false, fallback: 0.5 } },
  jimeng_seedream46_cvtob: { maxInputs: 14, scale: { min: 1, max: 100, integer: true, fallback: 50 } },
} as const;
export const ASYNC_REQ_KEYS = ["seededit_v3.0", ...Object.keys(JIMENG)] as const;

const isInteger = (value: unknown): value is number => typeof value === "number" && Number.isInteger(value);
const isNumber = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value);
const invalid = (field: string): never => {
  throw new AsyncFailure(400, 50200, `Request Invalid Args: ${field}`);
};
const seedOf = (value: unknown) => {
  const seed = value ?? -1;
  if (!isInteger(seed)) return invalid("seed");
  return seed === -1 ? Math.floor(Math.random() * 2147483647) : seed;
};

export function createVisualTasks(helpers: AsyncHelpers, timing: AsyncTiming = DEFAULT_ASYNC_TIMING) {
  const tasks = new Map<string, Task>();
  const stats = { submitted: 0, queries: 0 };

  /** The images of a submit, each as bytes: `image_urls` (URLs or data URLs) or `binary_data_base64` (raw base64). */
  async function inputs(body: Record<string, unknown>, most: number): Promise<Buffer[]> {
    const urls = body.image_urls;
    const raw = body.binary_data_base64;
    if (urls !== undefined && (!Array.isArray(urls) || urls.some((item) => typeof item !== "string"))) invalid("image_urls");
    if (raw !== undefined && (!Array.isArray(raw) || raw.some((item) => typeof item !== "string"))) invalid("binary_data_base64");
    const list: Buffer[] = [];
    for (const item of (urls as string[] | undefined) ?? []) {
      list.push(await helpers.loadImage(item, () => {
        throw new AsyncFailure(400, 50206, "Image Empty Or Download Failed");
      }));
    }
    for (const item of (raw as string[] | undefined) ?? []) list.push(Buffer.from(item, "base64"));
    if (list.length > most) invalid(urls !== undefined ? "image_urls" : "binary_data_base64");
    for (const bytes of list) {
      await helpers.checkImage(bytes, () => {
        throw new AsyncFailure(400, 50207, "Image Decode Error");
      });
    }
    return list;
  }

  /** Checks a submit as the service does and answers what its task will make. */
  async function planned(body: Record<string, unknown>): Promise<() => Promise<Outcome>> {
    const reqKey = body.req_key;
    if (typeof body.prompt !== "string" || body.prompt.length === 0) throw new AsyncFailure(400, 50201, "Request Missing Args: prompt");
    const prompt = body.prompt;
    const resultMarker = /\[\[result:(\w+)\]\]/.exec(prompt)?.[1];
    const failing = (): Outcome | undefined => {
      if (resultMarker === "expired") return "expired";
      if (resultMarker && /^\d+$/.test(resultMarker)) return { code: Number(resultMarker), message: Number(resultMarker) === 50511 ? "Post Img Risk Not Pass" : "Internal Error" };
      return undefined;
    };
    if (reqKey === "seededit_v3.0") {
      const scale = body.scale ?? 0.5;
      if (!isNumber(scale) || scale < 0 || scale > 1) invalid("scale");
      const [source, ...more] = await inputs(body, 1);
      if (!source || more.length > 0) throw new AsyncFailure(400, 50201, "Request Missing Args: image");
      const size = await helpers.checkImage(source, () => invalid("image"));
      const seed = seedOf(body.seed);
      return async () => failing() ?? { images: [{ bytes: await helpers.renderFromImage(source, { prompt, seed, ...size }), format: "jpeg" }] };
    }
    if (typeof reqKey === "string" && reqKey in JIMENG) {
      const model = JIMENG[reqKey as keyof typeof JIMENG];
      if ([...prompt].length > 800) invalid("prompt");
      const references = await inputs(body, model.maxInputs);
      const scale = body.scale ?? model.scale.fallback;
      if (!isNumber(scale) || scale < model.scale.min || scale > model.scale.max || (model.scale.integer && !Number.isInteger(scale))) invalid("scale");
      if (body.force_single !== undefined && typeof body.force_single !== "boolean") invalid("force_single");
      let width: number;
      let height: number;
      if (body.width !== undefined || body.height !== undefined) {
        if (!isInteger(body.width) || !isInteger(body.height)) return invalid("width");
        ({ width, height } = { width: body.width, height: body.height });
      } else {
        const area = body.size ?? 2048 * 2048;
        if (!isInteger(area)) return invalid("size");
        width = height = Math.round(Math.sqrt(area));
      }
      const pixels = width * height;
      if (pixels < 1024 * 1024 || pixels > 4096 * 4096 || width * 16 < height || height * 16 < width) invalid(body.width !== undefined ? "width" : "size");
      const asked = Number(/\[\[images:(\d+)\]\]/.exec(prompt)?.[1] ?? 1);
      const count = body.force_single === true ? 1 : Math.max(1, Math.min(asked, 15 - references.length));
      const seed = seedOf(body.seed);
      return async () => {
        const failed = failing();
        if (failed) return failed;
        const images = [];
        for (let index = 0; index < count; index += 1) {
          const input = { prompt, seed: seed + index, width, height };
          const jpeg = references[0] ? await helpers.renderFromImage(references[0], input) : await helpers.renderPicture(input);
          images.push({ bytes: await helpers.toPng(jpeg), format: "png" as const });
        }
        return { images };
      };
    }
    return invalid("req_key");
  }

  return {
    stats,
    /** `CVSync2AsyncSubmitTask`. */
    async submit(body: Record<string, unknown>): Promise<{ task_id: string }> {
      const make = await planned(body);
      const id = randomBytes(10).toString("hex");
      tasks.set(id, { reqKey: String(body.req_key), submittedAt: helpers.now(), make });
      stats.submitted += 1;
      return { task_id: id };
    },
    /** `CVSync2AsyncGetResult`: the task's status, and when done its images (`return_url` from `req_json`) or failure. */
    async result(body: Record<string, unknown>, base: string): Promise<{ status: string; image_urls?: string[] | null; binary_data_base64?: string[] | null } | AsyncFailure> {
      stats.queries += 1;
      if (typeof body.task_id !== "string" || body.task_id.length === 0) throw new AsyncFailure(400, 50201, "Request Missing Args: task_id");
      let returnUrl = false;
      if (body.req_json !== undefined) {
        if (typeof body.req_json !== "string") invalid("req_json");
        try {
          returnUrl = (JSON.parse(body.req_json as string) as { return_url?: unknown }).return_url === true;
        } catch {
          invalid("req_json");
        }
      }
      const task = tasks.get(body.task_id);
      const age = task ? helpers.now() - task.submittedAt : Number.POSITIVE_INFINITY;
      if (!task || task.reqKey !== body.req_key || age > timing.lifetimeMs) return { status: "not_found", image_urls: null, binary_data_base64: null };
      if (age < timing.queueMs) return { status: "in_queue", image_urls: null, binary_data_base64: null };
      if (age < timing.queueMs + timing.generateMs) return { status: "generating", image_urls: null, binary_data_base64: null };
      task.outcome ??= task.make();
      const outcome = await task.outcome;
      if (outcome === "expired") return { status: "expired", image_urls: null, binary_data_base64: null };
      if ("code" in outcome) return new AsyncFailure(400, outcome.code, outcome.message);
      return {
        status: "done",
        image_urls: returnUrl ? outcome.images.map((image) => `${base}/results/${helpers.keep(image.bytes, image.format)}`) : null,
        binary_data_base64: returnUrl ? null : outcome.images.map((image) => image.bytes.toString("base64")),
      };
    },
  };
}
