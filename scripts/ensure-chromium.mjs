// `npm test`'s pre-step: the web app's end-to-end tests drive Debian's Chromium (/usr/bin/chromium, or CHROMIUM_PATH);
// nothing downloads a browser. When it is missing and this runs as root with apt-get, it is installed; otherwise the
// step stops with the command to run.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const path = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
if (existsSync(path)) process.exit(0);

const say = (line) => process.stderr.write(`${line}\n`);
if (process.env.CHROMIUM_PATH) {
  say(`ensure-chromium: CHROMIUM_PATH=${path} does not exist. Point it at a Chromium binary, or unset it to use Debian's /usr/bin/chromium.`);
  process.exit(1);
}
const apt = spawnSync("sh", ["-c", "command -v apt-get"], { encoding: "utf8" }).stdout.trim();
if (process.getuid?.() !== 0 || !apt) {
  say("ensure-chromium: the web tests need Chromium at /usr/bin/chromium. Install it (Debian/Ubuntu: sudo apt-get install -y chromium), or set CHROMIUM_PATH.");
  process.exit(1);
}
say("ensure-chromium: /usr/bin/chromium is missing; installing Debian's chromium (apt-get, about a minute)…");
const install = () => spawnSync("apt-get", ["install", "-y", "--no-install-recommends", "chromium"], { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } }).status === 0;
if (!install()) {
  // The package lists may be older than the archive: refresh them once.
  spawnSync("apt-get", ["update"], { stdio: "inherit" });
  if (!install()) {
    say("ensure-chromium: apt-get could not install chromium; install it by hand (apt-get install -y chromium), or set CHROMIUM_PATH.");
    process.exit(1);
  }
}
if (!existsSync(path)) {
  say(`ensure-chromium: chromium was installed but ${path} is not there; set CHROMIUM_PATH.`);
  process.exit(1);
}
say("ensure-chromium: installed.");
