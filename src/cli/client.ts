/**
 * The client commands of `doubao-gateway`: make images from a terminal over the SDK — generate, edit,
 * draw, portrait, tasks, models. On a terminal a progress line (elapsed time; per image when streaming)
 * goes to stderr; stdout gets only the saved paths, one per line (or the raw answer with --json), so
 * scripts can read it. Exit 0 ok, 1 the request was refused or failed, 2 a usage error.
 */
import { stat } from "node:fs/promises";
import { parseArgs, type ParseArgsConfig } from "node:util";
import { DoubaoClient, DoubaoError, imagesOf, type ImagesResponse } from "@doubao-gateway/sdk";
import { nameFor, readInput, saveImageRefs } from "@doubao-gateway/sdk/node";
import { UsageError } from "./usage.js";

const COMMON = `Connection (every command):
  --base-url URL   the gateway (or https://api.302.ai); default DOUBAO_BASE_URL or http://127.0.0.1:8302
  --key KEY        the API key; default DOUBAO_API_KEY
  --timeout-ms N   per attempt (default 120000); failed attempts are retried twice
Output:
  --out PATH       a folder (saved as <prompt>-<time>.jpeg) or a file name (numbered when there are several);
                   default the current folder. An existing file is never overwritten (-2, -3, … is added)
  --json           print the raw answer (JSON) instead of the saved paths; saves only with --out
Exit status: 0 ok, 1 the request was refused or failed (the message says why), 2 a usage error.`;

export const CLIENT_HELP: Record<string, string> = {
  generate: `doubao-gateway generate PROMPT [options] — make images (Seedream 4.x/5.x, 3.0)

Options:
  --model M          default doubao-seedream-4-5-251128 (see: doubao-gateway models)
  --size S           a keyword (2K, 4K, …) or WxH, e.g. 2048x2048
  --image P          a reference image: a file path or an http(s) URL; repeat for several
  --max-images N     group generation: up to N images in one request
  --n N              exactly N images (N separate calls)
  --format F         jpeg or png (5.x models)
  --no-watermark     no "AI生成" mark (the upstream's default is to mark)
  --stream           show and save each image as it is made

${COMMON}

Examples:
  doubao-gateway generate "a lighthouse at dawn, oil painting" --size 2K
  doubao-gateway generate "the two of them on four postcards" --image a.png --image b.png --max-images 4 --out cards/
  doubao-gateway generate "a comic in three panels" --max-images 3 --stream --json > answer.json
`,
  edit: `doubao-gateway edit IMAGE... --prompt P [options] — change images (each a file path or an http(s) URL)

Options:
  --prompt P         what to change (required)
  --model M          default doubao-seedream-4-5-251128; doubao-seededit-3-0-i2i-250628 takes one image
  --size S           a keyword or WxH (default: the model's)
  --no-watermark

${COMMON}

Examples:
  doubao-gateway edit photo.jpeg --prompt "make it snow"
  doubao-gateway edit a.png b.png --prompt "put the cat from the first into the second" --out edited.jpeg
`,
  draw: `doubao-gateway draw PROMPT [options] — the general drawing models (v2.x)

Options:
  --model-version V  general_v2.1_L (default), general_v2.0_L or general_v2.0
  --width N, --height N   256–768 (general_v2.0: 256–680); default 512
  --no-sr            no super-resolution (by default the output is twice the size)

${COMMON}

Example:
  doubao-gateway draw "千军万马" --width 768 --height 512
`,
  portrait: `doubao-gateway portrait PHOTO [options] — a portrait photo from one photo of a person (a path or an http(s) URL)

Options:
  --prompt P         a style (then gen_mode is creative)
  --width N, --height N   512–2048; default 1328
  --gen-mode M       creative, reference or reference_char

${COMMON}

Example:
  doubao-gateway portrait docs/sample-portrait.jpeg --width 1024 --height 1024
`,
  tasks: `doubao-gateway tasks get|wait TASK_ID [options] — tasks made with ?async=true

  tasks get ID       print the task's state (JSON)
  tasks wait ID      wait for it (progress on a terminal), then save its images like generate

${COMMON}

Example:
  doubao-gateway tasks wait 20261122071530A1B2C3D4E5F60718 --out results/
`,
  models: `doubao-gateway models [list | show ID] [options] — the models the gateway serves now

  models             one line per model: id, kind, lifecycle, aliases
  models show ID     one model with its capabilities (JSON); an alias works too

${COMMON}

Examples:
  doubao-gateway models
  doubao-gateway models show seedream-4.5
`,
};

const CONNECTION = {
  "base-url": { type: "string" },
  key: { type: "string" },
  "timeout-ms": { type: "string" },
  out: { type: "string" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies ParseArgsConfig["options"];

/** Parses a command's arguments; unknown flags and bad values are usage errors (exit 2) that say what to do. */
function parse<Options extends NonNullable<ParseArgsConfig["options"]>>(command: string, args: string[], options: Options) {
  const all = { ...CONNECTION, ...options };
  try {
    return parseArgs({ args, options: all, allowPositionals: true, allowNegative: true, strict: true });
  } catch (error) {
    throw UsageError.fromParseArgs(error as Error, Object.keys(all), command);
  }
}

function integer(name: string, value: string | undefined, min: number, max: number): number | undefined {
  if (value === undefined) return undefined;
  const number = Number(value);
  if (!Number.isInteger(number) || number < min || number > max) throw new UsageError(`--${name} must be an integer in [${min}, ${max}]; got "${value}".`);
  return number;
}

interface Connection {
  client: DoubaoClient;
  out: string | undefined;
  json: boolean;
  fetch: typeof fetch;
}

function connect(values: { "base-url"?: string | undefined; key?: string | undefined; "timeout-ms"?: string | undefined; out?: string | undefined; json?: boolean | undefined }): Connection {
  const baseUrl = values["base-url"] ?? process.env.DOUBAO_BASE_URL ?? "http://127.0.0.1:8302";
  const apiKey = values.key ?? process.env.DOUBAO_API_KEY;
  if (!apiKey) throw new UsageError("No API key: pass --key KEY or set DOUBAO_API_KEY (npm start prints the first key once).");
  if (!/^https?:\/\//.test(baseUrl)) throw new UsageError(`--base-url must be an http(s) URL; got "${baseUrl}".`);
  const timeoutMs = integer("timeout-ms", values["timeout-ms"], 1, 3_600_000);
  const fetchFunction: typeof fetch = (...args) => globalThis.fetch(...args);
  return { client: new DoubaoClient({ baseUrl, apiKey, fetch: fetchFunction, ...(timeoutMs ? { timeoutMs } : {}) }), out: values.out, json: values.json ?? false, fetch: fetchFunction };
}

/** A progress line on stderr while stdout is a terminal; nothing otherwise. */
class Progress {
  private readonly started = Date.now();
  private timer: NodeJS.Timeout | undefined;
  private text = "";
  private running = false;
  constructor(private readonly enabled: boolean) {}
  start(text: string): this {
    this.text = text;
    this.running = true;
    if (this.enabled) {
      this.draw();
      this.timer = setInterval(() => this.draw(), 200);
    }
    return this;
  }
  update(text: string): void {
    this.text = text;
    if (this.enabled) this.draw();
  }
  /** A line that stays (an image saved while the stream goes on). */
  note(line: string): void {
    if (this.enabled) process.stderr.write(`\r\x1b[K${line}\n`);
  }
  stop(): void {
    if (!this.running) return;
    this.running = false;
    clearInterval(this.timer);
    if (this.enabled) process.stderr.write("\r\x1b[K");
  }
  private draw(): void {
    process.stderr.write(`\r\x1b[K${this.text} ${((Date.now() - this.started) / 1000).toFixed(1)} s`);
  }
}

const onTerminal = () => Boolean(process.stdout.isTTY);

/** Where images go: the folder and base name from --out (a folder, or a file name) or from the prompt and the time. */
async function destination(out: string | undefined, prompt: string): Promise<{ dir: string; name: string }> {
  if (out === undefined) return { dir: ".", name: nameFor(prompt) };
  const isDir = out.endsWith("/") || (await stat(out).then((info) => info.isDirectory(), () => false));
  if (isDir) return { dir: out, name: nameFor(prompt) };
  const slash = out.lastIndexOf("/");
  const file = out.slice(slash + 1).replace(/\.(jpe?g|png)$/i, "");
  return { dir: slash >= 0 ? out.slice(0, slash) || "/" : ".", name: file };
}

/** Makes one request with a progress line (stopped before anything is printed), then saves and prints its images. */
async function requestAndSave(connection: Connection, text: string, call: () => Promise<unknown>, prompt: string): Promise<number> {
  const progress = new Progress(onTerminal() && !connection.json).start(text);
  let answer: unknown;
  try {
    answer = await call();
  } finally {
    progress.stop();
  }
  return finish(connection, answer, prompt);
}

async function finish(connection: Connection, answer: unknown, prompt: string): Promise<number> {
  if (connection.json) {
    process.stdout.write(`${JSON.stringify(answer, null, 2)}\n`);
    if (connection.out === undefined) return 0;
  }
  const refs = imagesOf(answer as ImagesResponse);
  const paths = await saveImageRefs(refs, { ...(await destination(connection.out, prompt)), fetch: connection.fetch });
  if (!connection.json) process.stdout.write(paths.map((path) => `${path}\n`).join(""));
  const data = (answer as ImagesResponse).data;
  const failed = Array.isArray(data) ? data.filter((item) => item && typeof item === "object" && "error" in item) : [];
  for (const item of failed as Array<{ error: { code: string; message: string } }>) process.stderr.write(`one image was not made: ${item.error.code}: ${item.error.message}\n`);
  return paths.length > 0 ? 0 : 1;
}

async function generate(args: string[]): Promise<number> {
  const { values, positionals } = parse("generate", args, {
    model: { type: "string" }, size: { type: "string" }, image: { type: "string", multiple: true }, "max-images": { type: "string" }, n: { type: "string" },
    format: { type: "string" }, watermark: { type: "boolean" }, stream: { type: "boolean" },
  });
  if (values.help) return help("generate");
  const prompt = positionals.join(" ").trim();
  if (!prompt) throw new UsageError('generate needs a prompt: doubao-gateway generate "a lighthouse at dawn"', "generate");
  if (values.format !== undefined && values.format !== "jpeg" && values.format !== "png") throw new UsageError(`--format must be jpeg or png; got "${values.format}".`, "generate");
  const maxImages = integer("max-images", values["max-images"], 1, 15);
  const n = integer("n", values.n, 1, 4);
  const connection = connect(values);
  const images = await Promise.all((values.image ?? []).map((input) => readInput(input).catch((error: Error) => {
    throw new UsageError(`--image ${input}: ${error.message}`, "generate");
  })));
  const body = {
    model: values.model ?? "doubao-seedream-4-5-251128", prompt,
    ...(values.size ? { size: values.size } : {}),
    ...(images.length === 1 ? { image: images[0] as string } : images.length > 1 ? { image: images } : {}),
    ...(maxImages ? { sequential_image_generation: "auto" as const, sequential_image_generation_options: { max_images: maxImages } } : {}),
    ...(values.format ? { output_format: values.format } : {}),
    ...(values.watermark === false ? { watermark: false } : {}),
    response_format: "b64_json" as const,
  };
  if (!values.stream) return requestAndSave(connection, `generating with ${body.model}…`, () => connection.client.images.generate(n ? { ...body, n } : body), prompt);
  const progress = new Progress(onTerminal() && !connection.json).start(`generating with ${body.model}…`);
  try {
    const events: unknown[] = [];
    const saved: string[] = [];
    const where = await destination(connection.out, prompt);
    for await (const event of connection.client.images.generateStream(body)) {
      events.push(event);
      if (event.type === "image_generation.partial_succeeded") {
        const [path] = await saveImageRefs([event.b64_json ? { b64: event.b64_json } : { url: event.url as string }], { dir: where.dir, name: `${where.name}-${event.image_index + 1}`, fetch: connection.fetch });
        saved.push(path as string);
        progress.note(`image ${event.image_index + 1} saved: ${path as string}`);
        if (!connection.json && !onTerminal()) process.stdout.write(`${path as string}\n`);
        progress.update(`waiting for image ${event.image_index + 2}…`);
      } else if (event.type === "image_generation.partial_failed") {
        progress.note(`image ${event.image_index + 1} was not made: ${event.error.code}: ${event.error.message}`);
        if (!onTerminal()) process.stderr.write(`image ${event.image_index + 1} was not made: ${event.error.code}: ${event.error.message}\n`);
      }
    }
    progress.stop();
    if (connection.json) process.stdout.write(`${JSON.stringify(events, null, 2)}\n`);
    else if (onTerminal()) process.stdout.write(saved.map((path) => `${path}\n`).join(""));
    return saved.length > 0 ? 0 : 1;
  } finally {
    progress.stop();
  }
}

async function edit(args: string[]): Promise<number> {
  const { values, positionals } = parse("edit", args, { prompt: { type: "string" }, model: { type: "string" }, size: { type: "string" }, watermark: { type: "boolean" } });
  if (values.help) return help("edit");
  if (positionals.length === 0) throw new UsageError("edit needs at least one image (a file path or an http(s) URL): doubao-gateway edit photo.jpeg --prompt \"make it snow\"", "edit");
  if (!values.prompt) throw new UsageError('edit needs --prompt: what to change, e.g. --prompt "make it snow"', "edit");
  const connection = connect(values);
  const images = await Promise.all(positionals.map((input) => readInput(input).catch((error: Error) => {
    throw new UsageError(`${input}: ${error.message}`, "edit");
  })));
  const body = {
    model: values.model ?? "doubao-seedream-4-5-251128", prompt: values.prompt, image: images.length === 1 ? (images[0] as string) : images,
    ...(values.size ? { size: values.size } : {}), ...(values.watermark === false ? { watermark: false } : {}), response_format: "b64_json" as const,
  };
  return requestAndSave(connection, `editing with ${body.model}…`, () => connection.client.images.generate(body as Parameters<DoubaoClient["images"]["generate"]>[0]), values.prompt);
}

async function draw(args: string[]): Promise<number> {
  const { values, positionals } = parse("draw", args, { "model-version": { type: "string" }, width: { type: "string" }, height: { type: "string" }, sr: { type: "boolean" } });
  if (values.help) return help("draw");
  const prompt = positionals.join(" ").trim();
  if (!prompt) throw new UsageError('draw needs a prompt: doubao-gateway draw "千军万马"', "draw");
  const width = integer("width", values.width, 256, 768);
  const height = integer("height", values.height, 256, 768);
  const connection = connect(values);
  const body = {
    prompt, return_url: false, ...(values["model-version"] ? { model_version: values["model-version"] as "general_v2.1_L" } : {}),
    ...(width ? { width } : {}), ...(height ? { height } : {}), ...(values.sr === false ? { use_sr: false } : {}),
  };
  return requestAndSave(connection, "drawing…", () => connection.client.drawing.create(body), prompt);
}

async function portrait(args: string[]): Promise<number> {
  const { values, positionals } = parse("portrait", args, { prompt: { type: "string" }, width: { type: "string" }, height: { type: "string" }, "gen-mode": { type: "string" } });
  if (values.help) return help("portrait");
  if (positionals.length !== 1) throw new UsageError("portrait needs exactly one photo (a file path or an http(s) URL): doubao-gateway portrait face.jpeg", "portrait");
  const width = integer("width", values.width, 512, 2048);
  const height = integer("height", values.height, 512, 2048);
  const connection = connect(values);
  const image = await readInput(positionals[0] as string).catch((error: Error) => {
    throw new UsageError(`${positionals[0] as string}: ${error.message}`, "portrait");
  });
  const body = {
    image_input: image, ...(values.prompt ? { prompt: values.prompt } : {}), ...(width ? { width } : {}), ...(height ? { height } : {}),
    ...(values["gen-mode"] ? { gen_mode: values["gen-mode"] as "creative" } : {}),
  };
  return requestAndSave(connection, "making the portrait…", () => connection.client.portrait.create(body, { responseFormat: "b64_json" }), values.prompt ?? "portrait");
}

async function tasks(args: string[]): Promise<number> {
  const { values, positionals } = parse("tasks", args, {});
  const [action, id] = positionals;
  if (values.help || action === undefined) return help("tasks", action === undefined && !values.help ? 2 : 0);
  if ((action !== "get" && action !== "wait") || !id || positionals.length > 2) throw new UsageError(`tasks takes "get ID" or "wait ID"; got "${positionals.join(" ")}".`, "tasks");
  const connection = connect(values);
  if (action === "get") {
    process.stdout.write(`${JSON.stringify(await connection.client.tasks.get(id), null, 2)}\n`);
    return 0;
  }
  const progress = new Progress(onTerminal() && !connection.json).start(`waiting for task ${id}…`);
  try {
    const answer = await connection.client.tasks.wait(id, { onProgress: ({ polls }) => progress.update(`waiting for task ${id} (poll ${polls})…`) });
    progress.stop();
    return await finish(connection, answer, `task-${id}`);
  } finally {
    progress.stop();
  }
}

async function models(args: string[]): Promise<number> {
  const { values, positionals } = parse("models", args, {});
  if (values.help) return help("models");
  const [action = "list", id] = positionals;
  const connection = connect(values);
  if (action === "show") {
    if (!id) throw new UsageError("models show needs a model id or alias: doubao-gateway models show seedream-4.5", "models");
    process.stdout.write(`${JSON.stringify(await connection.client.models.retrieve(id), null, 2)}\n`);
    return 0;
  }
  if (action !== "list") throw new UsageError(`models takes "list" or "show ID"; got "${action}".`, "models");
  const list = await connection.client.models.list();
  if (connection.json) {
    process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
    return 0;
  }
  const width = Math.max(...list.data.map((model) => model.id.length));
  for (const model of list.data) {
    const state = model.lifecycle.state + (model.lifecycle.served_by ? ` → ${model.lifecycle.served_by}` : "");
    process.stdout.write(`${model.id.padEnd(width)}  ${model.kind.padEnd(10)}  ${state.padEnd(38)}  ${model.aliases.join(", ")}\n`.replace(/\s+\n$/, "\n"));
  }
  return 0;
}

function help(command: string, code = 0): number {
  (code === 0 ? process.stdout : process.stderr).write(CLIENT_HELP[command] as string);
  return code;
}

export const CLIENT_COMMANDS: Record<string, (args: string[]) => Promise<number>> = { generate, edit, draw, portrait, tasks, models };

/** A failed request as one line (two with the request id): what the gateway said. */
export function describeFailure(error: unknown): string | undefined {
  if (!(error instanceof DoubaoError)) return undefined;
  const head = error.status ? `${error.status}${error.code ? ` ${error.code}` : ""}` : error.name;
  return `doubao-gateway: the request failed (${head}): ${error.message}${error.requestId ? `\n  request id: ${error.requestId}` : ""}\n`;
}
