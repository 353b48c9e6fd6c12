// Streamed requests one after another, in a process of its own: for each, when the first byte and each image event
// arrived (ms after the request was sent). Prints one JSON line.
import { request } from "undici";

const { url, headers, body, count } = JSON.parse(process.argv[2]);
const runs = [];
for (let run = 0; run < count; run += 1) {
  const started = performance.now();
  const answer = await request(url, { method: "POST", headers, body });
  if (answer.statusCode !== 200) throw new Error(`HTTP ${answer.statusCode}: ${await answer.body.text()}`);
  let firstByte;
  const events = [];
  let buffered = "";
  for await (const chunk of answer.body) {
    firstByte ??= performance.now() - started;
    buffered += chunk.toString();
    let end;
    while ((end = buffered.indexOf("\n\n")) >= 0) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      if (/"b64_json"|"url"/.test(block) && /partial_succeeded|image_generation\.partial_image|"type":"image_generation\.completed"/.test(block)) events.push(performance.now() - started);
    }
  }
  runs.push({ firstByte, events });
}
process.stdout.write(`${JSON.stringify(runs)}\n`);
