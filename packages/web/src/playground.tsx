/**
 * The playground: a form per model family, every field of the model's capabilities (from `/v1/models`), checked
 * here with the gateway's own rules (the SDK's schemas and `capabilityProblem`) before anything is sent; results as
 * images with their size, download and copy-as-curl; streamed groups shown image by image; a history in the browser.
 */
import { capabilityProblem, imagesOf, type ArkStreamEvent, type DrawingResponse, type ImagesResponse, type ModelObject, type PortraitResponse } from "@doubao-gateway/sdk";
import { drawingRequest, firstProblem, general3Request, portraitRequest, seededitRequest, seedream4Request, DRAWING_MODEL_VERSIONS, SEEDEDIT_3_I2I } from "@doubao-gateway/sdk/schemas";
import { useEffect, useMemo, useRef, useState } from "preact/hooks";
import { baseUrl, client, describeError, type ShownError } from "./api.js";
import { Check, Field, ImagePicker, NumberField, Select, type PickedImage } from "./fields.js";
import { t, type MessageKey } from "./i18n.js";
import { copyText } from "./clipboard.js";

type Family = "seedream" | "seededit" | "drawing" | "portrait";

export interface ResultImage {
  index: number;
  src?: string;
  size?: string;
  error?: string;
}

interface Run {
  id: string;
  family: Family;
  model: string;
  prompt: string;
  endpoint: string;
  body: unknown;
  started: number;
  finished?: number;
  expected: number;
  images: ResultImage[];
  error?: ShownError;
}

interface Problem {
  field: string;
  message: string;
}

const HISTORY = "dg.history";
interface HistoryEntry {
  id: string;
  at: number;
  family: Family;
  model: string;
  prompt: string;
  images: Array<{ src: string; size?: string }>;
}
const readHistory = (): HistoryEntry[] => {
  try {
    return JSON.parse(localStorage.getItem(HISTORY) ?? "[]") as HistoryEntry[];
  } catch {
    return [];
  }
};

/** `curl` for a request, with the key as `$DOUBAO_KEY` (the secret never goes to the clipboard). */
export function curlOf(endpoint: string, body: unknown): string {
  const json = JSON.stringify(body).replaceAll("'", "'\\''");
  return `curl -s '${baseUrl()}${endpoint}' -H "Authorization: Bearer $DOUBAO_KEY" -H 'Content-Type: application/json' -d '${json}'`;
}

const dataUrlOf = (b64: string, format = "jpeg") => `data:image/${format};base64,${b64}`;

let runCount = 0;

export function Playground(props: { models: ModelObject[] | undefined; modelsError: ShownError | undefined }) {
  const [family, setFamily] = useState<Family>("seedream");
  const [run, setRun] = useState<Run | undefined>();
  const [history, setHistory] = useState<HistoryEntry[]>(readHistory);
  const [now, setNow] = useState(Date.now());
  const [reuse, setReuse] = useState<{ family: Family; prompt: string } | undefined>();
  const abort = useRef<AbortController | undefined>(undefined);
  const busy = run !== undefined && run.finished === undefined;

  useEffect(() => {
    if (!busy) return;
    const timer = setInterval(() => setNow(Date.now()), 100);
    return () => clearInterval(timer);
  }, [busy]);

  const remember = (finished: Run) => {
    const images = finished.images.filter((image) => image.src && !image.src.startsWith("data:")).map((image) => ({ src: image.src as string, ...(image.size ? { size: image.size } : {}) }));
    if (finished.error || finished.images.every((image) => !image.src)) return;
    const entry: HistoryEntry = { id: finished.id, at: finished.started, family: finished.family, model: finished.model, prompt: finished.prompt, images };
    const next = [entry, ...readHistory()].slice(0, 24);
    localStorage.setItem(HISTORY, JSON.stringify(next));
    setHistory(next);
  };

  /** Runs one request: `execute` reports images as they come (all at once, or one by one when streamed). */
  const start = async (spec: Omit<Run, "id" | "started" | "images">, execute: (signal: AbortSignal, add: (image: ResultImage) => void) => Promise<void>) => {
    abort.current?.abort();
    const controller = new AbortController();
    abort.current = controller;
    let current: Run = { ...spec, id: `run-${(runCount += 1)}`, started: Date.now(), images: [] };
    setRun(current);
    setNow(Date.now());
    const update = (change: Partial<Run>) => {
      current = { ...current, ...change };
      if (abort.current === controller) setRun(current);
    };
    try {
      await execute(controller.signal, (image) => update({ images: [...current.images, image].sort((a, b) => a.index - b.index) }));
      update({ finished: Date.now() });
      remember(current);
    } catch (error) {
      update({ finished: Date.now(), error: describeError(error) });
    }
    // On a phone the results are below the form: bring them into view.
    if (abort.current === controller && matchMedia("(max-width: 900px)").matches) document.getElementById("results-title")?.scrollIntoView({ behavior: "smooth" });
  };

  const families: Array<{ id: Family; label: MessageKey }> = [
    { id: "seedream", label: "family.seedream" }, { id: "seededit", label: "family.seededit" }, { id: "drawing", label: "family.drawing" }, { id: "portrait", label: "family.portrait" },
  ];
  const formProps = { models: props.models ?? [], busy, start, reuse: reuse?.family === family ? reuse.prompt : undefined };
  return (
    <div class="playground">
      <section class="panel form-panel" aria-labelledby="form-title">
        <h2 id="form-title" class="visually-hidden">{t("nav.playground")}</h2>
        <div class="tabs" role="tablist" aria-label={t("family.label")}>
          {families.map((item) => (
            <button key={item.id} type="button" role="tab" id={`tab-${item.id}`} aria-selected={family === item.id} aria-controls="family-panel" class={family === item.id ? "tab active" : "tab"} onClick={() => setFamily(item.id)}>
              {t(item.label)}
            </button>
          ))}
        </div>
        <div id="family-panel" role="tabpanel" aria-labelledby={`tab-${family}`}>
          {props.modelsError && <p class="error" role="alert">{props.modelsError.text}</p>}
          {family === "seedream" && <SeedreamForm {...formProps} />}
          {family === "seededit" && <SeededitForm {...formProps} />}
          {family === "drawing" && <DrawingForm {...formProps} />}
          {family === "portrait" && <PortraitForm {...formProps} />}
        </div>
        {busy && (
          <div class="progress" role="status" aria-live="polite">
            <span class="spinner" aria-hidden="true" />
            {run.expected > 1 && run.images.length > 0
              ? t("action.streaming", { done: run.images.length, total: run.expected, seconds: ((now - run.started) / 1000).toFixed(1) })
              : t("action.generating", { seconds: ((now - run.started) / 1000).toFixed(1) })}
            <button type="button" class="secondary" onClick={() => {
              abort.current?.abort();
              setRun(run && { ...run, finished: Date.now() });
            }}>{t("action.cancel")}</button>
          </div>
        )}
      </section>
      <section class="panel" aria-labelledby="results-title">
        <h2 id="results-title">{t("result.title")}</h2>
        <Results run={run} />
        <h2 id="history-title">{t("history.title")}</h2>
        <History entries={history} onClear={() => {
          localStorage.removeItem(HISTORY);
          setHistory([]);
        }} onUse={(entry) => {
          setFamily(entry.family);
          setReuse({ family: entry.family, prompt: entry.prompt });
        }} />
      </section>
    </div>
  );
}

function Results({ run }: { run: Run | undefined }) {
  const [copied, setCopied] = useState(false);
  if (!run) return <p class="muted">{t("result.none")}</p>;
  return (
    <div class="results" aria-live="polite">
      {run.error && (
        <div class="error" role="alert">
          <strong>{t("error.title")}</strong>
          <p>{run.error.text}</p>
          {run.error.requestId && <p class="muted small">{t("error.requestId", { id: run.error.requestId })}</p>}
        </div>
      )}
      {run.finished && !run.error && (
        <p class="muted">{t("result.took", { count: run.images.filter((image) => image.src).length, seconds: ((run.finished - run.started) / 1000).toFixed(1) })}</p>
      )}
      <div class="result-actions">
        <button type="button" class="secondary" onClick={async () => {
          await copyText(curlOf(run.endpoint, run.body));
          setCopied(true);
          setTimeout(() => setCopied(false), 1500);
        }}>{copied ? t("result.copied") : t("result.copyCurl")}</button>
      </div>
      <ul class="gallery">
        {run.images.map((image) => (
          <li key={image.index} class="card" data-index={image.index}>
            {image.src ? <ResultCard image={image} prompt={run.prompt} /> : <p class="error">{t("result.failedItem", { index: image.index + 1, message: image.error ?? "" })}</p>}
          </li>
        ))}
      </ul>
    </div>
  );
}

function ResultCard({ image, prompt }: { image: ResultImage; prompt: string }) {
  const [natural, setNatural] = useState<{ width: number; height: number } | undefined>();
  const src = image.src as string;
  const extension = src.startsWith("data:image/png") || src.endsWith(".png") ? "png" : "jpeg";
  return (
    <figure>
      <a href={src} target="_blank" rel="noopener">
        <img src={src} alt={t("result.imageAlt", { index: image.index + 1, prompt: prompt.slice(0, 60) })} class="result-image" onLoad={(event) => {
          const element = event.target as HTMLImageElement;
          setNatural({ width: element.naturalWidth, height: element.naturalHeight });
        }} />
      </a>
      <figcaption>
        <span class="size">{natural ? t("result.size", natural) : image.size?.replace("x", " × ") ?? "…"}</span>
        <a class="button secondary small" href={src} download={`doubao-${image.index + 1}.${extension}`}>{t("result.download")}</a>
      </figcaption>
    </figure>
  );
}

function History(props: { entries: HistoryEntry[]; onClear: () => void; onUse: (entry: HistoryEntry) => void }) {
  if (props.entries.length === 0) return <p class="muted">{t("history.none")}</p>;
  return (
    <div>
      <ul class="history">
        {props.entries.map((entry) => (
          <li key={entry.id}>
            <div class="history-thumbs">{entry.images.slice(0, 4).map((image, index) => <img key={index} src={image.src} alt="" loading="lazy" />)}</div>
            <div>
              <p class="history-prompt">{entry.prompt}</p>
              <p class="muted small">{entry.model} · {new Date(entry.at).toLocaleString()}</p>
              <button type="button" class="link" onClick={() => props.onUse(entry)}>{t("history.use")}</button>
            </div>
          </li>
        ))}
      </ul>
      <button type="button" class="secondary" onClick={props.onClear}>{t("history.clear")}</button>
    </div>
  );
}

interface FormProps {
  models: ModelObject[];
  busy: boolean;
  reuse: string | undefined;
  start: (spec: Omit<Run, "id" | "started" | "images">, execute: (signal: AbortSignal, add: (image: ResultImage) => void) => Promise<void>) => Promise<void>;
}

/** The items of an Ark answer as result images (a refused item keeps its place with its error). */
function addAnswer(answer: ImagesResponse, add: (image: ResultImage) => void) {
  answer.data.forEach((item, index) => {
    if ("error" in item && item.error) add({ index, error: item.error.message });
    else if ("url" in item && item.url) add({ index, src: item.url, ...(item.size ? { size: item.size } : {}) });
    else if ("b64_json" in item && item.b64_json) add({ index, src: dataUrlOf(item.b64_json, item.output_format === "png" ? "png" : "jpeg"), ...(item.size ? { size: item.size } : {}) });
  });
}

/** The images of a drawing or portrait answer (the Volcengine envelope: URLs or base64). */
function addEnvelope(answer: DrawingResponse | PortraitResponse, add: (image: ResultImage) => void) {
  imagesOf(answer).forEach((image, index) => add({ index, src: image.url ?? dataUrlOf(image.b64 ?? "") }));
}

function ResponseFormatField(props: { value: "url" | "b64_json"; onChange: (value: "url" | "b64_json") => void }) {
  return (
    <Select name="response_format" label={t("field.responseFormat")} value={props.value} options={[{ value: "url", label: t("field.responseFormat.url") }, { value: "b64_json", label: t("field.responseFormat.b64") }]}
      onChange={(value) => props.onChange(value as "url" | "b64_json")} />
  );
}

function usePrompt(reuse: string | undefined, initial = ""): [string, (value: string) => void] {
  const [prompt, setPrompt] = useState(initial);
  useEffect(() => {
    if (reuse !== undefined) setPrompt(reuse);
  }, [reuse]);
  return [prompt, setPrompt];
}

function PromptField(props: { value: string; onInput: (value: string) => void; error: string | undefined; label?: string; required?: boolean }) {
  return (
    <Field label={props.label ?? t("field.prompt")} help={`${t("field.prompt.help")} (${[...props.value].length}/4000)`} error={props.error} wide>
      {(id, describedBy) => (
        <textarea id={id} name="prompt" rows={3} value={props.value} required={props.required ?? true} aria-invalid={props.error ? "true" : undefined} aria-describedby={describedBy || undefined}
          onInput={(event) => props.onInput((event.target as HTMLTextAreaElement).value)} />
      )}
    </Field>
  );
}

function SubmitRow(props: { busy: boolean; problem: Problem | undefined; shown: Set<string> }) {
  return (
    <div class="submit-row wide">
      <button type="submit" class="primary" disabled={props.busy}>{t("action.generate")}</button>
      {props.problem && !props.shown.has(props.problem.field) && <p class="field-error" role="alert">{props.problem.message}</p>}
      {props.problem && props.shown.has(props.problem.field) && <p class="muted" role="status">{t("error.fields")}</p>}
    </div>
  );
}

const errorFor = (problem: Problem | undefined, ...fields: string[]) => (problem && fields.includes(problem.field) ? problem.message : undefined);
const numberOr = (text: string, fallback: number) => (text.trim() === "" ? fallback : Number(text));

function SeedreamForm({ models, busy, start, reuse }: FormProps) {
  const live = useMemo(() => models.filter((model) => model.kind === "seedream-4" && model.capabilities && model.lifecycle.state !== "retired"), [models]);
  const [modelId, setModelId] = useState("");
  const model = live.find((candidate) => candidate.id === modelId) ?? live.find((candidate) => candidate.id.includes("4-5")) ?? live[0];
  const caps = model?.capabilities;
  const [prompt, setPrompt] = usePrompt(reuse);
  const [size, setSize] = useState("");
  const [custom, setCustom] = useState({ width: "2048", height: "2048" });
  const [references, setReferences] = useState<PickedImage[]>([]);
  const [group, setGroup] = useState(false);
  const [maxImages, setMaxImages] = useState("4");
  const [stream, setStream] = useState(false);
  const [responseFormat, setResponseFormat] = useState<"url" | "b64_json">("url");
  const [outputFormat, setOutputFormat] = useState("");
  const [mode, setMode] = useState("");
  const [webSearch, setWebSearch] = useState(false);
  const [watermark, setWatermark] = useState(true);
  const [problem, setProblem] = useState<Problem | undefined>();
  if (!model || !caps) return <p class="muted">…</p>;
  const sizeChoice = size || caps.sizes.default;
  const sizeIsKeyword = caps.sizes.keywords.includes(sizeChoice);
  const ruleText = `${caps.sizes.min_pixels.toLocaleString()}–${caps.sizes.max_pixels?.toLocaleString() ?? "∞"} px`;

  const body = () => ({
    model: model.id,
    prompt,
    ...(references.length ? { image: references.length === 1 ? references[0]?.src : references.map((image) => image.src) } : {}),
    size: sizeChoice === "custom" ? `${custom.width}x${custom.height}` : sizeChoice,
    response_format: responseFormat,
    watermark,
    ...(group ? { sequential_image_generation: "auto" as const, sequential_image_generation_options: { max_images: numberOr(maxImages, Number.NaN) } } : {}),
    ...(stream ? { stream: true } : {}),
    ...(outputFormat ? { output_format: outputFormat } : {}),
    ...(mode ? { optimize_prompt_options: { mode } } : {}),
    ...(webSearch ? { tools: [{ type: "web_search" }] } : {}),
  });

  const submit = (event: Event) => {
    event.preventDefault();
    const request = body();
    const found = firstProblem(seedream4Request, request) ?? capabilityProblem(model.id, caps, { ...request, sequential_image_generation: request.sequential_image_generation ?? "disabled", stream: request.stream ?? false });
    setProblem(found);
    if (found) return;
    const expected = group ? numberOr(maxImages, 1) : 1;
    void start({ family: "seedream", model: model.id, prompt, endpoint: "/doubao/images/generations", body: request, expected }, async (signal, add) => {
      const sdk = client();
      if (stream) {
        const { stream: _stream, ...rest } = request;
        for await (const event of sdk.images.generateStream(rest, { signal }) as AsyncIterable<ArkStreamEvent>) {
          if (event.type === "image_generation.partial_succeeded") {
            add({ index: event.image_index, src: event.url ?? dataUrlOf(event.b64_json ?? "", outputFormat === "png" ? "png" : "jpeg"), size: event.size });
          } else if (event.type === "image_generation.partial_failed") {
            add({ index: event.image_index, error: event.error.message });
          }
        }
      } else {
        addAnswer(await sdk.images.generate(request, { signal }), add);
      }
    });
  };
  const maxRoom = caps.max_group_images - references.length;
  return (
    <form class="grid" onSubmit={submit} noValidate aria-label={t("family.seedream")}>
      <Select name="model" wide label={t("field.model")} help={t("field.model.help")} value={model.id} options={live.map((entry) => ({ value: entry.id, label: `${entry.id}${entry.lifecycle.state === "deprecated" ? " (deprecated)" : ""}` }))} onChange={(value) => {
        setModelId(value);
        setSize("");
        setOutputFormat("");
        setMode("");
      }} />
      <PromptField value={prompt} onInput={setPrompt} error={errorFor(problem, "prompt")} />
      <Select name="size" label={t("field.size")} help={t("field.size.help", { rule: ruleText })} error={errorFor(problem, "size")} value={sizeIsKeyword ? sizeChoice : "custom"}
        options={[...caps.sizes.keywords.map((keyword) => ({ value: keyword, label: keyword })), ...(caps.sizes.keywords.includes(caps.sizes.default) ? [] : [{ value: caps.sizes.default, label: caps.sizes.default }]), { value: "custom", label: t("field.size.custom") }]}
        onChange={setSize} />
      {sizeChoice === "custom" && (
        <div class="pair">
          <NumberField name="width" label={t("field.width")} value={custom.width} onInput={(width) => setCustom({ ...custom, width })} />
          <NumberField name="height" label={t("field.height")} value={custom.height} onInput={(height) => setCustom({ ...custom, height })} />
        </div>
      )}
      {caps.max_reference_images > 0 && (
        <ImagePicker name="references" label={t("field.references")} help={t("field.references.help", { max: caps.max_reference_images })} max={caps.max_reference_images} images={references} onChange={setReferences} error={errorFor(problem, "image")} />
      )}
      {caps.group_generation && <Check name="group" label={t("field.group")} help={t("field.group.help")} checked={group} onChange={setGroup} />}
      {group && (
        <NumberField name="max_images" label={t("field.maxImages")} help={t("field.maxImages.help", { max: Math.max(maxRoom, 1), total: caps.max_group_images })} value={maxImages} onInput={setMaxImages}
          error={errorFor(problem, "sequential_image_generation_options.max_images", "sequential_image_generation_options")} />
      )}
      {caps.stream && <Check name="stream" label={t("field.stream")} checked={stream} onChange={setStream} />}
      <ResponseFormatField value={responseFormat} onChange={setResponseFormat} />
      {caps.output_formats.length > 1 && <Select name="output_format" label={t("field.outputFormat")} value={outputFormat || (caps.output_formats[0] ?? "")} options={caps.output_formats.map((format) => ({ value: format, label: format }))} onChange={setOutputFormat} error={errorFor(problem, "output_format")} />}
      {caps.optimize_prompt_modes.length > 1 && <Select name="mode" label={t("field.optimize")} value={mode || (caps.optimize_prompt_modes[0] ?? "")} options={caps.optimize_prompt_modes.map((value) => ({ value, label: value }))} onChange={setMode} />}
      {caps.tools.includes("web_search") && <Check name="web_search" label={t("field.webSearch")} checked={webSearch} onChange={setWebSearch} />}
      <Check name="watermark" label={t("field.watermark")} checked={watermark} onChange={setWatermark} />
      <SubmitRow busy={busy} problem={problem} shown={new Set(["prompt", "size", "image", "sequential_image_generation_options.max_images", "sequential_image_generation_options", "output_format"])} />
    </form>
  );
}

function SeededitForm({ models, busy, start, reuse }: FormProps) {
  const model = models.find((entry) => entry.kind === "seededit-3") ?? models.find((entry) => entry.id === SEEDEDIT_3_I2I);
  const [prompt, setPrompt] = usePrompt(reuse);
  const [images, setImages] = useState<PickedImage[]>([]);
  const [guidance, setGuidance] = useState("5.5");
  const [seed, setSeed] = useState("-1");
  const [watermark, setWatermark] = useState(true);
  const [responseFormat, setResponseFormat] = useState<"url" | "b64_json">("url");
  const [problem, setProblem] = useState<Problem | undefined>();
  const submit = (event: Event) => {
    event.preventDefault();
    const request = { model: model?.id ?? SEEDEDIT_3_I2I, prompt, image: images[0]?.src ?? "", size: "adaptive" as const, guidance_scale: numberOr(guidance, 5.5), seed: numberOr(seed, -1), watermark, response_format: responseFormat };
    const found = firstProblem(seededitRequest, { ...request, model: SEEDEDIT_3_I2I });
    setProblem(found);
    if (found) return;
    void start({ family: "seededit", model: request.model, prompt, endpoint: "/doubao/images/generations", body: request, expected: 1 }, async (signal, add) => addAnswer(await client().images.generate(request, { signal }), add));
  };
  return (
    <form class="grid" onSubmit={submit} noValidate aria-label={t("family.seededit")}>
      <p class="muted wide">{model ? `${model.id}${model.lifecycle.served_by ? ` — ${t("console.models.servedBy", { model: model.lifecycle.served_by })}` : ""}` : SEEDEDIT_3_I2I}</p>
      <ImagePicker name="image" label={t("field.image")} help={t("field.image.help")} max={1} images={images} onChange={setImages} error={errorFor(problem, "image")} />
      <PromptField value={prompt} onInput={setPrompt} error={errorFor(problem, "prompt")} />
      <NumberField name="guidance_scale" step="0.1" label={t("field.guidance")} help={t("field.guidance.help", { min: 1, max: 10 })} value={guidance} onInput={setGuidance} error={errorFor(problem, "guidance_scale")} />
      <NumberField name="seed" label={t("field.seed")} help={t("field.seed.help")} value={seed} onInput={setSeed} error={errorFor(problem, "seed")} />
      <ResponseFormatField value={responseFormat} onChange={setResponseFormat} />
      <Check name="watermark" label={t("field.watermark")} checked={watermark} onChange={setWatermark} />
      <SubmitRow busy={busy} problem={problem} shown={new Set(["image", "prompt", "guidance_scale", "seed"])} />
    </form>
  );
}

/** General 3.0's model_version on /doubao/drawing. */
const GENERAL_3 = "general_v3.0" as const;

function DrawingForm({ busy, start, reuse }: FormProps) {
  const [prompt, setPrompt] = usePrompt(reuse);
  const [version, setVersion] = useState<string>(DRAWING_MODEL_VERSIONS[0]);
  const [width, setWidth] = useState("512");
  const [height, setHeight] = useState("512");
  const [useSr, setUseSr] = useState(true);
  const [usePreLlm, setUsePreLlm] = useState(true);
  const [seed, setSeed] = useState("-1");
  const [scale, setScale] = useState("3.5");
  const [steps, setSteps] = useState("25");
  const [problem, setProblem] = useState<Problem | undefined>();
  // General 3.0 has its own fields and defaults: sides 512–2048 (1328), scale 2.5, no pre-LLM, no super-resolution or steps.
  const v3 = version === GENERAL_3;
  const sideMin = v3 ? 512 : 256;
  const sideMax = v3 ? 2048 : version === "general_v2.0" ? 680 : 768;
  const choose = (next: string) => {
    const defaults = next === GENERAL_3 ? { side: "1328", scale: "2.5", pre: false } : { side: "512", scale: "3.5", pre: true };
    if ((next === GENERAL_3) !== v3) {
      setWidth(defaults.side);
      setHeight(defaults.side);
      setScale(defaults.scale);
      setUsePreLlm(defaults.pre);
    }
    setVersion(next);
  };
  const submit = (event: Event) => {
    event.preventDefault();
    const common = { prompt, width: numberOr(width, Number(v3 ? 1328 : 512)), height: numberOr(height, Number(v3 ? 1328 : 512)), use_pre_llm: usePreLlm, seed: numberOr(seed, -1), return_url: true };
    const request = v3
      ? { ...common, model_version: GENERAL_3, scale: numberOr(scale, 2.5) }
      : { ...common, model_version: version as (typeof DRAWING_MODEL_VERSIONS)[number], use_sr: useSr, scale: numberOr(scale, 3.5), ddim_steps: numberOr(steps, 25) };
    const found = firstProblem(v3 ? general3Request : drawingRequest, request);
    setProblem(found);
    if (found) return;
    void start({ family: "drawing", model: version, prompt, endpoint: "/doubao/drawing", body: request, expected: 1 }, async (signal, add) => {
      addEnvelope(await client().drawing.create(request, { signal }), add);
    });
  };
  return (
    <form class="grid" onSubmit={submit} noValidate aria-label={t("family.drawing")}>
      <Select name="model_version" label={t("field.modelVersion")} value={version} options={[...DRAWING_MODEL_VERSIONS, GENERAL_3].map((value) => ({ value, label: value }))} onChange={choose} />
      <PromptField value={prompt} onInput={setPrompt} error={errorFor(problem, "prompt")} />
      <div class="pair">
        <NumberField name="width" label={t("field.width")} help={`${sideMin}–${sideMax}`} value={width} onInput={setWidth} error={errorFor(problem, "width")} min={sideMin} max={sideMax} />
        <NumberField name="height" label={t("field.height")} help={`${sideMin}–${sideMax}`} value={height} onInput={setHeight} error={errorFor(problem, "height")} min={sideMin} max={sideMax} />
      </div>
      {!v3 && <Check name="use_sr" label={t("field.useSr")} help={t("field.useSr.help")} checked={useSr} onChange={setUseSr} />}
      <Check name="use_pre_llm" label={t("field.usePreLlm")} checked={usePreLlm} onChange={setUsePreLlm} />
      <NumberField name="seed" label={t("field.seed")} help={t("field.seed.help")} value={seed} onInput={setSeed} error={errorFor(problem, "seed")} />
      <NumberField name="scale" step="0.1" label={t("field.scale")} help="1–10" value={scale} onInput={setScale} error={errorFor(problem, "scale")} />
      {!v3 && <NumberField name="ddim_steps" label={t("field.steps")} help="1–200" value={steps} onInput={setSteps} error={errorFor(problem, "ddim_steps")} />}
      <SubmitRow busy={busy} problem={problem} shown={new Set(["prompt", "width", "height", "seed", "scale", "ddim_steps"])} />
    </form>
  );
}

function PortraitForm({ busy, start, reuse }: FormProps) {
  const [prompt, setPrompt] = usePrompt(reuse);
  const [images, setImages] = useState<PickedImage[]>([]);
  const [width, setWidth] = useState("1328");
  const [height, setHeight] = useState("1328");
  const [mode, setMode] = useState("creative");
  const [gpen, setGpen] = useState("0.4");
  const [skin, setSkin] = useState("0.3");
  const [seed, setSeed] = useState("-1");
  const [problem, setProblem] = useState<Problem | undefined>();
  const submit = (event: Event) => {
    event.preventDefault();
    const request = { image_input: images[0]?.src ?? "", ...(prompt ? { prompt } : {}), width: numberOr(width, 1328), height: numberOr(height, 1328), gen_mode: mode as "creative", gpen: numberOr(gpen, 0.4), skin: numberOr(skin, 0.3), seed: numberOr(seed, -1) };
    const found = firstProblem(portraitRequest, request);
    setProblem(found);
    if (found) return;
    void start({ family: "portrait", model: "i2i_portrait_photo", prompt, endpoint: "/doubao/drawing/portrait", body: request, expected: 1 }, async (signal, add) => {
      addEnvelope(await client().portrait.create(request, { signal }), add);
    });
  };
  return (
    <form class="grid" onSubmit={submit} noValidate aria-label={t("family.portrait")}>
      <ImagePicker name="image_input" label={t("field.image")} help={t("field.image.help")} max={1} images={images} onChange={setImages} error={errorFor(problem, "image_input")} />
      <PromptField label={t("field.portraitPrompt")} value={prompt} onInput={setPrompt} error={errorFor(problem, "prompt")} required={false} />
      <div class="pair">
        <NumberField name="width" label={t("field.width")} help="512–2048" value={width} onInput={setWidth} error={errorFor(problem, "width")} />
        <NumberField name="height" label={t("field.height")} help="512–2048" value={height} onInput={setHeight} error={errorFor(problem, "height")} />
      </div>
      <Select name="gen_mode" label={t("field.genMode")} value={mode} options={["creative", "reference", "reference_char"].map((value) => ({ value, label: value }))} onChange={setMode} />
      <NumberField name="gpen" step="0.1" label={t("field.gpen")} help="0, 0.1, …, 1" value={gpen} onInput={setGpen} error={errorFor(problem, "gpen")} />
      <NumberField name="skin" step="0.1" label={t("field.skin")} help="0, 0.1, …, 1" value={skin} onInput={setSkin} error={errorFor(problem, "skin")} />
      <NumberField name="seed" label={t("field.seed")} help={t("field.seed.help")} value={seed} onInput={setSeed} error={errorFor(problem, "seed")} />
      <SubmitRow busy={busy} problem={problem} shown={new Set(["image_input", "prompt", "width", "height", "gpen", "skin", "seed"])} />
    </form>
  );
}
