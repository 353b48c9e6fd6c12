// `npm start`'s pre-step: compile TypeScript (and build the web app) only when a source, a tsconfig or the package files changed since the
// last build (dist/.build-stamp, written by `npm run build`), so a restart costs no compile. `npm run build` always
// compiles.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const stamp = join(root, "dist", ".build-stamp");
const inputs = [
  "src", "packages/sdk/src", "packages/web/src", "packages/web/index.html", "packages/web/vite.config.ts", "tsconfig.json", "tsconfig.build.json",
  "packages/sdk/tsconfig.json", "packages/sdk/package.json", "packages/web/package.json", "package.json", "package-lock.json",
];
const outputs = ["dist/main.js", "dist/cli/main.js", "packages/sdk/dist/index.js", "packages/web/dist/index.html"];

/** The newest modification time under a path (a file, or a folder walked whole). */
function newest(path) {
  if (!existsSync(path)) return 0;
  const info = statSync(path);
  if (!info.isDirectory()) return info.mtimeMs;
  return readdirSync(path).reduce((latest, name) => Math.max(latest, newest(join(path, name))), info.mtimeMs);
}

if (process.argv.includes("--stamp")) {
  // Run by `npm run build` after it compiled.
  writeFileSync(stamp, `${new Date().toISOString()}\n`);
  process.exit(0);
}

const built = existsSync(stamp) && outputs.every((output) => existsSync(join(root, output))) ? statSync(stamp).mtimeMs : 0;
const changed = Math.max(...inputs.map((input) => newest(join(root, input))));
if (built > changed) {
  process.stderr.write("doubao-gateway: dist/ is up to date with the sources; not compiling (npm run build forces it).\n");
} else {
  const result = spawnSync("npm", ["run", "build"], { cwd: root, stdio: "inherit" });
  if (result.status !== 0) process.exit(result.status ?? 1);
}
