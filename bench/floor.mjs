// The floor: the least a Node proxy can do — node:http in, undici's request (a keep-alive pool) out, the body piped.
import http from "node:http";
import { Agent, request } from "undici";

const upstream = process.env.UPSTREAM;
// UNLIMITED=1: a connection per request in flight, as the gateway's own pool opens them (the waiting scenario).
const dispatcher = new Agent({ connections: process.env.UNLIMITED ? null : 256, keepAliveTimeout: 60_000 });
const server = http.createServer((incoming, outgoing) => {
  const chunks = [];
  incoming.on("data", (chunk) => chunks.push(chunk));
  incoming.on("end", async () => {
    try {
      const answer = await request(`${upstream}/api/v3/images/generations`, {
        method: "POST", body: Buffer.concat(chunks), headers: { "content-type": "application/json", authorization: "Bearer bench" }, dispatcher,
      });
      const body = Buffer.from(await answer.body.arrayBuffer());
      outgoing.writeHead(answer.statusCode, { "content-type": "application/json", "content-length": body.length });
      outgoing.end(body);
    } catch (error) {
      outgoing.writeHead(502);
      outgoing.end(String(error));
    }
  });
});
server.keepAliveTimeout = 60_000;
server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => process.stdout.write(`listening ${server.address().port}\n`));
