// A reference, not a target: the floor's proxy written as a Fastify route (JSON body parsed, the upstream's answer
// parsed and sent back as JSON) with no gateway work at all — no key, validation, quota, ledger, metrics or log line.
// What it costs over the floor is what any Fastify-based gateway pays before doing anything of its own.
import Fastify from "fastify";
import { Agent, request } from "undici";

const upstream = process.env.UPSTREAM;
const dispatcher = new Agent({ connections: 256, keepAliveTimeout: 60_000 });
const app = Fastify({ logger: false });
app.post("/", async (incoming, reply) => {
  const answer = await request(`${upstream}/api/v3/images/generations`, {
    method: "POST", body: JSON.stringify(incoming.body), headers: { "content-type": "application/json", authorization: "Bearer bench" }, dispatcher,
  });
  return reply.code(answer.statusCode).send(await answer.body.json());
});
await app.listen({ port: Number(process.env.PORT ?? 0), host: "127.0.0.1" });
process.stdout.write(`listening ${app.server.address().port}\n`);
