/**
 * Logging on stderr through consola. The fancy reporter (colours, icons) only
 * on a terminal with colour on; pipes and CI get plain "[level] [tag] message"
 * lines with the message text unchanged (backticked commands stay copyable).
 */
import type { ConsolaInstance } from "consola";
import { withTextPrompt } from "./prompt.ts";

/** A root logger for one flk run. */
export function createLogger(options: { verbose?: boolean; color?: boolean } = {}): ConsolaInstance {
  const fancy = Boolean(process.stderr.isTTY) && options.color !== false;
  // `fancy` is a createConsola option its published types leave out of some entry points.
  const options_ = {
    fancy,
    level: options.verbose ? 4 : 3,
    stdout: process.stderr,
    stderr: process.stderr,
    formatOptions: { colors: fancy, date: false },
  };
  // Required here, not imported: consola pulls node:tty, node:util and
  // readline, which the bundle would otherwise load at start-up even for
  // `flk --version` (bench/startup: about 3 ms of ~31).
  const { createConsola } = require("consola") as typeof import("consola");
  return withTextPrompt(createConsola(options_));
}

/** A logger made on first use, so paths that log nothing never load consola or touch process.stderr. */
export function lazyLogger(make: () => ConsolaInstance): ConsolaInstance {
  let real: ConsolaInstance | undefined;
  return new Proxy({} as ConsolaInstance, {
    get(_target, key) {
      real ??= make();
      const value = Reflect.get(real, key, real);
      return typeof value === "function" ? value.bind(real) : value;
    },
  });
}
