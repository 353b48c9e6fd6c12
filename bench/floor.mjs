// The floor: the least a Node proxy can do — node:http in, undici's request (a keep-alive pool) out, the body passed on.
import { Agent, request } from "undici";
import { serveProxy } from "./proxy-server.mjs";

const upstream = process.env.UPSTREAM;
// UNLIMITED=1: a connection per request in flight, as the gateway's own pool opens them (the waiting scenario).
const dispatcher = new Agent({ connections: process.env.UNLIMITED ? null : 256, keepAliveTimeout: 60_000 });
serveProxy(async (body) => {
  const answer = await request(`${upstream}/api/v3/images/generations`, {
    method: "POST", body, headers: { "content-type": "application/json", authorization: "Bearer bench" }, dispatcher,
  });
  return { status: answer.statusCode, body: Buffer.from(await answer.body.arrayBuffer()) };
});
