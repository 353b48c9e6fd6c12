// A reference for the re-hosting scenario, not a target: the least a Node proxy does to re-host a result — node:http
// in, undici's request out, the upstream's JSON parsed, its base64 decoded and written temp-then-rename under
// DATA_DIR, its own URL answered. No key, validation, image check, ledger, metrics or log line.
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Agent, request } from "undici";
import { serveProxy } from "./proxy-server.mjs";

const upstream = process.env.UPSTREAM;
const directory = process.env.DATA_DIR;
mkdirSync(directory, { recursive: true });
const dispatcher = new Agent({ connections: 256, keepAliveTimeout: 60_000 });
serveProxy(async (received) => {
  const sent = JSON.parse(received.toString());
  const answer = await request(`${upstream}/api/v3/images/generations`, {
    method: "POST", body: JSON.stringify({ ...sent, response_format: "b64_json" }), headers: { "content-type": "application/json", authorization: "Bearer bench" }, dispatcher,
  });
  const json = await answer.body.json();
  const name = `${randomBytes(12).toString("hex")}.jpeg`;
  await writeFile(join(directory, `${name}.tmp`), Buffer.from(json.data[0].b64_json, "base64"));
  await rename(join(directory, `${name}.tmp`), join(directory, name));
  return { status: 200, body: JSON.stringify({ created: json.created, data: [{ url: `http://127.0.0.1/files/${name}`, size: json.data[0].size }], usage: json.usage }) };
});
