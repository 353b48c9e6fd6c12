/** Turns a zod failure into the contract's 400: the first issue, with the field it names. */
import type { z } from "zod";
import { invalidParameter } from "../errors.js";

export function parseOrThrow<Schema extends z.ZodType>(schema: Schema, input: unknown, prefix = ""): z.output<Schema> {
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  if (!issue) throw invalidParameter(prefix || "body", "is invalid");
  if (issue.code === "unrecognized_keys") {
    const name = [prefix, ...issue.path.map(String), issue.keys[0]].filter(Boolean).join(".");
    throw invalidParameter(name, `Invalid parameter \`${name}\`: is not a known field.`);
  }
  const path = [prefix, ...issue.path.map(String)].filter(Boolean).join(".");
  const param = path || "body";
  const missing = issue.code === "invalid_type" && "input" in issue && issue.input === undefined;
  if (missing) {
    return throwMissing(param);
  }
  const got = "input" in issue && issue.input !== undefined ? ` (got ${describe(issue.input)})` : "";
  throw invalidParameter(param, `Invalid parameter \`${param}\`: ${issue.message}${got}.`);
}

function throwMissing(param: string): never {
  throw invalidParameter(param, `Missing required parameter \`${param}\`.`, `缺少必需参数 \`${param}\`。`, "MissingParameter");
}

/** A short, safe rendering of a bad value for an error message (never the whole of a huge string). */
function describe(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value);
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return `${typeof value} ${String(value)}`;
}
