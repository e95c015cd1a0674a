/**
 * consola's text prompt, done with node:readline. consola (3.4.2, clack)
 * reads the typed line in the `_write` of a tty.WriteStream it pipes stdin
 * into; Bun 1.4 writes such a stream natively and never calls `_write`, so
 * the prompt resolves to `undefined` whatever was typed (checked 2026-11-29
 * with Bun 1.4.0, 1.4.3 and 1.4.5; 1.3.x works). Confirm and select prompts
 * do not depend on it and stay consola's.
 */
import type { ConsolaInstance } from "consola";

interface TextOptions {
  cancel?: "reject" | "default" | "undefined" | "null" | "symbol";
  default?: string;
  initial?: string;
  placeholder?: string;
}

/** Ask one line on the terminal; Ctrl-C or Ctrl-D cancels as `options.cancel` says (consola's semantics). */
export function textPrompt(message: string, options: TextOptions = {}): Promise<unknown> {
  // Required here: node:readline is only needed when flk asks something (bench/startup).
  const { createInterface } = require("node:readline") as typeof import("node:readline");
  const fallback = options.default ?? options.initial;
  return new Promise((resolve, reject) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: Boolean(process.stdin.isTTY) });
    let settled = false;
    const finish = (answer: string | undefined, cancelled: boolean) => {
      if (settled) return;
      settled = true;
      rl.close();
      if (!cancelled) return resolve(answer === "" && fallback !== undefined ? fallback : answer);
      process.stderr.write("\n");
      switch (options.cancel ?? "default") {
        case "reject":
          return reject(new Error("Prompt cancelled."));
        case "null":
          return resolve(null);
        case "undefined":
          return resolve(undefined);
        case "symbol":
          return resolve(Symbol.for("cancel"));
        default:
          return resolve(fallback);
      }
    };
    rl.on("SIGINT", () => finish(undefined, true));
    rl.on("close", () => finish(undefined, true));
    rl.question(`❯ ${message}\n> `, (answer) => finish(answer, false));
  });
}

/** Route consola's `prompt({ type: "text" })` to textPrompt; other prompt types stay consola's. */
export function withTextPrompt(logger: ConsolaInstance): ConsolaInstance {
  const original = logger.options.prompt;
  if (!original) return logger;
  logger.options.prompt = ((message: string, opts?: { type?: string }) =>
    opts?.type === "text" || opts?.type === undefined ? textPrompt(message, opts as TextOptions) : original(message, opts as never)) as typeof original;
  return logger;
}
