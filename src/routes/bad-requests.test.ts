// Bad requests, each with the exact status, field and text a client sees; and the values just inside each range.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { dataUrl, startHarness, testImage, TEST_KEY, type Harness } from "../testing/harness.js";

let h: Harness;
before(async () => {
  h = await startHarness();
});
// Built before the table, which is read when the tests are registered.
const images = {
  ok: dataUrl(await testImage(64, 64)),
  ratio3: dataUrl(await testImage(300, 100)),
  ratioThird: dataUrl(await testImage(100, 300)),
  side14: dataUrl(await testImage(14, 40)),
  side15: dataUrl(await testImage(15, 15)),
  tall: dataUrl(await testImage(100, 400)),
  truncatedJpeg: dataUrl((await testImage(200, 200)).subarray(0, 400)),
  truncatedPng: dataUrl((await testImage(200, 200, "png")).subarray(0, 300), "png"),
  pngAsJpeg: `data:image/jpeg;base64,${(await testImage(64, 64, "png")).toString("base64")}`,
};
after(() => h.close());

const SEEDREAM = "doubao-seedream-3-0-t2i-250415";
const SEEDEDIT = "doubao-seededit-3-0-i2i-250628";
const ARK_IDS = "doubao-seedream-4-5-251128, doubao-seedream-4-0-250828, doubao-seedream-5-0-260128, doubao-seedream-5-0-pro-260628, doubao-seedream-5-0-flash-260915";
const T2I = { model: SEEDREAM, prompt: "cat", response_format: "b64_json", size: "512x512" };
const EDIT = () => ({ model: SEEDEDIT, prompt: "edit", image: images.ok, response_format: "b64_json" });
const DRAW = { prompt: "山", width: 256, height: 256, use_sr: false, return_url: false };
const PORTRAIT = () => ({ image_input: images.ok, width: 512, height: 512 });
const SIZE_RULE = 'must be "<W>x<H>" with each side an integer in [512, 2048], e.g. "1024x1024"';
const invalid = (param: string, rule: string) => `Invalid parameter \`${param}\`: ${rule}.`;

interface Case {
  name: string;
  url?: string;
  method?: "GET" | "POST" | "PUT" | "DELETE";
  body: unknown;
  raw?: string;
  headers?: Record<string, string>;
  status: number;
  param?: string | null;
  message?: string | RegExp;
  code?: string;
  errCode?: number;
}

const ark = (name: string, body: unknown, param: string, message: string, extra: Partial<Case> = {}): Case =>
  ({ name, url: "/doubao/images/generations", body, status: 400, param, message, ...extra });
const v1 = (name: string, body: unknown, param: string, message: string): Case => ({ ...ark(name, body, param, message), url: "/v1/images/generations" });
const draw = (name: string, body: unknown, param: string, message: string): Case => ({ name, url: "/doubao/drawing", body, status: 400, param, message });
const portrait = (name: string, body: unknown, param: string, message: string, url = "/doubao/drawing/portrait"): Case => ({ name, url, body, status: 400, param, message });
const ok = (name: string, url: string, body: unknown): Case => ({ name, url, body, status: 200 });

const cases = (): Case[] => [
  // model
  { ...ark("missing model", { prompt: "cat" }, "model", "Missing required parameter `model`."), code: "MissingParameter" },
  ark("model of the wrong type", { ...T2I, model: 5 }, "model", invalid("model", "must be a string naming a served model (got number 5)")),
  ark("unknown model", { ...T2I, model: "dall-e-3" }, "model", `Invalid parameter \`model\`: "dall-e-3" is not served on this endpoint; use one of ${ARK_IDS}, ${SEEDREAM}, ${SEEDEDIT}.`),
  ark("a drawing model on the Ark path", { ...T2I, model: "general_v2.1_L" }, "model", `Invalid parameter \`model\`: "general_v2.1_L" is not served on this endpoint; use one of ${ARK_IDS}, ${SEEDREAM}, ${SEEDEDIT}.`),
  // prompt
  { ...ark("missing prompt", { model: SEEDREAM }, "prompt", "Missing required parameter `prompt`."), code: "MissingParameter" },
  ark("empty prompt", { ...T2I, prompt: "" }, "prompt", invalid("prompt", 'must be a non-empty string (got "")')),
  ark("blank prompt", { ...T2I, prompt: "   " }, "prompt", invalid("prompt", 'must be a non-empty string (got "   ")')),
  ark("prompt of the wrong type", { ...T2I, prompt: 1 }, "prompt", invalid("prompt", "must be a non-empty string (got number 1)")),
  ark("prompt of 4001 characters", { ...T2I, prompt: "x".repeat(4001) }, "prompt", invalid("prompt", `must be at most 4000 characters (got "${"x".repeat(40)}…")`)),
  ok("prompt of 4000 characters", "/doubao/images/generations", { ...T2I, prompt: "x".repeat(4000) }),
  // response_format
  ark("unknown response_format", { ...T2I, response_format: "png" }, "response_format", invalid("response_format", 'must be "url" or "b64_json" (got "png")')),
  // size
  ark("size side 511", { ...T2I, size: "511x1024" }, "size", invalid("size", `${SIZE_RULE} (got "511x1024")`)),
  ark("size side 2049", { ...T2I, size: "1024x2049" }, "size", invalid("size", `${SIZE_RULE} (got "1024x2049")`)),
  ok("size 512x512", "/doubao/images/generations", { ...T2I, size: "512x512" }),
  ok("size 2048x512", "/doubao/images/generations", { ...T2I, size: "2048x512" }),
  ark("size with *", { ...T2I, size: "1024*1024" }, "size", invalid("size", `${SIZE_RULE} (got "1024*1024")`)),
  ark("size without height", { ...T2I, size: "1024x" }, "size", invalid("size", `${SIZE_RULE} (got "1024x")`)),
  ark("size with spaces", { ...T2I, size: " 1024x1024" }, "size", invalid("size", `${SIZE_RULE} (got " 1024x1024")`)),
  ark("size adaptive for Seedream", { ...T2I, size: "adaptive" }, "size", invalid("size", `${SIZE_RULE} (got "adaptive")`)),
  ark("size as a number", { ...T2I, size: 1024 }, "size", invalid("size", `${SIZE_RULE} (got number 1024)`)),
  ark("size with a fraction", { ...T2I, size: "1024.5x1024" }, "size", invalid("size", `${SIZE_RULE} (got "1024.5x1024")`)),
  // seed
  ark("seed -2", { ...T2I, seed: -2 }, "seed", invalid("seed", "must be an integer in [-1, 2147483647] (got number -2)")),
  ark("seed 2147483648", { ...T2I, seed: 2147483648 }, "seed", invalid("seed", "must be an integer in [-1, 2147483647] (got number 2147483648)")),
  ok("seed 2147483647", "/doubao/images/generations", { ...T2I, seed: 2147483647 }),
  ok("seed -1", "/doubao/images/generations", { ...T2I, seed: -1 }),
  ark("seed 1.5", { ...T2I, seed: 1.5 }, "seed", invalid("seed", "must be an integer in [-1, 2147483647] (got number 1.5)")),
  ark("seed as a string", { ...T2I, seed: "12" }, "seed", invalid("seed", 'must be an integer in [-1, 2147483647] (got "12")')),
  // guidance_scale
  ark("guidance_scale 0.99", { ...T2I, guidance_scale: 0.99 }, "guidance_scale", invalid("guidance_scale", "must be a number in [1, 10] (got number 0.99)")),
  ark("guidance_scale 10.01", { ...T2I, guidance_scale: 10.01 }, "guidance_scale", invalid("guidance_scale", "must be a number in [1, 10] (got number 10.01)")),
  ok("guidance_scale 1", "/doubao/images/generations", { ...T2I, guidance_scale: 1 }),
  ok("guidance_scale 10", "/doubao/images/generations", { ...T2I, guidance_scale: 10 }),
  ark("guidance_scale as a string", { ...T2I, guidance_scale: "2" }, "guidance_scale", invalid("guidance_scale", 'must be a number in [1, 10] (got "2")')),
  // watermark, image on t2i
  ark("watermark as a string", { ...T2I, watermark: "true" }, "watermark", invalid("watermark", 'must be a boolean (true or false) (got "true")')),
  ark("image on Seedream", { ...T2I, image: "https://example.com/a.png" }, "image", invalid("image", `is not accepted by ${SEEDREAM} (text-to-image only); use ${SEEDEDIT} to edit an image (got "https://example.com/a.png")`)),
  // n on /v1
  v1("n 0", { ...T2I, n: 0 }, "n", invalid("n", "must be an integer in [1, 4] (got number 0)")),
  v1("n 5", { ...T2I, n: 5 }, "n", invalid("n", "must be an integer in [1, 4] (got number 5)")),
  v1("n 1.5", { ...T2I, n: 1.5 }, "n", invalid("n", "must be an integer in [1, 4] (got number 1.5)")),
  ok("n 4", "/v1/images/generations", { ...T2I, n: 4 }),
  // SeedEdit
  { ...ark("SeedEdit without image", { model: SEEDEDIT, prompt: "x" }, "image", "Missing required parameter `image`."), code: "MissingParameter" },
  ark("SeedEdit size other than adaptive", { ...EDIT(), size: "1024x1024" }, "size", invalid("size", `must be "adaptive" (the only size ${SEEDEDIT} supports) (got "1024x1024")`)),
  ark("SeedEdit guidance_scale 0.5", { ...EDIT(), guidance_scale: 0.5 }, "guidance_scale", invalid("guidance_scale", "must be a number in [1, 10] (got number 0.5)")),
  ark("SeedEdit image as a number", { ...EDIT(), image: 123 }, "image", invalid("image", "must be one image: an http(s) URL or a data URL data:image/<png|jpeg>;base64,<…> (got number 123)")),
  ark("SeedEdit image with an ftp URL", { ...EDIT(), image: "ftp://example.com/a.png" }, "image", "Invalid parameter `image`: must be an http(s) URL or a data URL data:image/<png|jpeg>;base64,<…>."),
  ark("data URL with upper-case format", { ...EDIT(), image: images.ok.replace("image/jpeg", "image/JPEG") }, "image", "Invalid parameter `image`: the data URL's format must be lower case (image/jpeg), as the upstream requires; got image/JPEG."),
  ark("data URL of a GIF type", { ...EDIT(), image: "data:image/gif;base64,R0lGODlhAQABAAAAACw=" }, "image", 'Invalid parameter `image`: the data URL\'s media type is "image/gif"; it must be image/png or image/jpeg.'),
  ark("data URL without a comma", { ...EDIT(), image: "data:image/png;base64" }, "image", "Invalid parameter `image`: a data URL must look like data:image/<png|jpeg>;base64,<base64 bytes> (no comma found after the media type)."),
  ark("data URL with bad base64", { ...EDIT(), image: "data:image/png;base64,@@@@" }, "image", "Invalid parameter `image`: the data URL's payload is not valid base64."),
  ark("data URL declaring JPEG over PNG bytes", { ...EDIT(), image: images.pngAsJpeg }, "image", "Invalid parameter `image`: the data URL says image/jpeg but its bytes are PNG."),
  ark("image ratio exactly 3", { ...EDIT(), image: images.ratio3 }, "image", "Invalid parameter `image`: the image is 300x100 px (width/height 3.000); width/height must be strictly between 1/3 and 3."),
  ark("image ratio exactly 1/3", { ...EDIT(), image: images.ratioThird }, "image", "Invalid parameter `image`: the image is 100x300 px (width/height 0.333); width/height must be strictly between 1/3 and 3."),
  ark("image side of 14 px", { ...EDIT(), image: images.side14 }, "image", "Invalid parameter `image`: the image is 14x40 px; each side must be over 14 px."),
  ark("truncated JPEG", { ...EDIT(), image: images.truncatedJpeg }, "image", "Invalid parameter `image`: the JPEG image is corrupt or truncated and cannot be decoded."),
  ark("truncated PNG", { ...EDIT(), image: images.truncatedPng }, "image", "Invalid parameter `image`: the PNG image is corrupt or truncated and cannot be decoded."),
  ok("image sides of 15 px", "/doubao/images/generations", { ...EDIT(), image: images.side15 }),
  ark("image on a loopback address", { ...EDIT(), image: "http://127.0.0.1:9/a.png" }, "image", "Invalid parameter `image`: the image URL's host 127.0.0.1 points to a non-public address (127.0.0.1); the gateway only fetches public addresses."),
  ark("image on the metadata address", { ...EDIT(), image: "http://169.254.169.254/latest/meta-data/" }, "image", "Invalid parameter `image`: the image URL's host 169.254.169.254 points to a non-public address (169.254.169.254); the gateway only fetches public addresses."),
  ark("a gateway file that does not exist", { ...EDIT(), image: "http://gateway.test/files/20260101/AAAAAAAAAAAAAAAAAAAAAA.jpeg" }, "image", "Invalid parameter `image`: the gateway file http://gateway.test/files/20260101/AAAAAAAAAAAAAAAAAAAAAA.jpeg does not exist or has expired."),
  // drawing
  { ...draw("drawing without prompt", { width: 256 }, "prompt", "Missing required parameter `prompt`."), code: "MissingParameter" },
  draw("unknown model_version", { ...DRAW, model_version: "general_v9.9" }, "model_version", invalid("model_version", 'must be one of general_v2.1_L, general_v2.0_L, general_v2.0, general_v3.0 (got "general_v9.9")')),
  draw("unknown req_schedule_conf", { ...DRAW, req_schedule_conf: "fast" }, "req_schedule_conf", invalid("req_schedule_conf", 'must be general_v20_9B_pe (aesthetic) or general_v20_9B_rephraser (standard) (got "fast")')),
  draw("llm_seed not an integer string", { ...DRAW, llm_seed: "abc" }, "llm_seed", invalid("llm_seed", 'must be an integer in [-1, 2147483647], or such an integer written as a string (got "abc")')),
  ok("llm_seed as an integer string", "/doubao/drawing", { ...DRAW, llm_seed: "12" }),
  draw("scale 0.5", { ...DRAW, scale: 0.5 }, "scale", invalid("scale", "must be a number in [1, 10] (got number 0.5)")),
  draw("ddim_steps 0", { ...DRAW, ddim_steps: 0 }, "ddim_steps", invalid("ddim_steps", "must be an integer in [1, 200] (got number 0)")),
  draw("ddim_steps 201", { ...DRAW, ddim_steps: 201 }, "ddim_steps", invalid("ddim_steps", "must be an integer in [1, 200] (got number 201)")),
  ok("ddim_steps 200", "/doubao/drawing", { ...DRAW, ddim_steps: 200 }),
  draw("width 255", { ...DRAW, width: 255 }, "width", invalid("width", "must be an integer in [256, 768] (got number 255)")),
  draw("height 769", { ...DRAW, height: 769 }, "height", invalid("height", "must be an integer in [256, 768] (got number 769)")),
  ok("width and height 768", "/doubao/drawing", { ...DRAW, width: 768, height: 768 }),
  draw("general_v2.0 width 681", { ...DRAW, model_version: "general_v2.0", width: 681 }, "width", invalid("width", "must be an integer in [256, 680] for general_v2.0 (got number 681)")),
  ok("general_v2.0 width 680", "/doubao/drawing", { ...DRAW, model_version: "general_v2.0", width: 680 }),
  draw("use_sr as a string", { ...DRAW, use_sr: "yes" }, "use_sr", invalid("use_sr", 'must be a boolean (true or false) (got "yes")')),
  draw("return_url as a number", { ...DRAW, return_url: 1 }, "return_url", invalid("return_url", "must be a boolean (true or false) (got number 1)")),
  draw("logo_info.opacity 1.5", { ...DRAW, logo_info: { add_logo: true, opacity: 1.5 } }, "logo_info.opacity", invalid("logo_info.opacity", "must be a number in [0, 1] (got number 1.5)")),
  draw("logo_info.position 4", { ...DRAW, logo_info: { position: 4 } }, "logo_info.position", invalid("logo_info.position", "must be 0 (bottom-right), 1 (bottom-left), 2 (top-left) or 3 (top-right) (got number 4)")),
  draw("logo_info as a string", { ...DRAW, logo_info: "x" }, "logo_info", invalid("logo_info", 'must be an object {add_logo, position, language, opacity, logo_text_content} (got "x")')),
  // portrait
  { ...portrait("portrait without image_input", { width: 512 }, "image_input", "Missing required parameter `image_input`."), code: "MissingParameter" },
  portrait("portrait width 511", { ...PORTRAIT(), width: 511 }, "width", invalid("width", "must be an integer in [512, 2048] (got number 511)")),
  portrait("portrait height 2049", { ...PORTRAIT(), height: 2049 }, "height", invalid("height", "must be an integer in [512, 2048] (got number 2049)")),
  portrait("gpen 0.35", { ...PORTRAIT(), gpen: 0.35 }, "gpen", invalid("gpen", "must be one of 0, 0.1, 0.2, …, 1 (got number 0.35)")),
  portrait("skin 1.1", { ...PORTRAIT(), skin: 1.1 }, "skin", invalid("skin", "must be one of 0, 0.1, 0.2, …, 1 (got number 1.1)")),
  portrait("skin_unifi -0.1", { ...PORTRAIT(), skin_unifi: -0.1 }, "skin_unifi", invalid("skin_unifi", "must be one of 0, 0.1, 0.2, …, 1 (got number -0.1)")),
  portrait("gen_mode auto", { ...PORTRAIT(), gen_mode: "auto" }, "gen_mode", invalid("gen_mode", 'must be creative, reference or reference_char (got "auto")')),
  portrait("seed not an integer string", { ...PORTRAIT(), seed: "x" }, "seed", invalid("seed", 'must be an integer in [-1, 2147483647], or such an integer written as a string (got "x")')),
  portrait("response_format query png", PORTRAIT(), "response_format", invalid("response_format", 'must be "url" or "b64_json" (got "png")'), "/doubao/drawing/portrait?response_format=png"),
  ok("portrait with a 1:4 photo (no ratio rule)", "/doubao/drawing/portrait", { ...PORTRAIT(), image_input: images.tall }),
  // the request as a whole
  { name: "malformed JSON", url: "/doubao/images/generations", body: undefined, raw: '{"model": ', status: 400, param: null, message: /^The request body is not valid JSON \(.+\)\.$/, errCode: -10011 },
  { name: "empty body", url: "/doubao/images/generations", body: undefined, raw: "", status: 400, param: null, message: "The request body is empty; send a JSON object with Content-Type: application/json.", errCode: -10011 },
  { name: "JSON array body", url: "/doubao/drawing", body: [], status: 400, param: null, message: "The request body must be a JSON object.", errCode: -10011 },
  { name: "JSON null body", url: "/v1/images/generations", body: null, status: 400, param: null, message: "The request body must be a JSON object.", errCode: -10011 },
  { name: "text/plain body", url: "/doubao/images/generations", body: undefined, raw: "hello", headers: { "content-type": "text/plain" }, status: 415, param: null, message: "Send the body as JSON with Content-Type: application/json.", errCode: -10011 },
  { name: "wrong method", method: "GET", url: "/doubao/images/generations", body: undefined, status: 405, param: null, message: "GET is not allowed on /doubao/images/generations; use POST.", errCode: -10009 },
  { name: "PUT on drawing", method: "PUT", url: "/doubao/drawing", body: {}, status: 405, param: null, message: "PUT is not allowed on /doubao/drawing; use POST.", errCode: -10009 },
  // 405 comes from the routes themselves: a path with a parameter is known by its pattern (was 404 while the list drifted).
  { name: "DELETE on one model", method: "DELETE", url: "/v1/models/doubao-seedream-4-5-251128", body: undefined, status: 405, param: null, message: "DELETE is not allowed on /v1/models/doubao-seedream-4-5-251128; use GET.", errCode: -10009 },
  { name: "GET on a key's disable", method: "GET", url: "/admin/keys/key-1/disable", body: undefined, status: 405, param: null, message: "GET is not allowed on /admin/keys/key-1/disable; use POST.", errCode: -10009 },
  { name: "unknown path", url: "/v1/images/variations", body: {}, status: 404, param: null, message: "No route POST /v1/images/variations.", errCode: -10010 },
  { name: "body over the limit", url: "/doubao/images/generations", body: undefined, raw: JSON.stringify({ ...T2I, prompt: "x".repeat(16 * 1024 * 1024) }), status: 413, param: null, message: "The request body is larger than 15728640 bytes.", errCode: -10011 },
  { name: "no key", url: "/doubao/images/generations", body: T2I, headers: { authorization: "" }, status: 401, param: null, message: "Missing API key: send the header Authorization: Bearer <key>.", errCode: -10001 },
  { name: "unknown key", url: "/doubao/images/generations", body: T2I, headers: { authorization: "Bearer dg_not_a_real_key_000000000000000000000" }, status: 401, param: null, message: "The API key is invalid or has been revoked.", errCode: -10002 },
  { name: "Basic auth instead of Bearer", url: "/v1/models", method: "GET", body: undefined, headers: { authorization: `Basic ${TEST_KEY}` }, status: 401, param: null, message: "The API key is invalid or has been revoked.", errCode: -10002 },
];

test("at least 60 bad requests are in the table", () => {
  assert.ok(cases().filter((entry) => entry.status >= 400).length >= 60);
});

for (const entry of cases()) {
  test(`${entry.status} ${entry.name}`, async () => {
    const body = entry.body;
    const method = entry.method ?? "POST";
    const headers: Record<string, string> = { authorization: `Bearer ${TEST_KEY}`, ...(method !== "GET" ? { "content-type": "application/json" } : {}), ...entry.headers };
    if (headers.authorization === "") delete headers.authorization;
    const payload = entry.raw ?? (body === undefined ? undefined : JSON.stringify(body));
    const response = await h.gateway.app.inject({ method, url: entry.url ?? "/", headers, ...(payload !== undefined ? { payload } : {}) });
    assert.equal(response.statusCode, entry.status, response.body.slice(0, 300));
    assert.ok(response.headers["x-request-id"]);
    if (entry.status === 200) return;
    const json = response.json();
    assert.deepEqual(Object.keys(json.error), ["code", "message", "message_cn", "param", "type", "err_code"]);
    assert.equal(json.request_id, response.headers["x-request-id"]);
    assert.equal(json.error.param, entry.param ?? null);
    if (entry.message instanceof RegExp) assert.match(json.error.message, entry.message);
    else assert.equal(json.error.message, entry.message);
    // The Chinese is a whole Chinese sentence: the rule translated (values, names and ids kept), never the English.
    assert.doesNotMatch(json.error.message_cn, /规则见 message|Invalid parameter|\b(must|the|is|an?) [a-z]{2,}/, json.error.message_cn);
    assert.equal(json.error.err_code, entry.errCode ?? -10003);
    assert.equal(json.error.type, entry.status === 401 ? "authentication_error" : "invalid_request_error");
    if (entry.code) assert.equal(json.error.code, entry.code);
    if (entry.status === 405) assert.equal(response.headers.allow, entry.url?.startsWith("/v1/models") ? "GET" : "POST");
    const volcengine = (entry.url ?? "").startsWith("/doubao/drawing");
    if (volcengine) {
      assert.equal(typeof json.code, "number");
      assert.notEqual(json.code, 10000);
      assert.equal(json.status, json.code);
      assert.equal(json.message, json.error.message);
      assert.equal(json.data, null);
    } else {
      assert.deepEqual(Object.keys(json), ["error", "request_id"]);
    }
  });
}
