// docker-compose.yml as an operator runs it (no Docker engine here): with deploy/env.example, each gateway's
// environment is a configuration the gateway accepts, on the shared PostgreSQL, Redis and MinIO; the balancer
// sends to both gateways; every secret comes from the .env file, none is written in the compose file.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { parse } from "yaml";
import { loadConfig } from "./config/environment.js";

const compose = readFileSync(new URL("../docker-compose.yml", import.meta.url), "utf8");
const example = Object.fromEntries(
  readFileSync(new URL("../deploy/env.example", import.meta.url), "utf8")
    .split("\n")
    .filter((line) => /^[A-Z0-9_]+=/.test(line))
    .map((line) => [line.slice(0, line.indexOf("=")), line.slice(line.indexOf("=") + 1)]),
);

/** Compose's interpolation: ${NAME}, ${NAME:-default}, ${NAME:?message} (an error when unset or empty), $$ for $. */
function interpolate(text: string, variables: Record<string, string>): string {
  return text.replace(/\$\$|\$\{([A-Z0-9_]+)(?::([-?])([^}]*))?\}/g, (match, name: string | undefined, kind: string | undefined, rest: string | undefined) => {
    if (match === "$$") return "$";
    const value = variables[name as string];
    if (value !== undefined && value !== "") return value;
    if (kind === "?") throw new Error(`${name}: ${rest}`);
    return kind === "-" ? (rest ?? "") : "";
  });
}

type Service = { environment?: Record<string, string>; depends_on?: Record<string, unknown>; command?: string[]; image?: string; build?: unknown };

test("with deploy/env.example, both gateways' environments are accepted configurations on PostgreSQL, Redis and MinIO", () => {
  const file = parse(interpolate(compose, example), { merge: true }) as { services: Record<string, Service> };
  const services = file.services;
  assert.deepEqual(Object.keys(services).sort(), ["balancer", "buckets", "gateway-a", "gateway-b", "migrate", "minio", "postgres", "redis"]);
  for (const name of ["gateway-a", "gateway-b"]) {
    // Compose passes every value as a string.
    const environment = Object.fromEntries(Object.entries(services[name]?.environment ?? {}).map(([key, value]) => [key, String(value)]));
    const config = loadConfig(environment);
    assert.equal(config.instanceId, name);
    assert.equal(config.databaseUrl, `postgres://gateway:${example.POSTGRES_PASSWORD}@postgres:5432/gateway`);
    assert.equal(config.redisUrl, "redis://redis:6379/0");
    assert.deepEqual([config.storage.kind, config.storage.kind === "s3" && config.storage.endpoint, config.storage.kind === "s3" && config.storage.forcePathStyle], ["s3", "http://minio:9000", true]);
    assert.equal(config.emulate, true, "env.example runs on the emulator");
    assert.equal(config.publicBaseUrl, "http://localhost:8302");
    assert.deepEqual(Object.keys(services[name]?.depends_on ?? {}).sort(), ["buckets", "migrate", "redis"]);
  }
  assert.deepEqual(services.migrate?.command, ["node", "bin/doubao-gateway.js", "migrate"]);
  const nginx = readFileSync(new URL("../deploy/nginx.conf", import.meta.url), "utf8");
  assert.deepEqual([...nginx.matchAll(/server (gateway-[ab]):8302/g)].map((match) => match[1]), ["gateway-a", "gateway-b"]);
  assert.match(nginx, /proxy_buffering off;/, "streams pass through");
});

test("every secret comes from the .env file: without one, compose refuses and names the variable", () => {
  assert.throws(() => interpolate(compose, {}), /^Error: POSTGRES_PASSWORD: set POSTGRES_PASSWORD in \.env$/);
  for (const name of ["POSTGRES_PASSWORD", "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD", "GATEWAY_BOOTSTRAP_KEY"]) {
    assert.throws(() => interpolate(compose, { ...example, [name]: "" }), new RegExp(`^Error: ${name}: `), name);
  }
  for (const name of ["POSTGRES_PASSWORD", "MINIO_ROOT_PASSWORD", "GATEWAY_BOOTSTRAP_KEY"]) {
    assert.equal(compose.includes(example[name] as string), false, `${name}'s example value is not in the compose file`);
  }
});
