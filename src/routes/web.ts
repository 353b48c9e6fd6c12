/**
 * The web app (packages/web, built by Vite into packages/web/dist) at `/`: `index.html` revalidated on every visit
 * (`no-cache` with an ETag), everything under `/assets/` named by its content's hash and cached for a year as
 * immutable. The app refers to its files and to the API by relative URLs, so it works behind a path prefix.
 * Files are read on first request and kept (the build is a few hundred KB), never before: an API-only gateway
 * pays nothing for it.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { extname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { invalidRequest } from "../errors/errors.js";
import { PUBLIC } from "../api/route-config.js";

/** dist/routes/web.js and src/routes/web.ts are both two folders below the repository's root. */
export const DEFAULT_WEB_DIR = fileURLToPath(new URL("../../packages/web/dist/", import.meta.url));

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml",
  ".png": "image/png", ".jpeg": "image/jpeg", ".jpg": "image/jpeg", ".woff2": "font/woff2", ".json": "application/json", ".ico": "image/x-icon",
};
/** A built asset's name: letters, digits, `-`, `_` and dots, never a path. */
const ASSET_NAME = /^[A-Za-z0-9_-][A-Za-z0-9_.-]*$/;

interface WebFile {
  body: Buffer;
  type: string;
  etag: string;
}

const NOT_BUILT = `<!doctype html><html lang="en"><meta charset="utf-8"><title>doubao-gateway</title>
<p>The web app is not built. Run <code>npm run build</code> (or <code>npm start</code>, which builds what changed), then reload.</p>
<p>The API is served as usual: see <a href="openapi.json">openapi.json</a>.</p></html>`;

export function registerWebRoutes(app: FastifyInstance, options: { dir?: string } = {}): void {
  const dir = options.dir ?? DEFAULT_WEB_DIR;
  const files = new Map<string, Promise<WebFile | undefined>>();
  const load = (name: string) => {
    let file = files.get(name);
    if (!file) {
      file = readFile(join(dir, name)).then(
        (body) => ({ body, type: TYPES[extname(name)] ?? "application/octet-stream", etag: `"${createHash("sha1").update(body).digest("base64url")}"` }),
        () => undefined,
      );
      // A missing file is looked for again next time (the app may be built while the gateway runs).
      void file.then((found) => found ?? files.delete(name));
      files.set(name, file);
    }
    return file;
  };
  const send = (request: FastifyRequest, reply: FastifyReply, file: WebFile, cacheControl: string) => {
    reply.header("cache-control", cacheControl).header("etag", file.etag).header("x-content-type-options", "nosniff");
    if (request.headers["if-none-match"] === file.etag) return reply.code(304).send();
    return reply.type(file.type).send(file.body);
  };

  app.get("/", PUBLIC, async (request, reply) => {
    const index = await load("index.html");
    if (!index) return reply.type("text/html; charset=utf-8").header("cache-control", "no-cache").send(NOT_BUILT);
    return send(request, reply, index, "no-cache");
  });
  app.get("/assets/:name", PUBLIC, async (request: FastifyRequest<{ Params: { name: string } }>, reply) => {
    const { name } = request.params;
    const file = ASSET_NAME.test(name) ? await load(`assets/${name}`) : undefined;
    if (!file) throw invalidRequest(404, "NotFound", `No such file of the web app: /assets/${name}.`, `网页应用没有这个文件：/assets/${name}。`);
    return send(request, reply, file, "public, max-age=31536000, immutable");
  });
}
