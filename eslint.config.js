// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["**/dist/", "**/node_modules/", "data/", "bin/"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-restricted-imports": [
        "error",
        {
          paths: [
            { name: "node:http", importNames: ["get", "request"], message: "Client-supplied URLs go through src/images/fetch-input.ts (SSRF-safe)." },
            { name: "node:https", importNames: ["get", "request"], message: "Client-supplied URLs go through src/images/fetch-input.ts (SSRF-safe)." },
            { name: "undici", message: "Client-supplied URLs go through src/images/fetch-input.ts (SSRF-safe); upstream calls through src/providers/http.ts." },
          ],
        },
      ],
    },
  },
  {
    // Plain Node scripts: the start-up build check and the benchmarks.
    files: ["scripts/**/*.mjs", "bench/**/*.mjs", "packages/web/scripts/**/*.mjs"],
    languageOptions: {
      globals: { process: "readonly", console: "readonly", URL: "readonly", Buffer: "readonly", setTimeout: "readonly", clearTimeout: "readonly", setInterval: "readonly", clearInterval: "readonly", performance: "readonly", fetch: "readonly" },
    },
  },
  {
    // The benchmark's preload (CommonJS, loaded with --require into the gateway under measurement).
    files: ["bench/**/*.cjs"],
    languageOptions: { sourceType: "commonjs", globals: { require: "readonly", process: "readonly", Buffer: "readonly", TextDecoder: "readonly", SharedArrayBuffer: "readonly" } },
    rules: { "@typescript-eslint/no-require-imports": "off" },
  },
  {
    // Outside tests, nothing fetches by the global either: upstream calls take their fetch from the provider options.
    files: ["src/**/*.ts"],
    ignores: ["src/**/*.test.ts", "src/testing/**"],
    rules: { "no-restricted-globals": ["error", { name: "fetch", message: "Client-supplied URLs go through src/images/fetch-input.ts; upstream calls through src/providers/http.ts." }] },
  },
  {
    // The places allowed to open connections with undici (loaded on first use by src/process/undici.ts): the SSRF-safe fetcher, result downloads from a provider's own
    // origin, and the upstream calls (to the configured upstreams only).
    files: ["src/process/undici.ts", "src/images/fetch-input.ts", "src/pipeline/generate.ts", "src/providers/http.ts", "bench/floor.mjs", "bench/fastify-floor.mjs", "bench/rehost-floor.mjs", "bench/stream-client.mjs"],
    rules: { "no-restricted-imports": "off" },
  },
);
