// The fake Ark for the benchmarks: answers every POST like Ark's images API, at once or after DELAY_MS. With
// `"response_format":"b64_json"` in the body it returns IMAGE_FILE's bytes as base64 (the re-hosting path).
import { readFileSync } from "node:fs";
import http from "node:http";

const port = Number(process.env.PORT ?? 0);
const delayMs = Number(process.env.DELAY_MS ?? 0);
const image = process.env.IMAGE_FILE ? readFileSync(process.env.IMAGE_FILE).toString("base64") : "";
const answer = (b64) =>
  JSON.stringify({
    model: "doubao-seedream-4-5-251128", created: 1764000000,
    data: [b64 ? { b64_json: image, size: "1024x1024" } : { url: "https://ark-results.example/2048.jpeg", size: "2048x2048" }],
    usage: { generated_images: 1, output_tokens: 16384, total_tokens: 16384 },
  });
const urlAnswer = answer(false);
const b64Answer = image ? answer(true) : urlAnswer;
// `"stream":true`: three images as Ark's server-sent events, EVENT_GAP_MS apart (the first at once), then the end.
const gapMs = Number(process.env.EVENT_GAP_MS ?? 100);
function stream(response) {
  response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
  const event = (type, data) => response.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
  let index = 0;
  const next = () => {
    if (index < 3) {
      event("image_generation.partial_succeeded", { image_index: index, ...(image ? { b64_json: image } : { url: "https://ark-results.example/2048.jpeg" }), size: "1024x1024" });
      index += 1;
      setTimeout(next, gapMs);
      return;
    }
    event("image_generation.completed", { usage: { generated_images: 3, output_tokens: 12288, total_tokens: 12288 } });
    response.end("data: [DONE]\n\n");
  };
  next();
}

const server = http.createServer((request, response) => {
  const chunks = [];
  request.on("data", (chunk) => chunks.push(chunk));
  request.on("end", () => {
    const received = Buffer.concat(chunks);
    if (received.includes('"stream":true')) return stream(response);
    const wantsB64 = image && received.includes('"b64_json"');
    const body = wantsB64 ? b64Answer : urlAnswer;
    const send = () => {
      response.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
      response.end(body);
    };
    if (delayMs > 0) setTimeout(send, delayMs);
    else send();
  });
});
server.keepAliveTimeout = 60_000;
server.maxConnections = 100_000;
// A backlog as a real upstream's: with Node's 511, 5,000 connections at once overflow it and wait 1–3 s for SYN retries.
server.listen({ port, host: "127.0.0.1", backlog: 8192 }, () => process.stdout.write(`listening ${server.address().port}\n`));
