/**
 * Usage errors of the command line: exit status 2 and a message that says what to type instead —
 * node's parseArgs errors rewritten (an unknown flag gets the nearest known one, a value that starts with
 * a dash is shown how to pass).
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

export class UsageError extends Error {
  constructor(message: string, readonly command?: string) {
    super(message);
    this.name = "UsageError";
  }

  /** A parseArgs error in the user's terms; `known` are the command's flags, for a suggestion. */
  static fromParseArgs(error: Error, known: readonly string[], command?: string): Error {
    const code = (error as { code?: string }).code ?? "";
    if (!code.startsWith("ERR_PARSE_ARGS")) return error;
    const flag = /'(--?[^' ]+)/.exec(error.message)?.[1] ?? "";
    if (code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
      const name = flag.replace(/^-+/, "");
      const nearest = closest(name, known);
      return new UsageError(`unknown option ${flag}${nearest ? `; did you mean --${nearest}?` : ""}`, command);
    }
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE" && /ambiguous/.test(error.message)) {
      return new UsageError(`${flag} needs a value; to pass one that starts with a dash, write ${flag}=VALUE (e.g. ${flag}=-5)`, command);
    }
    if (code === "ERR_PARSE_ARGS_INVALID_OPTION_VALUE") return new UsageError(`${flag} needs a value`, command);
    if (code === "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL") return new UsageError(`unexpected argument ${/'([^']*)'/.exec(error.message)?.[1] ?? ""}`, command);
    return new UsageError(error.message, command);
  }
}

/** parseArgs whose errors are UsageErrors. */
export function parseFlags<Options extends NonNullable<ParseArgsConfig["options"]>>(command: string, args: string[], options: Options, allowPositionals = true) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (error) {
    throw UsageError.fromParseArgs(error as Error, Object.keys(options), command);
  }
}

/** The known name nearest to `name` (edit distance ≤ 2, or a prefix), if any. */
export function closest(name: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = 3;
  for (const candidate of known) {
    const distance = candidate.startsWith(name) && name.length >= 2 ? 1 : editDistance(name, candidate);
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours (rmp → rpm) cost 1. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number) => (d[i] as number[])[j] as number;
  for (let i = 1; i <= a.length; i += 1) {
    for (let j = 1; j <= b.length; j += 1) {
      let value = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + (a[i - 1] === b[j - 1] ? 0 : 1));
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) value = Math.min(value, at(i - 2, j - 2) + 1);
      (d[i] as number[])[j] = value;
    }
  }
  return at(a.length, b.length);
}
