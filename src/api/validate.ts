/** Turns a zod failure into the contract's 400: the first issue, with the field it names (worded by the SDK's issueProblem, which browsers use too). */
import type { z } from "zod";
import { issueProblem } from "@doubao-gateway/sdk/schemas";
import { invalidParameter } from "../errors/errors.js";

export function parseOrThrow<Schema extends z.ZodType>(schema: Schema, input: unknown, prefix = ""): z.output<Schema> {
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  const problem = issueProblem(result.error.issues[0], prefix);
  if (problem.missing) throw invalidParameter(problem.field, problem.message, `缺少必需参数 \`${problem.field}\`。`, "MissingParameter");
  throw invalidParameter(problem.field, problem.message);
}
