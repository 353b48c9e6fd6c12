import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, test } from "node:test";
import { AllowList, isPublicAddress, unmapIPv4 } from "./address-policy.js";
import { fetchInput, type FetchPolicy } from "./fetch-input.js";

// Every connection goes to 127.0.0.1; names "resolve" through an injected table, and the dial hook maps
// the checked (public-looking) address to the loopback test server.
let server: Server;
let port = 0;
const PUBLIC = "93.184.216.34";

before(async () => {
  server = createServer((request, response) => {
    if (request.url === "/image") {
      response.writeHead(200, { "content-type": "image/png" });
      response.end(Buffer.from("fake-png-bytes"));
    } else if (request.url === "/to-private") {
      response.writeHead(302, { location: `http://internal.test:${port}/image` });
      response.end();
    } else if (request.url === "/loop") {
      response.writeHead(302, { location: "/loop" });
      response.end();
    } else if (request.url === "/big") {
      response.writeHead(200, { "content-type": "image/png" });
      response.end(Buffer.alloc(2048));
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});
after(() => server.close());

const table: Record<string, string[]> = { "images.test": [PUBLIC], "internal.test": ["10.0.0.7"], "mixed.test": [PUBLIC, "192.168.1.1"] };
const policy = (): FetchPolicy => ({
  resolve: async (hostname) => {
    const found = table[hostname];
    if (!found) throw new Error("ENOTFOUND");
    return found;
  },
  dial: (address) => (address === PUBLIC ? "127.0.0.1" : "192.0.2.255"),
  maxBytes: 1024,
});

const rejects = async (url: string, pattern: RegExp, custom?: FetchPolicy) => {
  await assert.rejects(fetchInput(url, "image", custom ?? policy()), (error: Error & { status?: number; param?: string }) => {
    assert.equal(error.status, 400);
    assert.equal(error.param, "image");
    assert.match(error.message, pattern);
    return true;
  });
};

test("a public name is fetched from the checked address", async () => {
  const result = await fetchInput(`http://images.test:${port}/image`, "image", policy());
  assert.equal(result.bytes.toString(), "fake-png-bytes");
  assert.equal(result.contentType, "image/png");
});

test("literal and named non-public addresses are refused before connecting", async () => {
  await rejects(`http://127.0.0.1:${port}/image`, /non-public address \(127\.0\.0\.1\)/);
  await rejects(`http://2130706433:${port}/image`, /non-public address \(127\.0\.0\.1\)/);
  await rejects(`http://0x7f.1:${port}/image`, /non-public address \(127\.0\.0\.1\)/);
  await rejects(`http://[::ffff:127.0.0.1]:${port}/image`, /non-public address \(127\.0\.0\.1\)/);
  await rejects(`http://[::1]:${port}/image`, /non-public address \(::1\)/);
  await rejects(`http://169.254.169.254/latest/meta-data`, /non-public address \(169\.254\.169\.254\)/);
  await rejects(`http://localhost:${port}/image`, /loopback name/);
  await rejects(`http://internal.test:${port}/image`, /non-public address \(10\.0\.0\.7\)/);
  await rejects(`http://mixed.test:${port}/image`, /non-public address \(192\.168\.1\.1\)/);
});

test("redirects are checked hop by hop and bounded", async () => {
  await rejects(`http://images.test:${port}/to-private`, /non-public address \(10\.0\.0\.7\)/);
  await rejects(`http://images.test:${port}/loop`, /redirected more than 3 times/);
});

test("size, scheme, status and name failures are 400s naming the field", async () => {
  await rejects(`http://images.test:${port}/big`, /larger than the limit of 1024 bytes/);
  await rejects(`ftp://images.test/x.png`, /only http and https/);
  await rejects(`http://images.test:${port}/missing`, /answered HTTP 404/);
  await rejects(`http://nowhere.test/x.png`, /does not resolve/);
});

test("an operator allow-list admits a trusted private range", async () => {
  const trusted: FetchPolicy = { ...policy(), allow: new AllowList(["127.0.0.0/8"]), dial: (address) => address };
  const result = await fetchInput(`http://127.0.0.1:${port}/image`, "image", trusted);
  assert.equal(result.bytes.toString(), "fake-png-bytes");
});

test("address classification", () => {
  for (const address of ["127.0.0.1", "10.1.2.3", "172.31.255.255", "192.168.0.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fd00::1", "ff02::1", "::ffff:10.0.0.1", "64:ff9b::a00:1", "2001:db8::1"]) {
    assert.equal(isPublicAddress(address), false, address);
  }
  for (const address of ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8"]) {
    assert.equal(isPublicAddress(address), true, address);
  }
  assert.equal(unmapIPv4("::ffff:7f00:1"), "127.0.0.1");
});
