import assert from "node:assert/strict";
import { test } from "node:test";
import { canonicalQuery, formatXDate, parseAuthorization, sha256Hex, sign } from "./sign.js";

// Doc example keys from UPSTREAMS.md §3.3 (not real credentials).
const keys = {
  accessKeyId: "AKLTYWViMTVmZGYzM2E0NDI5Mzk2MDZjNjFmMjc2MjRjMzg",
  secretAccessKey: "WkRZeE1EQmxPVGhsWWpWak5HVmtNbUUxTXpZeU9UVXlOMlE1TmpZeVlqTQ==",
};
const EMPTY_HASH = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const billBody = '{"Limit":10,"BillPeriod":"2023-08"}';
const cvBody = '{"req_key":"high_aes_general_v21_L","prompt":"test"}';

test("vector A: GET QueryBalanceAcct", () => {
  const result = sign({
    ...keys, method: "GET", path: "/", query: { Action: "QueryBalanceAcct", Version: "2022-01-01" },
    headers: { Host: "billing.volcengineapi.com", "X-Date": "20250329T180937Z" },
    payloadHash: sha256Hex(""), region: "cn-beijing", service: "billing",
  });
  assert.equal(sha256Hex(""), EMPTY_HASH);
  assert.equal(result.canonicalRequestHash, "43171c1658c64b5db55c58d54988a4598d2d09a5613136beaa5eef40eae6e2c1");
  assert.equal(result.signingKey, "b491ed164936de3bb06c1eb23326aa9587b5aaa6a4e02144b9d523bbebb7ca9f");
  assert.equal(result.signature, "1eda9e7e6b1728151a8e8791fdaf67cfbd28bd5c80d0fce2eb208746cf483105");
  assert.equal(result.signedHeaders, "host;x-date");
});

test("vector B: POST ListBill with a JSON body", () => {
  const payloadHash = sha256Hex(billBody);
  assert.equal(payloadHash, "e8cc56e129d9759d56c936e679a345d001a4235b58bee8e935ccad97f23ed663");
  const result = sign({
    ...keys, method: "POST", path: "/", query: { Action: "ListBill", Version: "2022-01-01" },
    headers: { host: "billing.volcengineapi.com", "x-date": "20250329T180937Z" },
    payloadHash, region: "cn-beijing", service: "billing",
  });
  assert.equal(result.canonicalRequestHash, "27383e3b56d03850f5634483527fbddcbf06cf98de1bc8a6679ef2300bff3b15");
  assert.equal(result.signature, "5e8480ceea12d0000a23c054151c50dd02c1a7dec835004057d19f13d53a7658");
});

test("vector C: GET ListUsers with query parameters out of order", () => {
  const result = sign({
    ...keys, method: "GET", path: "/", query: { Version: "2018-01-01", Offset: "0", Action: "ListUsers", Limit: "10" },
    headers: { host: "iam.volcengineapi.com", "x-date": "20240619T071306Z" },
    payloadHash: EMPTY_HASH, region: "cn-beijing", service: "iam",
  });
  assert.equal(result.canonicalRequestHash, "5ed5bca3905e1fcbf789abb56a17c2d819674a3bcfa468ae476bd1ea80d135cb");
  assert.equal(result.signingKey, "abee62e533a58934c49954459a3c3237d2fccea517c9a7c8a2651d8ea7779826");
  assert.equal(result.signature, "e31c4558bcfe08a286001f59cedbf0791ffd0b2362f10e55ee2627467bcdde93");
});

test("vector D: request B with x-content-sha256 signed", () => {
  const payloadHash = sha256Hex(billBody);
  const result = sign({
    ...keys, method: "POST", path: "/", query: { Action: "ListBill", Version: "2022-01-01" },
    headers: { host: "billing.volcengineapi.com", "x-date": "20250329T180937Z", "x-content-sha256": payloadHash },
    payloadHash, region: "cn-beijing", service: "billing",
  });
  assert.equal(result.signedHeaders, "host;x-content-sha256;x-date");
  assert.equal(result.signature, "176e38903a19dd2f20046cfbcbb79be80860089ac11e5382efcfe584d4a5badc");
});

test("vector E: CVProcess as the official Python SDK signs it", () => {
  const payloadHash = sha256Hex(cvBody);
  assert.equal(payloadHash, "7778f64d5233c310dfe40587a9ee771b816bcafeacfcc0e5c8f723529678eb9c");
  const result = sign({
    ...keys, method: "POST", path: "/", query: { Action: "CVProcess", Version: "2022-08-31" },
    headers: { "Content-Type": "application/json", Host: "visual.volcengineapi.com", "X-Date": "20250329T180937Z", "X-Content-Sha256": payloadHash },
    payloadHash, region: "cn-north-1", service: "cv",
  });
  assert.equal(result.signature, "dd981f763762397d413822d118a40d3296267635a29f09146c779e3f74221743");
  assert.equal(
    result.authorization,
    "HMAC-SHA256 Credential=AKLTYWViMTVmZGYzM2E0NDI5Mzk2MDZjNjFmMjc2MjRjMzg/20250329/cn-north-1/cv/request, " +
      "SignedHeaders=content-type;host;x-content-sha256;x-date, Signature=dd981f763762397d413822d118a40d3296267635a29f09146c779e3f74221743",
  );
  assert.deepEqual(parseAuthorization(result.authorization), {
    accessKeyId: keys.accessKeyId, shortDate: "20250329", region: "cn-north-1", service: "cv",
    signedHeaders: ["content-type", "host", "x-content-sha256", "x-date"],
    signature: "dd981f763762397d413822d118a40d3296267635a29f09146c779e3f74221743",
  });
});

test("vector F: CVProcess as the official Node SDK signs it (no host header)", () => {
  const payloadHash = sha256Hex(cvBody);
  const result = sign({
    ...keys, method: "POST", path: "/", query: { Action: "CVProcess", Version: "2022-08-31" },
    headers: { host: "visual.volcengineapi.com", "x-date": "20250329T180937Z", "x-content-sha256": payloadHash },
    payloadHash, region: "cn-north-1", service: "cv",
  });
  assert.equal(result.signature, "202627683efdcc061e562ef1aae999ef76eeef48d6fd791d6a9946dfc36d8d7f");
});

test("a changed body, date or key changes the signature", () => {
  const base = {
    ...keys, method: "POST", path: "/", query: { Action: "CVProcess", Version: "2022-08-31" },
    headers: { host: "visual.volcengineapi.com", "x-date": "20250329T180937Z" },
    payloadHash: sha256Hex(cvBody), region: "cn-north-1", service: "cv",
  };
  const original = sign(base).signature;
  assert.notEqual(sign({ ...base, payloadHash: sha256Hex(cvBody.replace("test", "tesT")) }).signature, original);
  assert.notEqual(sign({ ...base, headers: { ...base.headers, "x-date": "20250329T180938Z" } }).signature, original);
  assert.notEqual(sign({ ...base, secretAccessKey: `${keys.secretAccessKey}x` }).signature, original);
});

test("formatXDate, canonicalQuery and parseAuthorization edge cases", () => {
  assert.equal(formatXDate(new Date("2025-03-29T18:09:37.123Z")), "20250329T180937Z");
  assert.equal(canonicalQuery({ b: "a b", a: "x*y~" }), "a=x%2Ay~&b=a%20b");
  assert.equal(parseAuthorization("Bearer abc"), undefined);
  assert.equal(parseAuthorization(undefined), undefined);
});
