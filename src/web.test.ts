// The web app end to end in headless Chromium (Debian's /usr/bin/chromium driven by playwright-core; nothing
// downloaded), against a gateway on loopback with the embedded emulator: the playground's forms, streaming, uploads,
// checks before sending, errors in words; the console's usage, requests and key actions; axe-core; screenshots at phone
// and desktop widths (written to docs/screenshots/ when UPDATE_SCREENSHOTS=1, else to a temp folder); a path prefix.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
// eslint-disable-next-line no-restricted-imports -- the test's own loopback proxy in front of the gateway under test
import { createServer, request as proxyRequest, type Server } from "node:http";
import { createServer as createNetServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { after, before, describe, test } from "node:test";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { startHarness, testImage, TEST_KEY, type Harness } from "./testing/harness.js";

// What the functions run in the page (page.evaluate, waitForFunction) use of the browser's globals: this file is
// compiled with Node's types, not the DOM library's.
interface PageImage {
  complete: boolean;
  naturalWidth: number;
  naturalHeight: number;
}
declare const document: {
  querySelector(selector: string): unknown;
  querySelectorAll<T = unknown>(selector: string): ArrayLike<T> & Iterable<T>;
  body: unknown;
  documentElement: { lang: string };
};
declare const localStorage: { setItem(key: string, value: string): void };
declare const scrollTo: (x: number, y: number) => void;
declare class MutationObserver {
  constructor(callback: () => void);
  observe(target: unknown, options: { childList: boolean; subtree: boolean }): void;
}

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SCREENSHOTS = process.env.UPDATE_SCREENSHOTS === "1" ? resolve("docs/screenshots") : mkdtempSync(join(tmpdir(), "doubao-web-shots-"));
const AXE = readFileSync(resolve("node_modules/axe-core/axe.min.js"), "utf8");
const V45 = "doubao-seedream-4-5-251128";
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 900 };

let h: Harness;
let origin = "";
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** The host of every request the browser made. */
const origins = new Set<string>();
/** Every API request the page made: method, path and JSON body. */
const sent: Array<{ method: string; path: string; body: unknown }> = [];

async function freePort(): Promise<number> {
  const server = createNetServer();
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

before(async () => {
  const port = await freePort();
  origin = `http://127.0.0.1:${port}`;
  // The result URLs must be ones the browser can load: the gateway's own address.
  // The built-in model table (GATEWAY_CONFIG unset): Seedream 3.0 and SeedEdit 3.0 retired, served by Seedream 4.5.
  h = await startHarness({ PUBLIC_BASE_URL: origin, GATEWAY_CONFIG: "" });
  await h.gateway.app.listen({ port, host: "127.0.0.1" });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-gpu"] });
  context = await browser.newContext({ viewport: DESKTOP, locale: "en-US" });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin });
  // Nothing the app loads may come from anywhere but the gateway (and the test's own prefix proxy, also on loopback).
  context.on("request", (request) => origins.add(new URL(request.url()).hostname));
  await context.addInitScript(() => localStorage.setItem("dg.lang", "en"));
  page = await context.newPage();
  page.setDefaultTimeout(120_000);
  page.on("request", (request) => {
    const url = new URL(request.url());
    if (url.origin !== origin || url.pathname === "/" || url.pathname.startsWith("/assets/") || url.pathname.startsWith("/files/")) return;
    const data = request.postData();
    let body: unknown = data;
    try {
      body = data ? JSON.parse(data) : undefined;
    } catch {
      // multipart
    }
    sent.push({ method: request.method(), path: url.pathname, body });
  });
  mkdirSync(SCREENSHOTS, { recursive: true });
});
after(async () => {
  await browser?.close();
  await h?.close();
  if (process.env.UPDATE_SCREENSHOTS !== "1") rmSync(SCREENSHOTS, { recursive: true, force: true });
});

async function useKey(key: string) {
  const forget = page.getByRole("button", { name: "Forget key" });
  if (await forget.isVisible()) await forget.click();
  await page.getByLabel("API key").fill(key);
  await page.getByRole("button", { name: "Use key" }).click();
  await page.getByRole("button", { name: "Forget key" }).waitFor();
}

async function openPlayground(family: "Seedream" | "SeedEdit" | "Drawing" | "Portrait") {
  if (!page.url().startsWith(origin) || new URL(page.url()).hash.startsWith("#/console")) await page.goto(`${origin}/#/`);
  await page.getByRole("tab", { name: family }).click();
}

/** Waits until every result image on the page has finished loading (or failed to: a broken one reads 0x0). */
const imagesLoaded = () => page.waitForFunction(() => [...document.querySelectorAll<PageImage>(".result-image")].every((image) => image.complete));

/** Clicks Generate and waits until the run has finished (its images loaded, or its error shown). */
async function generate(): Promise<void> {
  await page.getByRole("button", { name: "Generate" }).click();
  await page.waitForFunction(() => !document.querySelector(".progress"));
  await imagesLoaded();
}

const naturalSizes = () => page.$$eval(".result-image", (images) => images.map((image) => `${(image as unknown as PageImage).naturalWidth}x${(image as unknown as PageImage).naturalHeight}`));
const apiCalls = (path: string) => sent.filter((call) => call.path === path && call.method === "POST");

async function shoot(name: string) {
  for (const [width, viewport] of [["desktop", DESKTOP], ["phone", PHONE]] as const) {
    await page.setViewportSize(viewport);
    await page.evaluate(() => scrollTo(0, 0));
    await page.screenshot({ path: join(SCREENSHOTS, `${name}-${width}.png`), fullPage: width === "desktop" });
  }
  await page.setViewportSize(DESKTOP);
}

async function axeViolations(): Promise<string[]> {
  await page.addScriptTag({ content: AXE });
  const violations = await page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(context: unknown, options: unknown): Promise<{ violations: Array<{ id: string; impact: string; help: string; nodes: Array<{ target: string[] }> }> }> } }).axe;
    const result = await axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((violation) => ({ id: violation.id, impact: violation.impact, help: violation.help, targets: violation.nodes.slice(0, 3).map((node) => node.target.join(" ")) }));
  });
  return violations.filter((violation) => violation.impact === "serious" || violation.impact === "critical").map((violation) => `${violation.impact} ${violation.id}: ${violation.help} (${violation.targets.join("; ")})`);
}

describe("the web playground", () => {
  test("the page asks for a key, then generates with Seedream 4.5 and shows the image at its size", async () => {
    await page.goto(`${origin}/`);
    await page.getByText("Paste an API key to start.").waitFor();
    await useKey(TEST_KEY);
    await openPlayground("Seedream");
    await page.getByLabel("Model", { exact: true }).selectOption(V45);
    await page.getByRole("textbox", { name: "Prompt", exact: true }).fill("a lighthouse at dawn, watercolour");
    await page.getByLabel("Size").selectOption("2K");
    await generate();
    assert.deepEqual(await naturalSizes(), ["2048x2048"]);
    assert.equal(await page.locator(".card .size").first().textContent(), "2048 × 2048");
    const [call] = apiCalls("/doubao/images/generations");
    assert.deepEqual(call?.body, { model: V45, prompt: "a lighthouse at dawn, watercolour", size: "2K", response_format: "url", watermark: true });
    const src = await page.locator(".result-image").first().getAttribute("src");
    assert.match(src ?? "", new RegExp(`^${origin}/files/\\d{8}/`));
    assert.equal(await page.getByRole("link", { name: "Download" }).first().getAttribute("download"), "doubao-1.jpeg");
    await page.getByRole("button", { name: "Copy as curl" }).click();
    await page.getByRole("button", { name: "Copied" }).waitFor();
    const curl = await page.evaluate(() => (globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }).navigator.clipboard.readText());
    assert.equal(curl, `curl -s '${origin}/doubao/images/generations' -H "Authorization: Bearer $DOUBAO_KEY" -H 'Content-Type: application/json' -d '{"model":"${V45}","prompt":"a lighthouse at dawn, watercolour","size":"2K","response_format":"url","watermark":true}'`);
    // It is kept in the history, in this browser.
    await page.locator(".history-prompt", { hasText: "a lighthouse at dawn, watercolour" }).waitFor();
    await shoot("playground");
    assert.deepEqual(await axeViolations(), []);
  });

  test("a group request streams its three images one by one", async () => {
    await openPlayground("Seedream");
    await page.getByRole("textbox", { name: "Prompt", exact: true }).fill("three panels of a comic [[images:3]] [[image-pause:800]]");
    await page.getByLabel("Make a group of related images").check();
    await page.getByLabel("Max images").fill("3");
    await page.getByLabel("Stream the images as they are made").check();
    // Record how many images are on the page each time the gallery changes.
    await page.evaluate(() => {
      const seen: number[] = [];
      (globalThis as unknown as { seen: number[] }).seen = seen;
      new MutationObserver(() => {
        const count = document.querySelectorAll(".gallery .card").length;
        if (seen.at(-1) !== count) seen.push(count);
      }).observe(document.body, { childList: true, subtree: true });
    });
    await page.getByRole("button", { name: "Generate" }).click();
    await page.getByText(/Streaming… 1 of 3 images/).waitFor();
    await page.waitForFunction(() => !document.querySelector(".progress"));
    await imagesLoaded();
    const seen = await page.evaluate(() => (globalThis as unknown as { seen: number[] }).seen);
    // 0 when the run starts, then each image as its event came: never two at once.
    assert.deepEqual(seen.filter((count) => count > 0), [1, 2, 3]);
    assert.deepEqual(await naturalSizes(), ["2048x2048", "2048x2048", "2048x2048"]);
    const call = apiCalls("/doubao/images/generations").at(-1);
    assert.deepEqual(call?.body, {
      model: V45, prompt: "three panels of a comic [[images:3]] [[image-pause:800]]", size: "2K", response_format: "url", watermark: true,
      sequential_image_generation: "auto", sequential_image_generation_options: { max_images: 3 }, stream: true,
    });
  });

  test("an edit with two uploaded reference images sends both and shows the result", async () => {
    await openPlayground("Seedream");
    await page.getByLabel("Make a group of related images").uncheck();
    await page.getByLabel("Stream the images as they are made").uncheck();
    await page.getByRole("textbox", { name: "Prompt", exact: true }).fill("the cat of the first picture in the room of the second");
    const [cat, room] = await Promise.all([testImage(640, 480, "jpeg"), testImage(500, 500, "png")]);
    await page.locator('input[type="file"][name="references"]').setInputFiles([
      { name: "cat.jpeg", mimeType: "image/jpeg", buffer: cat }, { name: "room.png", mimeType: "image/png", buffer: room },
    ]);
    await page.locator(".thumbs li").nth(1).waitFor();
    assert.equal(await page.locator(".thumbs img").count(), 2);
    await generate();
    const call = apiCalls("/doubao/images/generations").at(-1);
    const images = (call?.body as { image: string[] }).image;
    assert.equal(images.length, 2);
    assert.equal(images[0], `data:image/jpeg;base64,${cat.toString("base64")}`);
    assert.equal(images[1], `data:image/png;base64,${room.toString("base64")}`);
    assert.deepEqual(await naturalSizes(), ["2048x2048"]);
    // Removing one leaves the other.
    await page.getByRole("button", { name: "Remove image 1" }).click();
    assert.equal(await page.locator(".thumbs img").count(), 1);
    await page.getByRole("button", { name: "Remove image 1" }).click();
  });

  test("a drawing with use_sr comes back at twice the size asked", async () => {
    await openPlayground("Drawing");
    await page.getByRole("textbox", { name: "Prompt", exact: true }).fill("a pagoda in the snow");
    assert.equal(await page.getByLabel("Super-resolution (use_sr)").isChecked(), true);
    await page.getByLabel("Width").fill("512");
    await page.getByLabel("Height").fill("512");
    await generate();
    const call = apiCalls("/doubao/drawing").at(-1);
    assert.deepEqual(call?.body, { prompt: "a pagoda in the snow", model_version: "general_v2.1_L", width: 512, height: 512, use_sr: true, use_pre_llm: true, seed: -1, scale: 3.5, ddim_steps: 25, return_url: true });
    assert.deepEqual(await naturalSizes(), ["1024x1024"]);
  });

  test("general 3.0 on the Drawing tab: its own defaults and fields (no super-resolution or steps), the image at the size asked", async () => {
    await openPlayground("Drawing");
    await page.getByLabel("Model version").selectOption("general_v3.0");
    assert.equal(await page.getByLabel("Width").inputValue(), "1328");
    assert.equal(await page.getByLabel("Super-resolution (use_sr)").count(), 0);
    await page.getByRole("textbox", { name: "Prompt", exact: true }).fill("a tea house by a river");
    await page.getByLabel("Width").fill("768");
    await page.getByLabel("Height").fill("1024");
    await generate();
    const call = apiCalls("/doubao/drawing").at(-1);
    assert.deepEqual(call?.body, { prompt: "a tea house by a river", model_version: "general_v3.0", width: 768, height: 1024, use_pre_llm: false, seed: -1, scale: 2.5, return_url: true });
    assert.deepEqual(await naturalSizes(), ["768x1024"]);
    await page.getByLabel("Model version").selectOption("general_v2.1_L");
    assert.equal(await page.getByLabel("Width").inputValue(), "512", "v2.x's defaults again");
  });

  test("a reference image by URL shows its preview; SeedEdit edits an uploaded photo", async () => {
    await openPlayground("Seedream");
    await page.getByLabel("Image URL").fill("http://127.0.0.1:9/not-fetched.png");
    await page.getByRole("button", { name: "Add URL" }).click();
    assert.equal(await page.locator(".thumbs img").getAttribute("src"), "http://127.0.0.1:9/not-fetched.png");
    await page.getByRole("button", { name: "Remove image 1" }).click();
    assert.equal(await page.locator(".thumbs img").count(), 0);

    await openPlayground("SeedEdit");
    assert.match(await page.locator("#family-panel").textContent() ?? "", /doubao-seededit-3-0-i2i-250628 — served by doubao-seedream-4-5-251128/);
    const photo = await testImage(800, 600, "jpeg");
    await page.locator('input[type="file"][name="image"]').setInputFiles({ name: "photo.jpeg", mimeType: "image/jpeg", buffer: photo });
    await page.getByRole("textbox", { name: "Prompt", exact: true }).fill("make it snow");
    await generate();
    const call = apiCalls("/doubao/images/generations").at(-1);
    assert.deepEqual(call?.body, {
      model: "doubao-seededit-3-0-i2i-250628", prompt: "make it snow", image: `data:image/jpeg;base64,${photo.toString("base64")}`, size: "adaptive",
      guidance_scale: 5.5, seed: -1, watermark: true, response_format: "url",
    });
    assert.equal((await naturalSizes()).length, 1);
  });

  test("a portrait from a pasted photo, at the size asked", async () => {
    await openPlayground("Portrait");
    const photo = await testImage(600, 800, "png");
    await page.locator(".drop").focus();
    await page.evaluate((base64) => {
      const browser = globalThis as unknown as {
        DataTransfer: new () => { items: { add(file: unknown): void } }; File: new (parts: unknown[], name: string, options: { type: string }) => unknown;
        ClipboardEvent: new (type: string, init: { clipboardData: unknown; bubbles: boolean }) => unknown; atob(text: string): string;
        document: { querySelector(selector: string): { dispatchEvent(event: unknown): void } };
      };
      const bytes = Uint8Array.from(browser.atob(base64), (char) => char.charCodeAt(0));
      const transfer = new browser.DataTransfer();
      transfer.items.add(new browser.File([bytes], "pasted.png", { type: "image/png" }));
      browser.document.querySelector(".drop").dispatchEvent(new browser.ClipboardEvent("paste", { clipboardData: transfer, bubbles: true }));
    }, photo.toString("base64"));
    await page.locator(".thumbs img").waitFor();
    await page.getByLabel("Width").fill("512");
    await page.getByLabel("Height").fill("640");
    await generate();
    const call = apiCalls("/doubao/drawing/portrait").at(-1);
    assert.equal((call?.body as { image_input: string }).image_input, `data:image/png;base64,${photo.toString("base64")}`);
    assert.deepEqual(await naturalSizes(), ["512x640"]);
  });

  test("a field out of the model's range is refused before anything is sent", async () => {
    await openPlayground("Seedream");
    await page.getByRole("textbox", { name: "Prompt", exact: true }).fill("too small");
    await page.getByLabel("Size").selectOption("custom");
    await page.getByLabel("Width").fill("300");
    await page.getByLabel("Height").fill("300");
    const before = sent.length;
    await page.getByRole("button", { name: "Generate" }).click();
    const error = page.locator(".field.invalid .field-error");
    await error.waitFor();
    assert.equal(await error.textContent(), `Invalid parameter \`size\`: ${V45} accepts one of "2K", "4K", or "<W>x<H>" with W×H in [3686400, 16777216] pixels and W/H in [1/16, 16] (got "300x300": 90000 pixels, W/H 1.000).`);
    assert.equal(await page.getByLabel("Size").getAttribute("aria-invalid"), "true");
    // Group of 20 for a model whose group holds 15 at most: the same.
    await page.getByLabel("Size").selectOption("2K");
    await page.getByLabel("Make a group of related images").check();
    await page.getByLabel("Max images").fill("20");
    await page.getByRole("button", { name: "Generate" }).click();
    await page.locator(".field.invalid .field-error", { hasText: "max_images" }).waitFor();
    assert.equal(await page.locator(".field.invalid .field-error").textContent(), "Invalid parameter `sequential_image_generation_options.max_images`: must be an integer in [1, 15] (got number 20).");
    assert.equal(sent.length, before, "nothing was sent");
    await page.getByLabel("Make a group of related images").uncheck();
  });

  test("an upstream refusal is shown in words, with the request id", async () => {
    await openPlayground("Seedream");
    await page.getByRole("textbox", { name: "Prompt", exact: true }).fill("something the upstream refuses [[fault:ark:InputTextSensitiveContentDetected]]");
    await generate();
    const alert = page.locator(".results .error");
    await alert.waitFor();
    const text = await alert.textContent();
    assert.match(text ?? "", /^The request failedThe request was refused: .*input text may contain sensitive information.*Request id: [0-9a-f]/);
    assert.equal(await page.locator(".result-image").count(), 0);
  });
});

describe("the operator console", () => {
  test("shows the usage just made, disables a key, and the playground then shows the 401 in words", async () => {
    const created = await h.gateway.app.inject({ method: "POST", url: "/admin/keys", headers: { authorization: `Bearer ${TEST_KEY}`, "content-type": "application/json" }, payload: { name: "web-user", role: "user" } });
    const { secret, key } = created.json() as { secret: string; key: { id: string } };
    await useKey(secret);
    await openPlayground("Seedream");
    await page.getByRole("textbox", { name: "Prompt", exact: true }).fill("made with the user key");
    await generate();
    assert.equal(await page.locator(".result-image").count(), 1);

    // The operator, in another tab (each tab keeps its own key).
    const userPage = page;
    page = await context.newPage();
    page.setDefaultTimeout(120_000);
    await page.goto(`${origin}/#/console`);
    await useKey(TEST_KEY);
    await page.getByRole("heading", { name: "Operator console" }).waitFor();
    const userRow = page.locator("tr[data-key='web-user']");
    await userRow.waitFor();
    // Recent requests: the user key's generation on top, with status, provider, latency and cost.
    const newest = page.locator("table.requests tbody tr").first();
    assert.match(await newest.textContent() ?? "", new RegExp(`web-user${V45}200ark\\d+ ms10\\.25 CNY`));
    // The usage charts include the key and the model just used.
    const byKey = await page.locator("figure.chart", { hasText: "Requests per key" }).locator("svg").getAttribute("aria-label");
    assert.match(byKey ?? "", /web-user 1/);
    assert.match(await page.locator(".totals").textContent() ?? "", /^\d+ requests, \d+ images, [\d.]+ CNY$/);
    assert.match(await page.locator(".providers").first().textContent() ?? "", /breaker closed, usable/);
    assert.match(await page.locator("section[aria-labelledby='models-title'] tr", { hasText: "doubao-seedream-3-0-t2i-250415" }).textContent() ?? "", /retired served by doubao-seedream-4-5-251128 sunset 2026-05-13/);
    await shoot("console");
    assert.deepEqual(await axeViolations(), []);

    await page.getByRole("button", { name: "Disable web-user" }).click();
    await userRow.locator(".badge.disabled").waitFor();
    assert.notEqual((await h.gateway.keys.get(key.id))?.disabledAt ?? null, null);
    await page.close();
    page = userPage;

    // Back in the user's tab, the next request meets the disabled key.
    await page.getByRole("textbox", { name: "Prompt", exact: true }).fill("after the key was disabled");
    await generate();
    const alert = await page.locator(".results .error").textContent();
    assert.match(alert ?? "", /The API key was refused: .*disabled.* Check the key, or ask the gateway's operator to enable it\./);
    await shoot("playground-error");
  });

  test("the Upstreams panel lists each account with its breaker and limits; switching one off sends its models elsewhere, and back on", async () => {
    const admin = { authorization: `Bearer ${TEST_KEY}`, "content-type": "application/json" };
    const served = async () =>
      (await h.gateway.app.inject({ method: "POST", url: "/api/v3/images/generations", headers: admin, payload: { model: V45, prompt: "which account", size: "2K", response_format: "url" } })).headers["x-gateway-provider"];
    await page.goto(`${origin}/#/console`);
    await useKey(TEST_KEY);
    const row = page.locator("table.upstreams tr[data-account='ark']");
    await row.waitFor();
    assert.deepEqual(await page.locator("table.upstreams tbody tr").evaluateAll((rows) => rows.map((tr) => (tr as unknown as { dataset: { account: string } }).dataset.account)), ["ark", "visual", "302ai"]);
    assert.match(await row.textContent() ?? "", /^arkemulator · http:\/\/127\.0\.0\.1:\d+arkon1 · 1all of arknoneclosednoneSwitch off$/);
    // x-gateway-provider names the emulator that plays each account here.
    assert.equal(await served(), "emulator");
    await shoot("console-upstreams");
    assert.deepEqual(await axeViolations(), []);

    await page.getByRole("button", { name: "Switch off account ark" }).click();
    await row.locator(".badge.disabled", { hasText: "off" }).waitFor();
    const listed = (await h.gateway.app.inject({ method: "GET", url: "/admin/upstreams", headers: admin })).json() as { data: Array<{ id: string; enabled: boolean }> };
    assert.deepEqual(listed.data.map((account) => [account.id, account.enabled]), [["ark", false], ["visual", true], ["302ai", true]]);
    assert.equal(await served(), "emulator-302ai", "Seedream goes to the 302.AI relay while ark is off");

    await page.getByRole("button", { name: "Switch on account ark" }).click();
    await row.locator(".badge.active", { hasText: "on" }).waitFor();
    assert.equal(await served(), "emulator");
  });

  test("a new key's secret is shown once, with a copy button; in Chinese on request, errors too", async () => {
    // A user key is told what the console needs.
    const user = await h.gateway.app.inject({ method: "POST", url: "/admin/keys", headers: { authorization: `Bearer ${TEST_KEY}`, "content-type": "application/json" }, payload: { name: "web-viewer", role: "user" } });
    await page.goto(`${origin}/#/console`);
    await useKey((user.json() as { secret: string }).secret);
    const refusal = page.locator(".console .error");
    await refusal.waitFor();
    assert.match(await refusal.textContent() ?? "", /^This key may not do that: .*The console needs an admin key \(role admin\)\.$/);

    await useKey(TEST_KEY);
    await page.goto(`${origin}/#/console`);
    await page.getByText("Create a key").click();
    await page.getByRole("form", { name: "Create a key" }).getByLabel("Name").fill("web-made");
    await page.getByLabel("Requests per minute").fill("0");
    await page.getByRole("button", { name: "Create key" }).click();
    await page.locator(".field-error", { hasText: "rpm_limit" }).waitFor();
    await page.getByLabel("Requests per minute").fill("30");
    await page.getByRole("button", { name: "Create key" }).click();
    const secret = await page.locator(".secret-value").textContent();
    assert.match(secret ?? "", /^dg_/);
    await page.getByRole("button", { name: "Copy secret" }).waitFor();
    await page.getByRole("button", { name: "I have copied it" }).click();
    assert.equal(await page.locator(".secret-value").count(), 0);
    const made = page.locator("tr[data-key='web-made']");
    assert.match(await made.textContent() ?? "", /30 rpm/);
    await page.getByRole("button", { name: "Disable web-made" }).click();
    await page.getByRole("button", { name: "Enable web-made" }).click();
    await made.locator(".badge.active").waitFor();
    page.once("dialog", (dialog) => void dialog.accept());
    await page.getByRole("button", { name: "Delete web-made" }).click();
    await made.waitFor({ state: "detached" });
    assert.equal((await h.gateway.keys.list()).some((key) => key.name === "web-made"), false);

    await page.getByRole("button", { name: "切换到中文" }).click();
    await page.getByRole("heading", { name: "运营控制台" }).waitFor();
    assert.equal(await page.evaluate(() => document.documentElement.lang), "zh-CN");
    // In Chinese, the playground's labels, and the gateway's own message_cn in the error.
    await page.goto(`${origin}/#/`);
    await page.getByRole("tab", { name: "Seedream" }).click();
    await page.getByRole("textbox", { name: "提示词", exact: true }).fill("上游会拒绝 [[fault:ark:InputTextSensitiveContentDetected]]");
    await page.getByRole("button", { name: "生成" }).click();
    const alert = page.locator(".results .error");
    await alert.waitFor();
    assert.match(await alert.textContent() ?? "", /^请求失败请求被拒绝：.*（InputTextSensitiveContentDetected）请修改提示词或图片后再试。请求 ID：/);
    await page.getByRole("button", { name: "Switch to English" }).click();
  });
});

describe("serving the app", () => {
  test("behind a path prefix: the page, its assets and its API calls all go through the prefix", async () => {
    // A loopback proxy that serves the gateway under /gw/ (as nginx's `location /gw/ { proxy_pass http://gateway/; }`),
    // and /gw itself as the gateway's / (as a proxy that strips the prefix does): the page adds the missing slash.
    const proxy: Server = createServer((incoming, outgoing) => {
      const url = incoming.url ?? "";
      if (!url.startsWith("/gw/") && url !== "/gw") return outgoing.writeHead(404).end("not under /gw/");
      const forward = proxyRequest(`${origin}${url === "/gw" ? "/" : url.slice(3)}`, { method: incoming.method, headers: incoming.headers }, (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      });
      incoming.pipe(forward);
    });
    await new Promise<void>((done) => proxy.listen(0, "127.0.0.1", done));
    const prefixed = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/gw`;
    try {
      const other = await browser.newPage();
      const paths: string[] = [];
      other.on("request", (request) => paths.push(new URL(request.url()).pathname));
      await other.goto(prefixed);
      assert.equal(new URL(other.url()).pathname, "/gw/");
      // (Before the slash was added, the browser's preload scanner may have asked for ./assets/… one folder too high.)
      paths.length = 0;
      await other.reload();
      await other.getByLabel("API key").fill(TEST_KEY);
      await other.getByRole("button", { name: "Use key" }).click();
      await other.getByRole("tab", { name: "Seedream" }).waitFor();
      await other.getByLabel("Model", { exact: true }).waitFor();
      assert.ok(paths.includes("/gw/v1/models"), paths.join(" "));
      assert.ok(paths.some((path) => /^\/gw\/assets\/index-[\w-]+\.js$/.test(path)), paths.join(" "));
      assert.deepEqual(paths.filter((path) => !path.startsWith("/gw")), []);
      await other.close();
    } finally {
      proxy.close();
    }
    assert.deepEqual([...origins], ["127.0.0.1"]);
  });
});
