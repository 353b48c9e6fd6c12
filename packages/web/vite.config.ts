// The web app's build: relative URLs everywhere (`base: "./"`), so the gateway can serve it at `/` or behind any path
// prefix; content hashes in every asset's name (the gateway caches /assets/* as immutable). JSX is Preact's.
import { defineConfig } from "vite";

export default defineConfig({
  base: "./",
  esbuild: { jsx: "automatic", jsxImportSource: "preact" },
  build: {
    outDir: "dist",
    assetsDir: "assets",
    emptyOutDir: true,
    // Everything inline or hashed: no request leaves the gateway's origin.
    assetsInlineLimit: 0,
    target: "es2022",
    sourcemap: false,
  },
  server: {
    // `npm run dev -w @doubao-gateway/web`: the gateway on 8302 answers the API.
    proxy: Object.fromEntries(["/v1", "/doubao", "/admin", "/files", "/ready", "/health"].map((path) => [path, "http://127.0.0.1:8302"])),
  },
});
