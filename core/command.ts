/**
 * `defineCommand` without loading citty. citty's own is an identity for type
 * inference, but importing citty loads `node:util` (for its parseArgs), about
 * 4 ms of start-up (bench/startup.ts, 2026-11-29, Bun 1.4.5) that `flk --help`
 * and every plugin's index would pay just to declare commands. citty itself is
 * loaded when a command is run (core/cli.ts) or shows its usage (core/help.ts).
 */
import type { ArgsDef, CommandDef } from "citty";

/** Declare a citty command (identity: the argument types are inferred). */
export function defineCommand<const T extends ArgsDef = ArgsDef>(def: CommandDef<T>): CommandDef<T> {
  return def;
}
