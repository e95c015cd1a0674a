/**
 * Core's hook points, declared once (STYLE.md §2): each is called by core or
 * one plugin and tapped by another. A hook only its own plugin calls is
 * declared by that plugin through pluginHooks() below (installer's
 * `installSteps`, dd-writer's `beforeWrite`/`afterWrite`), so core never
 * carries its vocabulary. The tapable class says
 * the calling semantics: Sync/AsyncSeries run taps in registration order,
 * Waterfall passes each tap's result to the next, Bail stops at the first
 * tap that returns something other than undefined.
 */
import type * as Tapable from "tapable";
import type { CommandDef } from "citty";
import type { NixValue } from "./nix.ts";
import type { LiveInstaller } from "./live.ts";
import type { Flk } from "./context.ts";
import type { FlkError } from "./errors.ts";

/** tapable, required when hooks are made: it loads `node:util` (~4 ms), which `flk --help` never needs (bench/startup.ts). */
const tapable = (): typeof Tapable => require("tapable");

/** A command, or a function that loads it when it is run (`() => import("./commands/x.ts").then(…)`). */
export type LazyCommand = CommandDef<any> | (() => CommandDef<any> | Promise<CommandDef<any>>);

/** Where plugins add their citty subcommands. */
export interface CommandRegistry {
  /**
   * Add `name` (and its aliases); a name taken twice is an error naming both
   * plugins. A lazy command is loaded only when it runs (or for its own
   * help); `description` lets `flk --help` list it without loading it;
   * `json: false` says it has no --json output, so `--json` is refused (exit 2).
   */
  add(name: string, command: LazyCommand, options?: { aliases?: string[]; plugin?: string; description?: string; json?: boolean }): void;
}

/** One of a plugin's commands, loaded only when it runs (or for its own help). */
export interface LazyCommandEntry {
  /** Loads and builds the command, e.g. `() => import("./commands/x.ts").then((m) => m.xCommand(flk))`. */
  load: () => CommandDef<any> | Promise<CommandDef<any>>;
  /** The line `flk --help` shows without loading it. */
  description: string;
  aliases?: string[];
  /** false: the command has no --json output, so `--json` is refused (exit 2). */
  json?: boolean;
}

/**
 * Register a plugin's commands from a table (name → entry): one `commands`
 * tap under the plugin's name, every command lazy and owned by the plugin.
 * The one way every plugin's index.ts adds its commands.
 */
export function addCommands(flk: Flk, plugin: string, table: Record<string, LazyCommandEntry>): void {
  flk.hooks.commands.tap(plugin, (registry) => {
    for (const [name, { load, description, aliases, json }] of Object.entries(table)) registry.add(name, load, { plugin, description, aliases, json });
  });
}

/** One host's live ISO as data: nix-iso renders it once with core/nix.ts. */
export interface IsoModule {
  /** Module imports: raw expressions (e.g. `nix.raw('"${modulesPath}/…"')`) or site paths. */
  imports: NixValue[];
  /** A tree of NixOS option values; merged by path, lists concatenated. */
  settings: Record<string, NixValue>;
  /** Site-relative files the module refers to; in a git flake each must be tracked. */
  files: string[];
  /** Lines shown to the operator after the build (warnings, reminders). */
  notes: string[];
}

/** What an `isoModule` tap knows about the ISO being built. */
export interface HostContext {
  /** The host name, e.g. `NixOS` for `hosts/NixOS.nix`. */
  host: string;
  /** Absolute site root (the directory holding flake.nix). */
  siteRoot: string;
}

/** A request to find a booted live installer. */
export interface LocateQuery {
  /** The host name, already checked against the site's hosts (`NixOS`); mDNS asks for `NixOS.local`. */
  host: string;
  /** The live installer's description (static address, user, …). */
  live: LiveInstaller;
  /** Restrict to one interface, if the operator said so. */
  iface?: string;
  /** Overall budget per locator, in milliseconds. */
  timeoutMs: number;
  /** Each locator appends what it tried, so "not found" can say so. */
  tried: string[];
  /** Aborted once an answer has been chosen (or the command is interrupted): a locator stops then. */
  signal: AbortSignal;
  /** Set by core/reach.ts, called by core for each locator as it starts and ends; taps never call it. */
  report?: (report: LocateReport) => void;
}

/** One locator's progress, as the racer in core/reach.ts sees it. */
export interface LocateReport {
  locator: string;
  /** The tap's stage: lower is preferred (mdns taps at -10). */
  stage: number;
  state: "running" | "done";
  endpoint?: Endpoint;
  /** What the locator threw: recorded, never allowed to stop the other locators. */
  error?: unknown;
}

/** A way to reach a host. */
export interface Endpoint {
  address: string;
  /** Interface for an IPv6 link-local address (`fe80::47%eth0`). */
  scope?: string;
  family: 4 | 6;
  /** Who found it: `mdns`, `static` (fe80::47), `eui64`, … */
  source: string;
}

/** What an `sshFailed` tap knows: the site host (may be "") and the `user@address` ssh was run against. */
export interface SshFailure {
  host: string;
  destination: string;
}

/** What an `sshOptions` tap knows: whom flk is about to ssh to. */
export interface SshTarget {
  /** The site host whose live installer this is; "" when only an address was given (no host, so no pinned key). */
  host: string;
  endpoint: Endpoint;
  user: string;
}

/**
 * The locate hook: every tap starts at once (parallel); each tap's answer or
 * failure is reported to `query.report` as it comes, and no tap's result or
 * error stops the others (a name mdns refuses must not skip ipv6-lla).
 * core/reach.ts races the reports: lowest stage preferred.
 */
function createLocateHook() {
  const { AsyncParallelBailHook } = tapable();
  const hook = new AsyncParallelBailHook<[LocateQuery], Endpoint | undefined>(["query"]);
  hook.intercept({
    register(tap) {
      if (tap.type !== "promise") throw new Error(`locate tap '${tap.name}' must use tapPromise`);
      const inner = tap.fn as (query: LocateQuery) => Promise<Endpoint | undefined>;
      const stage = tap.stage ?? 0;
      const fn = async (query: LocateQuery): Promise<undefined> => {
        query.report?.({ locator: tap.name, stage, state: "running" });
        try {
          const endpoint = await inner(query);
          query.report?.({ locator: tap.name, stage, state: "done", endpoint });
        } catch (error) {
          query.report?.({ locator: tap.name, stage, state: "done", error });
        }
        return undefined;
      };
      return { ...tap, fn };
    },
  });
  return hook;
}

/** Create a fresh, frozen set of hooks (one per flk instance). */
export function createHooks() {
  const { AsyncSeriesHook, AsyncSeriesWaterfallHook, SyncBailHook, SyncHook, SyncWaterfallHook } = tapable();
  return Object.freeze({
    /** Every plugin adds its subcommands here; called once by the CLI before parsing. */
    commands: new SyncHook<[CommandRegistry]>(["registry"]),
    /** The site-relative directory of the site's hosts (`hosts` unless a tap says otherwise: nix-iso's `[nix-iso] hosts`). Called by whoever resolves a host name (reach, installer). */
    hostsDir: new SyncWaterfallHook<[string]>(["dir"]),
    /** Build one host's live-ISO module: each tap returns the module with its settings added. Called by nix-iso. */
    isoModule: new AsyncSeriesWaterfallHook<[IsoModule, HostContext]>(["module", "host"]),
    /** Side effects only a real `flk iso` build needs, once per host before nix runs (e.g. ssh-keys generates the installer host key). Called by nix-iso on the build path only, never by --print-module or --dry-run; taps may throw to stop the build. */
    prepareIso: new AsyncSeriesHook<[HostContext]>(["host"]),
    /** The one description of a host's live installer: each tap returns it with what its plugin configures (ipv6-lla: the static address). Called through core/reach.ts's liveInstaller(). */
    liveInstaller: new SyncWaterfallHook<[LiveInstaller]>(["live"]),
    /** Find a booted live installer: all taps run at once, each returns an Endpoint or undefined; core/reach.ts prefers the lowest stage (mdns) but takes another answer as soon as mDNS has none. Called by ssh and remote install. */
    locate: createLocateHook(),
    /** ssh options for reaching a live installer (e.g. the pinned host key); each tap returns the list with its options added, or throws to refuse the login (ssh-keys: no pinned key while pinning is on, also for an address with no host). Called by core's reach() for ssh and remote install, every time. */
    sshOptions: new AsyncSeriesWaterfallHook<[string[], SshTarget]>(["options", "target"]),
    /** Why ssh to a live installer failed, from ssh's stderr: the first tap that recognises it returns the error to show (ssh-keys: a host key that is not the pinned one), else undefined. Called by ssh and remote install. */
    sshFailed: new SyncBailHook<[string, SshFailure], FlkError | undefined>(["stderr", "failure"]),
  });
}

/** The hooks of one flk instance. */
export type Hooks = ReturnType<typeof createHooks>;

/**
 * A plugin's own hook set, one per flk instance, made on first use (webpack's
 * `NormalModule.getCompilationHooks(compilation)`): the owning plugin exports
 * `const writerHooks = pluginHooks(() => ({ beforeWrite: new AsyncSeriesHook(…) }))`,
 * and it and any other plugin call `writerHooks(flk)` to call or tap them.
 * Keyed weakly on the instance, so a test's flk and its hooks go together.
 */
export function pluginHooks<T extends object>(create: () => T): (flk: Flk) => Readonly<T> {
  const sets = new WeakMap<Flk, Readonly<T>>();
  return (flk) => {
    let hooks = sets.get(flk);
    if (!hooks) sets.set(flk, (hooks = Object.freeze(create())));
    return hooks;
  };
}
