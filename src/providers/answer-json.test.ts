import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { parseAnswer } from "./answer-json.js";
import { Base64Bytes } from "./types.js";

/** The answer with every Base64Bytes turned back into its base64 text: what JSON.parse alone gives. */
function asText(value: unknown): unknown {
  if (value instanceof Base64Bytes) return value.bytes.toString("base64");
  if (Array.isArray(value)) return value.map(asText);
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, asText(item)]));
  return value;
}

const image = randomBytes(70_000);
const b64 = image.toString("base64");

test("a b64_json answer: the image's bytes come decoded, the rest exactly as JSON.parse reads it", () => {
  const text = JSON.stringify({ model: "doubao-seedream-4-5-251128", created: 1, data: [{ b64_json: b64, size: "1024x1024" }, { error: { code: "OutputImageSensitiveContentDetected", message: "多" } }], usage: { generated_images: 1 } });
  const answer = parseAnswer(Buffer.from(text)) as { data: Array<{ b64_json?: unknown }> };
  assert.ok(answer.data[0]?.b64_json instanceof Base64Bytes);
  assert.ok((answer.data[0].b64_json as Base64Bytes).bytes.equals(image));
  assert.deepEqual(asText(answer), JSON.parse(text));
});

test("Visual's binary_data_base64 array: every item decoded; a long base64 string under another key stays a string", () => {
  const other = randomBytes(300).toString("base64");
  const text = JSON.stringify({ code: 10000, data: { binary_data_base64: [b64, other], llm_result: other, image_urls: [other] }, message: "Success" });
  const answer = parseAnswer(Buffer.from(text)) as { data: { binary_data_base64: unknown[]; llm_result: unknown; image_urls: unknown[] } };
  assert.ok(answer.data.binary_data_base64.every((item) => item instanceof Base64Bytes));
  assert.equal(answer.data.llm_result, other);
  assert.deepEqual(answer.data.image_urls, [other]);
  assert.deepEqual(asText(answer), JSON.parse(text));
});

test("what the fast reading cannot prove equal is read the plain way, to the same value JSON.parse gives", () => {
  const cases = [
    `{"data":[{"b64_json":"${b64.slice(0, 1200)}\\/${b64.slice(1200, 2400)}"}]}`, // an escape inside
    `{"data":[{"b64_json":"${b64.slice(0, 1201)}"}]}`, // not a multiple of 4
    `{"data":[{"b64_json":"${b64.slice(0, 600)}==${b64.slice(0, 598)}"}]}`, // padding inside
    `{"data":[{"b64_json":"${b64.slice(0, 600)}é${b64.slice(0, 598)}"}]}`, // a character outside base64
    `{"${b64.slice(0, 1200)}":{"b64_json":1}}`, // a long key
    `[{"b64_json":"${b64.slice(0, 1200)}"},"${b64.slice(0, 1200)}"]`, // a top-level array
    `\ufeff{"b64_json":"${b64.slice(0, 1200)}","note":"\\"b64_json\\":\\"x\\\\"}`, // a byte-order mark, escaped quotes
    `{"data":[{"b64_json":"\\u0000doubao-gateway-blob:0"}],"x":"${b64.slice(0, 1200)}"}`, // the marker itself, sent
  ];
  for (const text of cases) {
    const answer = parseAnswer(Buffer.from(text));
    assert.deepEqual(asText(answer), JSON.parse(text.replace(/^\ufeff/, "")), text.slice(0, 60));
  }
  // The URL-safe alphabet decodes to the bytes Buffer.from gives it (the text would be encoded again in the standard one).
  const urlSafe = `${b64.slice(0, 600)}-_${b64.slice(0, 598)}`;
  const decoded = parseAnswer(Buffer.from(`{"data":[{"b64_json":"${urlSafe}"}]}`)) as { data: Array<{ b64_json: unknown }> };
  assert.ok(decoded.data[0]?.b64_json instanceof Base64Bytes);
  assert.ok(decoded.data[0].b64_json.bytes.equals(Buffer.from(urlSafe, "base64")));
  const escaped = parseAnswer(Buffer.from(cases[0] as string)) as { data: Array<{ b64_json: unknown }> };
  assert.equal(typeof escaped.data[0]?.b64_json, "string");
});

test("a broken body throws as JSON.parse does; an empty one is undefined", () => {
  assert.equal(parseAnswer(Buffer.alloc(0)), undefined);
  assert.throws(() => parseAnswer(Buffer.from(`{"data":[{"b64_json":"${b64.slice(0, 1200)}"}`)), SyntaxError);
  assert.throws(() => parseAnswer(Buffer.from(`{"data":[{"b64_json":"${b64.slice(0, 1200)}`)), SyntaxError);
  assert.throws(() => parseAnswer(Buffer.from(`{"b64_json":"${b64.slice(0, 600)}\n${b64.slice(0, 600)}"}`)), SyntaxError);
});
