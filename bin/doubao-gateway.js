#!/usr/bin/env node
// Thin launcher for the compiled CLI (`npm run build` produces dist/).
import("../dist/cli/main.js").then((cli) => cli.main(process.argv.slice(2))).then(
  (code) => { process.exitCode = code; },
  (error) => { console.error(error instanceof Error ? error.message : error); process.exitCode = 1; },
);
