/**
 * Every hook point of flk, declared once (STYLE.md §2). Plugins tap these;
 * core and the plugin that owns a workflow call them. The tapable class says
 * the calling semantics: Sync/AsyncSeries run taps in registration order,
 * Waterfall passes each tap's result to the next, Bail stops at the first
 * tap that returns something other than undefined.
 */
import { AsyncSeriesBailHook, AsyncSeriesHook, AsyncSeriesWaterfallHook, SyncHook, SyncWaterfallHook } from "tapable";
import type { CommandDef } from "citty";
import type { NixValue } from "./nix.ts";

/** Where plugins add their citty subcommands. */
export interface CommandRegistry {
  /** Add `name` (and its aliases); a name taken twice is an error naming both plugins. */
  add(name: string, command: CommandDef<any>, options?: { aliases?: string[]; plugin?: string }): void;
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
  /** The host name as given (`NixOS`); mDNS asks for `NixOS.local`. */
  host: string;
  /** Restrict to one interface, if the operator said so. */
  iface?: string;
  /** Overall budget per locator, in milliseconds. */
  timeoutMs: number;
  /** Each locator appends what it tried, so "not found" can say so. */
  tried: string[];
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

/** What `flk write` is about to do, or did. */
export interface WriteContext {
  image: string;
  device: string;
  /** Bytes written to the device (decompressed size). */
  bytes: number;
  verified?: boolean;
}

/** One step of the install plan: data, so it can run here or over ssh and be printed by --dry-run. */
export interface Step {
  /** Stable id, e.g. `mount-root`; taps insert before/after by id. */
  id: string;
  title: string;
  /** The command to run (argv). */
  argv: string[];
  /** A command that exits 0 when the step is already done: then it is skipped (idempotence). */
  unless?: string[];
  /** The command that reverses the step, for `--undo` and failure advice. */
  undo?: string[];
}

/** What `installSteps` taps know about the install. */
export interface InstallContext {
  host: string;
  /** `SITE#HOST` flake reference handed to nixos-install. */
  flake: string;
  root: string;
  labels: Record<string, string>;
  /** `user@address` when the plan runs over ssh. */
  target?: string;
  uefi: boolean;
  storeOverlay: boolean;
  impure: boolean;
  /** Arguments after `--`, passed to nixos-install unchanged. */
  extraArgs: string[];
}

/** What an `sshOptions` tap knows: whom flk is about to ssh to. */
export interface SshTarget {
  host: string;
  endpoint: Endpoint;
  user: string;
}

/**
 * The networkd unit every plugin configures the live ISO's links in.
 * networkd applies only the first .network file (in lexical order) that
 * matches a link, so mdns and ipv6-lla must share one unit, not add two.
 */
export const LIVE_NETWORK = "40-flk-live";

/** The links that unit matches: wired, wireless and WWAN (predictable names), as digga's bootstrap ISO did. */
export const LIVE_MATCH = "en* wl* ww*";

/** Create a fresh, frozen set of hooks (one per flk instance). */
export function createHooks() {
  return Object.freeze({
    /** Every plugin adds its subcommands here; called once by the CLI before parsing. */
    commands: new SyncHook<[CommandRegistry]>(["registry"]),
    /** The site-relative directory of the site's hosts (`hosts` unless a tap says otherwise: nix-iso's `[nix-iso] hosts`). Called by whoever resolves a host name (reach, installer). */
    hostsDir: new SyncWaterfallHook<[string]>(["dir"]),
    /** Build one host's live-ISO module: each tap returns the module with its settings added. Called by nix-iso. */
    isoModule: new AsyncSeriesWaterfallHook<[IsoModule, HostContext]>(["module", "host"]),
    /** Side effects only a real `flk iso` build needs, once per host before nix runs (e.g. ssh-keys generates the installer host key). Called by nix-iso on the build path only, never by --print-module or --dry-run; taps may throw to stop the build. */
    prepareIso: new AsyncSeriesHook<[HostContext]>(["host"]),
    /** Find a booted live installer; the first tap that returns an Endpoint wins (mdns, then ipv6-lla). Called by ssh and remote install. */
    locate: new AsyncSeriesBailHook<[LocateQuery], Endpoint | undefined>(["query"]),
    /** Before the first byte goes to the device (after all safety checks). Taps may observe or refuse by throwing. */
    beforeWrite: new AsyncSeriesHook<[WriteContext]>(["write"]),
    /** After the image is written, synced and (unless --no-verify) verified. Taps may print a next step. */
    afterWrite: new AsyncSeriesHook<[WriteContext]>(["write"]),
    /** ssh options for reaching a live installer (e.g. the pinned host key); each tap returns the list with its options added. Called by ssh and remote install. */
    sshOptions: new AsyncSeriesWaterfallHook<[string[], SshTarget]>(["options", "target"]),
    /** The ordered install plan: each tap returns the step list with its steps inserted. Called by installer. */
    installSteps: new AsyncSeriesWaterfallHook<[Step[], InstallContext]>(["steps", "install"]),
  });
}

/** The hooks of one flk instance. */
export type Hooks = ReturnType<typeof createHooks>;
