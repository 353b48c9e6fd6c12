// @ts-check
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "data/", "bin/"] },
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
          ],
        },
      ],
    },
  },
);
