/**
 * The flk instance a plugin's apply() receives: hooks, the resolved config,
 * global flags, logging, the site (found first; `flk write` works without one),
 * and cleanup registration for signals.
 */
import type { ConsolaInstance } from "consola";
import { createLogger, lazyLogger } from "./log.ts";
import { createHooks, type Hooks } from "./hooks.ts";
import { loadConfig, type ResolvedConfig } from "./config.ts";
import { PluginRegistry, type FlkPlugin } from "./plugin.ts";
import { checkSiteOwner, findSiteRoot, requireSiteRoot } from "./site.ts";
import { FlkError } from "./errors.ts";
import { addInstallHints, setCommandTrace } from "./exec.ts";
import { shJoin } from "./shell.ts";

/** Global flags of every command (DESIGN.md "Commands"). */
export interface GlobalFlags {
  config?: string;
  site?: string;
  json: boolean;
  verbose: boolean;
  yes: boolean;
  color: boolean;
}

/** A function run when the command ends abnormally (signal or error); may be async. */
export type Cleanup = () => void | Promise<void>;

export interface CreateFlkOptions {
  plugins: readonly FlkPlugin<any>[];
  flags?: Partial<GlobalFlags>;
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Use this config instead of discovering one (tests). */
  config?: ResolvedConfig;
  /** Use these hooks instead of new ones (the CLI lists commands without loading tapable). */
  hooks?: Hooks;
}

/** One flk run. */
export interface Flk {
  readonly hooks: Hooks;
  /** The flk.toml that was read (for messages), or undefined with the built-in defaults. A plugin's options come to its apply(). */
  readonly configFile: string | undefined;
  readonly flags: GlobalFlags;
  readonly cwd: string;
  readonly env: Record<string, string | undefined>;
  /** Arguments after `--` on the command line, for commands that pass them on. */
  passthrough: string[];
  /** Aborted on SIGINT/SIGTERM: long operations check it and stop. */
  readonly signal: AbortSignal;
  /** A logger on stderr tagged with the plugin name. */
  logger(tag: string): ConsolaInstance;
  /** The site root (directory with flake.nix), or a FlkError saying how to get one. */
  siteRoot(): string;
  /** The site root if there is one (for messages; commands that need it call siteRoot()). */
  readonly site: string | undefined;
  /** True when `plugin` is enabled for this site. */
  enabled(plugin: string): boolean;
  /** Register a cleanup for the running command; returns a function that unregisters it. */
  onCleanup(cleanup: Cleanup): () => void;
  /** Run the registered cleanups, newest first, each once (called on signals and errors). */
  runCleanups(): Promise<void>;
  /** Print machine output (only with --json): one JSON document per call on stdout. */
  printJson(value: unknown): void;
  /** Abort the running command (called by the signal handler). */
  abort(reason: string): void;
}

const registries = new WeakMap<Flk, { registry: PluginRegistry; config: ResolvedConfig }>();

function made(flk: Flk) {
  const found = registries.get(flk);
  if (!found) throw new FlkError("internal: not a flk instance made by createFlk", "E_INTERNAL", 1);
  return found;
}

/** Every registered plugin, enabled or not: for core's own commands (plugins, doctor), not for plugins. */
export function pluginsOf(flk: Flk): PluginRegistry {
  return made(flk).registry;
}

/** The resolved config, every plugin's options included: for core (`flk plugins`, the CLI), not for plugins (each gets its own options in apply()). */
export function configOf(flk: Flk): ResolvedConfig {
  return made(flk).config;
}

/** Create a flk instance: resolve the config, then apply each enabled plugin in order. */
export function createFlk(options: CreateFlkOptions): Flk {
  const cwd = options.cwd ?? process.cwd();
  const env = options.env ?? process.env;
  const flags: GlobalFlags = { json: false, verbose: false, yes: false, color: true, ...options.flags };
  const registry = new PluginRegistry(options.plugins);
  // The site first (a bad --site is refused here, before anything else can
  // fail), then its config: never a flk.toml from above the site.
  const site = flags.site !== undefined ? requireSiteRoot(cwd, flags.site) : findSiteRoot(cwd);
  if (site !== undefined) checkSiteOwner(site, env);
  const config = options.config ?? loadConfig(registry, { explicit: flags.config, env: env.FLK_CONFIG, cwd, site });
  const hooks = options.hooks ?? createHooks();
  const cleanups: Cleanup[] = [];
  const controller = new AbortController();
  let root: ConsolaInstance | undefined;
  const base = () => (root ??= createLogger(flags));

  const flk: Flk = {
    hooks,
    configFile: config.file,
    flags,
    cwd,
    env,
    passthrough: [],
    signal: controller.signal,
    logger: (tag) => lazyLogger(() => base().withTag(tag)),
    siteRoot() {
      return site ?? requireSiteRoot(cwd);
    },
    site,
    enabled: (plugin) => config.enabled.includes(plugin),
    onCleanup(cleanup) {
      cleanups.push(cleanup);
      return () => {
        const at = cleanups.indexOf(cleanup);
        if (at >= 0) cleanups.splice(at, 1);
      };
    },
    async runCleanups() {
      while (cleanups.length > 0) {
        const cleanup = cleanups.pop()!;
        try {
          await cleanup();
        } catch (error) {
          base().withTag("flk").warn(`cleanup failed: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    },
    printJson(value) {
      process.stdout.write(JSON.stringify(value) + "\n");
    },
    abort(reason) {
      controller.abort(new FlkError(reason, "E_ABORTED", 130));
    },
  };
  registries.set(flk, { registry, config });
  // --verbose: every external command run() starts is logged (DESIGN.md "Commands").
  setCommandTrace(flags.verbose ? (argv) => base().withTag("exec").debug(`$ ${shJoin(argv)}`) : undefined);
  for (const name of config.enabled) {
    const plugin = registry.get(name)!;
    addInstallHints(plugin.requires?.install);
    plugin.apply(flk, config.options[name] as never);
  }
  return flk;
}
