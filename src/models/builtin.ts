/**
 * The built-in model table: every model the gateway serves, as data (LIVE-MODELS.md §1). An operator
 * overrides any field, or adds a model, in `GATEWAY_CONFIG` `models:` — no release needed when the
 * upstream changes. Facts from one third-party source only are listed in an entry's `unconfirmed`.
 */
import type { Capabilities, ModelEntry } from "./types.js";

const yuan = (amount: number) => Math.round(amount * 1_000_000);

/** 1/16 and 16: the aspect-ratio range of every 4.x/5.x version. */
const RATIO = { min_ratio: 1 / 16, max_ratio: 16 } as const;
const GROUP_TOTAL = 15;

const SEEDREAM_4_0: Capabilities = {
  sizes: { keywords: ["1K", "2K", "4K"], min_pixels: 1280 * 720, max_pixels: 4096 * 4096, ...RATIO, default: "2048x2048" },
  max_reference_images: 14, group_generation: true, max_group_images: GROUP_TOTAL, stream: true,
  optimize_prompt_modes: ["standard", "fast"], optimize_prompt_thinking: [], output_formats: ["jpeg"], tools: [],
};

/** 5.0 Pro: 1K–2K, 921 600–4 624 220 pixels, ≤ 10 reference images, no group, no stream (CLIENTS.md §4); 5.0 Flash is the same less fast mode and thinking. */
const SEEDREAM_5_0_PRO: Capabilities = {
  sizes: { keywords: ["1K", "1.5K", "2K"], min_pixels: 921_600, max_pixels: 4_624_220, ...RATIO, default: "2K" },
  max_reference_images: 10, group_generation: false, max_group_images: 1, stream: false,
  optimize_prompt_modes: ["standard", "fast"], optimize_prompt_thinking: ["enabled", "disabled"], output_formats: ["jpeg", "png"], tools: [],
};

/** The model of a `/v1/images/generations` request that names none (OpenAI's clients may leave `model` out); GATEWAY_CONFIG `default_model`. */
export const DEFAULT_IMAGE_MODEL = "doubao-seedream-4-5-251128";

export const BUILT_IN_MODELS: readonly ModelEntry[] = [
  {
    id: "doubao-seedream-4-5-251128", kind: "seedream-4", aliases: ["seedream-4.5", "seedream-4-5", "seedream-4-5-251128"], created: 1764288000, price_micros: yuan(0.25),
    lifecycle: { state: "live" },
    capabilities: {
      ...SEEDREAM_4_0,
      sizes: { keywords: ["2K", "4K"], min_pixels: 3_686_400, max_pixels: 4096 * 4096, ...RATIO, default: "2048x2048" },
      optimize_prompt_modes: ["standard"],
    },
  },
  {
    id: "doubao-seedream-4-0-250828", kind: "seedream-4", aliases: ["seedream-4", "seedream-4-0", "seedream-4-0-250828"], created: 1756339200, price_micros: yuan(0.2),
    lifecycle: { state: "live" },
    capabilities: SEEDREAM_4_0,
    unconfirmed: ["one reseller announced retirement for 2026-07-23", "older docs allow 10 reference images"],
  },
  {
    id: "doubao-seedream-5-0-260128", kind: "seedream-4", aliases: ["doubao-seedream-5-0-lite-260128", "seedream-5", "seedream-5-lite", "seedream-5-0-260128", "seedream-5-0-lite-260128"],
    created: 1769558400, price_micros: yuan(0.22), lifecycle: { state: "live" },
    capabilities: {
      sizes: { keywords: ["2K", "3K", "4K"], min_pixels: 3_686_400, max_pixels: null, ...RATIO, default: "2048x2048" },
      max_reference_images: 14, group_generation: true, max_group_images: GROUP_TOTAL, stream: true,
      optimize_prompt_modes: ["standard"], optimize_prompt_thinking: [], output_formats: ["jpeg", "png"], tools: ["web_search"],
    },
    unconfirmed: ["price (2026-09-28 table via a third party: ¥0.22; BytePlus: $0.035)", "size keyword 4K", "no upper pixel limit known"],
  },
  {
    id: "doubao-seedream-5-0-pro-260628", kind: "seedream-4", aliases: ["seedream-5-pro", "dola-seedream-5-0-pro-260628"], created: 1782604800,
    price_micros: yuan(0.3), lifecycle: { state: "live" },
    capabilities: SEEDREAM_5_0_PRO,
    unconfirmed: [
      "price (2026-09-28 table via a third party: ¥0.30 up to 2.61 MP, ¥0.60 above — one price per image here, the lower; BytePlus: $0.045 / $0.09, reference images after the first cost extra)",
      "upper pixel bound (another source: 4194304)",
    ],
  },
  {
    id: "doubao-seedream-5-0-flash-260915", kind: "seedream-4", aliases: ["seedream-5-flash", "dola-seedream-5-0-flash-260915"], created: 1789430400,
    price_micros: yuan(0.12), lifecycle: { state: "live" },
    capabilities: { ...SEEDREAM_5_0_PRO, optimize_prompt_modes: ["standard"], optimize_prompt_thinking: [] },
    unconfirmed: [
      "streaming (not refused upstream as far as known; off here until confirmed — set capabilities.stream in GATEWAY_CONFIG)",
      "output_format png (as 5.0 Pro)",
      "price (2026-09-28 table via a third party: ¥0.12; BytePlus: $0.02574)",
      "pay-as-you-go accounts only: a plan key gets 404 UnsupportedModel upstream",
    ],
  },
  {
    id: "doubao-seedream-3-0-t2i-250415", kind: "seedream-3", aliases: ["seedream-3"], created: 1744675200, price_micros: yuan(0.259),
    lifecycle: { state: "retired", sunset: "2026-05-13", replacement: "doubao-seedream-4-5-251128" },
    unconfirmed: ["retirement date (BytePlus's; Volcengine's is not published)"],
  },
  {
    id: "doubao-seededit-3-0-i2i-250628", kind: "seededit-3", aliases: ["seededit-3"], created: 1751068800, price_micros: yuan(0.3),
    lifecycle: { state: "retired", sunset: "2026-01-22", replacement: "doubao-seedream-4-5-251128" },
  },
  { id: "general_v2.1_L", kind: "drawing", aliases: [], created: 1735689600, price_micros: yuan(0.2), lifecycle: { state: "live" }, unconfirmed: ["price"] },
  { id: "general_v2.0_L", kind: "drawing", aliases: [], created: 1727740800, price_micros: yuan(0.2), lifecycle: { state: "live" }, unconfirmed: ["price"] },
  { id: "general_v2.0", kind: "drawing", aliases: [], created: 1722470400, price_micros: yuan(0.2), lifecycle: { state: "live" }, unconfirmed: ["price"] },
  // General 3.0 (VISUAL-ASYNC.md §2; 302.AI's model_version on /doubao/drawing): its price and date have no source yet.
  { id: "general_v3.0", kind: "general-3", aliases: ["high_aes_general_v30l_zt2i"], created: 1744675200, price_micros: yuan(0.2), lifecycle: { state: "live" }, unconfirmed: ["price", "created"] },
  { id: "i2i_portrait_photo", kind: "portrait", aliases: [], created: 1751500800, price_micros: yuan(0.2), lifecycle: { state: "live" }, unconfirmed: ["price"] },
];
