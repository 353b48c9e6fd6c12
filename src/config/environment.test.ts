import assert from "node:assert/strict";
import { test } from "node:test";
import { ConfigError, loadConfig } from "./environment.js";

test("no credentials outside production: the embedded emulator", () => {
  const config = loadConfig({});
  assert.equal(config.emulate, true);
  assert.equal(config.ark, undefined);
  assert.equal(config.host, "127.0.0.1");
  assert.equal(config.port, 8302);
  assert.equal(config.publicBaseUrl, "http://127.0.0.1:8302");
  assert.equal(config.fileTtlHours, 24);
  assert.equal(config.resultHosting, "gateway");
});

test("production without credentials fails and lists what to set", () => {
  assert.throws(() => loadConfig({ NODE_ENV: "production" }), (error: Error) => {
    assert.ok(error instanceof ConfigError);
    for (const name of ["ARK_API_KEY", "VOLC_ACCESSKEY", "VOLC_SECRETKEY", "GATEWAY_EMULATE=1"]) assert.ok(error.message.includes(name), name);
    return true;
  });
  assert.equal(loadConfig({ NODE_ENV: "production", GATEWAY_EMULATE: "1" }).emulate, true);
});

test("credentials select the real upstreams, with their default endpoints", () => {
  const config = loadConfig({ NODE_ENV: "production", ARK_API_KEY: "k", VOLC_ACCESSKEY: "a", VOLC_SECRETKEY: "s" });
  assert.equal(config.emulate, false);
  assert.deepEqual(config.ark, { apiKey: "k", baseUrl: "https://ark.cn-beijing.volces.com/api/v3" });
  assert.deepEqual(config.visual, { accessKeyId: "a", secretAccessKey: "s", baseUrl: "https://visual.volcengineapi.com" });
});

test("bad values are refused with the variable named", () => {
  assert.throws(() => loadConfig({ PORT: "http" }), /PORT must be an integer in \[0, 65535\]; got "http"/);
  assert.throws(() => loadConfig({ RESULT_HOSTING: "s3" }), /RESULT_HOSTING must be "gateway" or "upstream"/);
  assert.throws(() => loadConfig({ VOLC_ACCESSKEY: "a" }), /VOLC_ACCESSKEY and VOLC_SECRETKEY must be set together/);
  assert.throws(() => loadConfig({ ARK_API_KEY: "k", ARK_BASE_URL: "ftp://x" }), /ARK_BASE_URL must be an http\(s\) URL/);
  assert.throws(() => loadConfig({ FILE_TTL_HOURS: "0" }), /FILE_TTL_HOURS must be a number of hours from 0.0167 \(one minute\) to 8760 \(a year\), e.g. 24 or 0.25 for 15 minutes; got "0"./);
  assert.equal(loadConfig({ FILE_TTL_HOURS: "0.25" }).fileTtlHours, 0.25);
  assert.equal(loadConfig({ LOG_FORMAT: "pretty" }).logFormat, "pretty");
  assert.throws(() => loadConfig({ DATABASE_URL: "mysql://u:pw@db/gw" }), /^Error: DATABASE_URL must be postgres:\/\/\[user:password@\]host:port\/database\[\?schema=NAME\]; got "mysql:\/\/…@db\/gw"\.$/);
  assert.throws(() => loadConfig({ FILE_SERVING: "cdn" }), /^Error: FILE_SERVING must be "gateway" or "presigned"; got "cdn"\.$/);
  assert.throws(() => loadConfig({ FILE_SERVING: "presigned" }), /^Error: FILE_SERVING=presigned needs STORAGE_URL=s3:\/\/bucket\/prefix \(files on the local disk have no presigned URLs\)\.$/);
  assert.throws(() => loadConfig({ TASK_CONCURRENCY: "0" }), /TASK_CONCURRENCY must be an integer in \[1, 10000\]; got "0"/);
  assert.throws(() => loadConfig({ LISTEN_BACKLOG: "100000" }), /LISTEN_BACKLOG must be an integer in \[1, 65535\]; got "100000"/);
  assert.equal(loadConfig({}).listenBacklog, 4096);
  assert.equal(loadConfig({}).sqliteSynchronous, "normal");
  assert.equal(loadConfig({ SQLITE_SYNCHRONOUS: "FULL" }).sqliteSynchronous, "full");
  assert.throws(() => loadConfig({ SQLITE_SYNCHRONOUS: "off" }), /SQLITE_SYNCHRONOUS must be "full" or "normal"; got "off"/);
  assert.throws(() => loadConfig({ LOG_FORMAT: "xml" }), /^Error: LOG_FORMAT must be json or pretty; got "xml"\.$/);
  assert.throws(() => loadConfig({ GATEWAY_EMULATE: "0" }), /^Error: GATEWAY_EMULATE=0 forbids the built-in emulator and no upstream credentials are set, so no model could be served. Set ARK_API_KEY/);
  assert.equal(loadConfig({ HOST: "0.0.0.0" }).publicBaseUrl, "http://localhost:8302");
});
