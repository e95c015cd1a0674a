/**
 * The command line: global flags, config, plugins, citty dispatch, and the
 * exit-code contract (0 ok, 1 failure, 2 refused, 130/143 signals).
 */
import type { CommandDef } from "citty";
import type { ConsolaInstance } from "consola";
import { createLogger, lazyLogger } from "./log.ts";
import { configOf, createFlk, pluginsOf, type Flk, type GlobalFlags } from "./context.ts";
import { ExitCode, FlkError, isFlkError } from "./errors.ts";
import type { CommandRegistry, Hooks } from "./hooks.ts";
import type { FlkPlugin } from "./plugin.ts";
import { didYouMean } from "./suggest.ts";
import { pluginsCommand, PLUGINS_DESCRIPTION } from "./commands/plugins.ts";
import { doctorCommand, DOCTOR_DESCRIPTION } from "./commands/doctor.ts";
import { completionCommand, COMPLETION_DESCRIPTION } from "./commands/completion.ts";
import { checkFlags } from "./flags.ts";
import { helpLines, renderCommandHelp, renderMainHelp, resolveHelpTarget, useColor } from "./help.ts";

export interface CliOptions {
  plugins: readonly FlkPlugin<any>[];
  version: string;
  /** Printed by `flk` with no arguments, above the command list. */
  intro?: string;
  cwd?: string;
  env?: Record<string, string | undefined>;
}

/**
 * Global flags as typed, for did-you-mean on a mistyped one and for
 * completion: the flags of GLOBAL_FLAGS (core/help.ts), kept in step by hand. Not
 * derived with map() and a regex split: each builtin's first call is
 * compiled at start-up, ~1–4 ms that `flk --help` paid (bun --cpu-prof).
 */
const GLOBAL_FLAG_SPELLINGS = ["--config", "--site", "--json", "--verbose", "--yes", "--no-color"];

/** Split argv into global flags, the rest, and what follows `--`. */
export function splitArgs(argv: readonly string[]): { flags: Partial<GlobalFlags>; rest: string[]; passthrough: string[]; error?: string } {
  const flags: Partial<GlobalFlags> = {};
  const rest: string[] = [];
  const dash = argv.indexOf("--");
  const head = dash >= 0 ? argv.slice(0, dash) : [...argv];
  const passthrough = dash >= 0 ? argv.slice(dash + 1) : [];
  for (let i = 0; i < head.length; i++) {
    const arg = head[i]!;
    const [name, inline] = arg.startsWith("--") && arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    if (name === "--config" || name === "--site") {
      const value = inline ?? head[++i];
      if (value === undefined || value === "") return { flags, rest, passthrough, error: `${name} needs a value: ${name} ${name === "--config" ? "FILE" : "DIR"}` };
      flags[name === "--config" ? "config" : "site"] = value;
    } else if (arg === "--json") flags.json = true;
    else if (arg === "--verbose") flags.verbose = true;
    else if (arg === "--yes" || arg === "-y") flags.yes = true;
    else if (arg === "--no-color") flags.color = false;
    else rest.push(arg);
  }
  if (process.env.NO_COLOR) flags.color = false;
  return { flags, rest, passthrough };
}

/** Run flk with `argv` (without the program name); resolves to the exit code. */
export async function runCli(argv: readonly string[], options: CliOptions): Promise<number> {
  const { flags, rest, passthrough, error } = splitArgs(argv);
  const log = lazyLogger(() => createLogger(flags).withTag("flk"));
  if (error) return fail(new FlkError(error, "E_USAGE"), flags, log);
  if (rest[0] === "--version" || rest[0] === "-v" || rest[0] === "-V") {
    print(options.version);
    return ExitCode.ok;
  }
  // `flk help iso` is `flk iso --help`.
  const [name, ...args] = rest[0] === "help" && rest.length > 1 ? [...rest.slice(1), "--help"] : rest;
  const listing = name === undefined || name === "--help" || name === "-h" || name === "help";
  let flk: Flk;
  let commands: Map<string, CommandEntry>;
  try {
    // The site and its flk.toml are read either way: help lists only the
    // commands of enabled plugins, and a bad flk.toml is refused (exit 2)
    // with its fix, as for every command. Listing runs no hook but `commands`.
    flk = createFlk({ plugins: options.plugins, flags, cwd: options.cwd, env: options.env, hooks: listing ? listingHooks() : undefined });
    flk.passthrough = passthrough;
    commands = collectCommands(flk);
  } catch (err) {
    return fail(err, flags, log);
  }
  if (listing) {
    const help = renderMainHelp(options.version, await helpLines(commands), useColor(flags.color));
    print((name === undefined && options.intro ? options.intro + "\n\n" : "") + help);
    return ExitCode.ok;
  }
  const entry = commands.get(name);
  if (!entry) return fail(unknownCommand(flk, name, commands), flags, log);
  if (flags.json && entry.json === false)
    return fail(new FlkError(`\`flk ${name}\` has no --json output. Nothing was done. Run it without --json.`, "E_NO_JSON"), flags, log);
  let command: CommandDef<any>;
  try {
    command = await entry.load();
  } catch (err) {
    return fail(err, flags, log);
  }
  if (args.includes("--help") || args.includes("-h")) {
    const { command: target, path } = await resolveHelpTarget(command, args, ["flk", name]);
    return showHelp(target, path, flags.color);
  }
  if (flags.verbose) {
    log.debug(`site: ${flk.site ?? "none (no flake.nix here or above)"}`);
    log.debug(`config: ${flk.configFile ?? "built-in defaults (no flk.toml)"}`);
  }
  try {
    // Also refuses a mistyped subcommand (did-you-mean) and extra positional arguments.
    const target = await checkFlags(command, args, ["flk", name], GLOBAL_FLAG_SPELLINGS);
    // `flk keys` alone shows what `keys` can do (exit 0).
    if (target.needsSubcommand) return showHelp(target.command, target.path, flags.color);
  } catch (err) {
    return fail(err, flags, log);
  }
  // citty parses and runs the command; imported here, not at the top: see core/command.ts.
  const { runCommand } = await import("citty");
  const stopSignals = installSignalHandlers(flk);
  try {
    await runCommand(command, { rawArgs: args });
    return flk.signal.aborted ? await stopSignals.reraise() : ExitCode.ok;
  } catch (err) {
    await flk.runCleanups();
    if (flk.signal.aborted) return await stopSignals.reraise();
    return fail(err, flags, log);
  } finally {
    stopSignals.dispose();
  }
}

/**
 * Hooks for listing commands (`flk --help`, and finding a switched-off
 * plugin's command): `commands` calls its taps in order; every other hook
 * takes taps and never runs them. Real hooks are tapable's, whose import
 * loads `node:util` (~4 ms, bench/startup.ts), and listing runs no other hook.
 */
function listingHooks(): Hooks {
  const taps: Array<(registry: CommandRegistry) => void> = [];
  const commands = {
    tap: (_name: unknown, fn: (registry: CommandRegistry) => void) => void taps.push(fn),
    call: (registry: CommandRegistry) => {
      for (const fn of taps) fn(registry);
    },
  };
  const inert = { tap() {}, tapPromise() {}, tapAsync() {}, intercept() {} };
  return new Proxy({}, { get: (_target, key) => (key === "commands" ? commands : inert) }) as Hooks;
}

/**
 * One line of output for --version and --help. console.log, not
 * process.stdout: the first touch of process.stdout (or stderr) builds
 * Bun's stream machinery, about 30 ms of CPU, as much as the whole of a
 * compiled hello-world (bench/startup.ts, 2026-11-29).
 */
function print(text: string): void {
  console.log(text);
}

/** Print a command's own usage (exit 0). */
async function showHelp(command: CommandDef<any>, path: string[], color: boolean | undefined): Promise<number> {
  print(await renderCommandHelp(command, path, color));
  return ExitCode.ok;
}

/** An unknown command: a disabled plugin's command says which plugin and where it is switched off; else a did-you-mean. */
function unknownCommand(flk: Flk, name: string, commands: Map<string, CommandEntry>): FlkError {
  const owner = disabledOwner(flk, name);
  if (owner) {
    const file = flk.configFile ? displayPath(flk.configFile) : "flk.toml";
    return new FlkError(
      `\`${name}\` belongs to ${owner}, which is switched off in ${file}. Nothing was done. To use it, add "${owner}" to \`plugins = [...]\` in ${file}.`,
      "E_PLUGIN_DISABLED",
    );
  }
  const visible = [...commands].filter(([, e]) => !e.hidden).map(([n]) => n);
  return new FlkError(`unknown command '${name}'.${didYouMean(name, visible)} Run \`flk --help\` for the list.`, "E_UNKNOWN_COMMAND");
}

/**
 * The switched-off plugin that would add command `name`: each one is applied
 * to a throwaway set of hooks, and only its `commands` taps are called (its
 * commands are loaders, so nothing is built). Only asked for an unknown name.
 */
function disabledOwner(flk: Flk, name: string): string | undefined {
  for (const plugin of pluginsOf(flk).all()) {
    if (flk.enabled(plugin.name)) continue;
    const names: string[] = [];
    try {
      const sandbox: Flk = { ...flk, hooks: listingHooks() };
      plugin.apply(sandbox, configOf(flk).options[plugin.name] as never);
      sandbox.hooks.commands.call({ add: (command, _def, options) => void names.push(command, ...(options?.aliases ?? [])) });
    } catch {
      continue;
    }
    if (names.includes(name)) return plugin.name;
  }
  return undefined;
}

function displayPath(file: string): string {
  const { relative } = require("node:path") as typeof import("node:path");
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith("..") ? rel : file;
}

/** One registered command: loaded (and built) only when it runs or shows its own help. */
export interface CommandEntry {
  load(): Promise<CommandDef<any>>;
  /** For `flk --help`, without loading the command. */
  description?: string;
  hidden: boolean;
  plugin: string;
  /** false: the command has no --json output, and --json is refused. */
  json?: boolean;
}

/** Collect core and plugin commands through the `commands` hook (exported for tests). */
export function collectCommands(flk: Flk): Map<string, CommandEntry> {
  const commands = new Map<string, CommandEntry>();
  const registry: CommandRegistry = {
    add(name, command, opts = {}) {
      const plugin = opts.plugin ?? "core";
      let loaded: Promise<CommandDef<any>> | undefined;
      const load = () => (loaded ??= Promise.resolve(typeof command === "function" ? command() : command));
      for (const key of [name, ...(opts.aliases ?? [])]) {
        const owner = commands.get(key)?.plugin;
        if (owner) throw new FlkError(`command '${key}' is added twice (by ${owner} and ${plugin})`, "E_COMMAND_DUPLICATE");
        const alias = key !== name;
        commands.set(key, {
          load: alias ? async () => ({ ...(await load()), meta: { ...((await load()).meta as object), hidden: true } }) : load,
          description: opts.description ?? (typeof command === "function" ? undefined : ((command.meta as { description?: string } | undefined)?.description)),
          hidden: alias,
          plugin,
          json: opts.json,
        });
      }
    },
  };
  registry.add("plugins", () => pluginsCommand(flk), { plugin: "core", description: PLUGINS_DESCRIPTION });
  registry.add("doctor", () => doctorCommand(flk), { plugin: "core", description: DOCTOR_DESCRIPTION });
  registry.add("completion", () => completionCommand(flk, () => commands, GLOBAL_FLAG_SPELLINGS), { plugin: "core", description: COMPLETION_DESCRIPTION, json: false });
  flk.hooks.commands.call(registry);
  return commands;
}

/** Print an error the contract's way and return its exit code. */
export function fail(err: unknown, flags: Partial<GlobalFlags>, log: ConsolaInstance): number {
  const { code, message, exit } = describeError(err);
  // Under --json the error is machine output too: one object on stdout (the human line stays on stderr).
  if (flags.json) print(JSON.stringify({ error: { code, message, exit } }));
  if (isFlkError(err)) {
    log.error(err.message);
    if (flags.verbose && err.cause) log.error(err.cause);
  } else if (code === "E_USAGE") log.error(message);
  else if (flags.verbose) log.error(err);
  else log.error(`${message} (run with --verbose for the stack trace)`);
  return exit;
}

/** The code, message and exit code of any error, as `--json` reports it. */
function describeError(err: unknown): { code: string; message: string; exit: number } {
  if (isFlkError(err)) return { code: err.code, message: err.message, exit: err.exitCode };
  // citty's own argument errors (missing positional, bad enum) are usage errors.
  if (err instanceof Error && err.name === "CLIError")
    return { code: "E_USAGE", message: `${err.message.replace(/\x1b\[[0-9;]*m/g, "").replace(/\.$/, "")}. Run the command with --help for its usage.`, exit: ExitCode.refused };
  return { code: "E_INTERNAL", message: err instanceof Error ? err.message : String(err), exit: ExitCode.failure };
}

/**
 * On SIGINT/SIGTERM: abort the running command, run its cleanups, then
 * re-raise the signal so the parent sees a death by signal (130/143).
 */
function installSignalHandlers(flk: Flk) {
  let received: NodeJS.Signals | undefined;
  let settled: Promise<void> | undefined;
  const handler = (signal: NodeJS.Signals) => {
    if (received) return;
    received = signal;
    flk.abort(`interrupted by ${signal}`);
    settled = flk.runCleanups().then(() => {
      dispose();
      process.kill(process.pid, signal);
    });
  };
  const dispose = () => {
    process.off("SIGINT", handler);
    process.off("SIGTERM", handler);
  };
  process.on("SIGINT", handler);
  process.on("SIGTERM", handler);
  return {
    dispose,
    /** Wait for the re-raise; if the process survives it, return the conventional code. */
    async reraise(): Promise<number> {
      await settled;
      return received === "SIGTERM" ? ExitCode.sigterm : ExitCode.sigint;
    },
  };
}
