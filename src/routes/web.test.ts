// The web app's files as the gateway serves them: index.html revalidated (no-cache, ETag, 304), hashed assets cached
// as immutable, no key needed, nothing outside the build reachable, and a page that says what to do when unbuilt.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import Fastify, { type FastifyInstance } from "fastify";
import { registerWebRoutes } from "./web.js";
import { GatewayError } from "../errors/errors.js";

let dir = "";
let app: FastifyInstance;
let unbuilt: FastifyInstance;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), "doubao-web-"));
  mkdirSync(join(dir, "assets"));
  writeFileSync(join(dir, "index.html"), '<!doctype html><script type="module" src="./assets/index-abc123.js"></script>');
  writeFileSync(join(dir, "assets", "index-abc123.js"), "console.log(1)");
  writeFileSync(join(dir, "secret.txt"), "outside assets");
  const errors = (instance: FastifyInstance) =>
    instance.setErrorHandler((error: Error, _request, reply) => {
      const status = error instanceof GatewayError ? error.status : 500;
      return reply.code(status).send({ error: { message: error.message } });
    });
  app = Fastify();
  errors(app);
  registerWebRoutes(app, { dir });
  unbuilt = Fastify();
  errors(unbuilt);
  registerWebRoutes(unbuilt, { dir: join(dir, "missing") });
});
after(async () => {
  await app.close();
  await unbuilt.close();
  rmSync(dir, { recursive: true, force: true });
});

test("GET / answers index.html with no-cache and an ETag; the same ETag back is a 304", async () => {
  const first = await app.inject({ method: "GET", url: "/" });
  assert.equal(first.statusCode, 200);
  assert.equal(first.headers["content-type"], "text/html; charset=utf-8");
  assert.equal(first.headers["cache-control"], "no-cache");
  assert.match(String(first.headers.etag), /^"[\w-]{27}"$/);
  assert.equal(first.body, '<!doctype html><script type="module" src="./assets/index-abc123.js"></script>');
  const again = await app.inject({ method: "GET", url: "/", headers: { "if-none-match": String(first.headers.etag) } });
  assert.equal(again.statusCode, 304);
  assert.equal(again.body, "");
});

test("hashed assets are cached for a year as immutable; other names and paths are 404", async () => {
  const asset = await app.inject({ method: "GET", url: "/assets/index-abc123.js" });
  assert.equal(asset.statusCode, 200);
  assert.equal(asset.headers["content-type"], "text/javascript; charset=utf-8");
  assert.equal(asset.headers["cache-control"], "public, max-age=31536000, immutable");
  assert.equal(asset.headers["x-content-type-options"], "nosniff");
  assert.equal(asset.body, "console.log(1)");
  for (const url of ["/assets/missing.js", "/assets/..%2Fsecret.txt", "/assets/%2e%2e%2fsecret.txt", "/assets/.hidden"]) {
    const response = await app.inject({ method: "GET", url });
    assert.equal(response.statusCode, 404, url);
    assert.match(response.json().error.message, /^No such file of the web app: \/assets\//, url);
  }
});

test("an unbuilt app: / says how to build it, and the API still works", async () => {
  const response = await unbuilt.inject({ method: "GET", url: "/" });
  assert.equal(response.statusCode, 200);
  assert.match(response.body, /The web app is not built\. Run <code>npm run build<\/code>/);
});
