// The node:http side the minimal proxies share (bench/floor.mjs, bench/rehost-floor.mjs): the request's body
// joined, `answer` asked for the status and body to send, a 502 with the error's text when it throws.
import http from "node:http";

export function serveProxy(answer) {
  const server = http.createServer((incoming, outgoing) => {
    const chunks = [];
    incoming.on("data", (chunk) => chunks.push(chunk));
    incoming.on("end", async () => {
      try {
        const { status, body } = await answer(Buffer.concat(chunks));
        outgoing.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
        outgoing.end(body);
      } catch (error) {
        outgoing.writeHead(502);
        outgoing.end(String(error));
      }
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => process.stdout.write(`listening ${server.address().port}\n`));
}
