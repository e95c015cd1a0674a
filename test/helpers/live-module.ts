/**
 * Evaluate a rendered live-ISO module with the real nix, the way NixOS
 * would call it: `{ config, lib, options, modulesPath, ... }: { … }`, with
 * `lib.mk*` built as nixpkgs lib/modules.nix builds them ({ _type, priority,
 * content }) and `options` shaped like a release's services.resolved. Then
 * the two NixOS rules a test needs, stated once: which definition of an
 * option wins (lowest override priority, lib/modules.nix mergeDefinitions)
 * and which .network unit networkd applies to a link (the first by file
 * name whose [Match] Name= globs match, systemd.network(5)).
 */
import { renderNix, type NixValue } from "../../core/index.ts";
import { evalNix } from "./nix.ts";

/** Which nixpkgs shape of `options.services.resolved` to evaluate against. */
export type Release = "25.11" | "24.05" | "unstable";

/** nixos/modules/system/boot/resolved.nix: `settings` since PR #416720 (26.05/unstable), `extraConfig` before (24.05–25.11). */
function resolvedOptions(release: Release): string {
  return release === "unstable" ? "{ enable = null; settings = null; extraConfig = null; }" : "{ enable = null; extraConfig = null; }";
}

/** nixpkgs lib/modules.nix: mkOverride/mkOrder and the priorities of mkForce, mkDefault, mkAfter. */
const LIB = `{
  mkOverride = priority: content: { _type = "override"; inherit priority content; };
  mkForce = content: { _type = "override"; priority = 50; inherit content; };
  mkDefault = content: { _type = "override"; priority = 1000; inherit content; };
  mkAfter = content: { _type = "order"; priority = 1500; inherit content; };
  mkBefore = content: { _type = "order"; priority = 500; inherit content; };
}`;

/** A settings tree rendered as nix-iso renders it, wrapped as a NixOS module function. */
export function moduleSource(settings: Record<string, NixValue>): string {
  return `{ config, lib, options, modulesPath, ... }:\n${renderNix(settings)}`;
}

/**
 * Call `module` (NixOS module source) as NixOS would and return, as JSON,
 * the attribute paths asked for (lazily: the rest of the module, e.g. the
 * site flake, is never forced).
 */
export async function evalModule(module: string, release: Release, paths: string[]): Promise<Record<string, any>> {
  const picks = paths.map((p) => `"${p}" = (attrByPath [ ${p.split(".").map((k) => `"${k}"`).join(" ")} ] null m);`).join("\n  ");
  return evalNix(
    `let\n  attrByPath = path: default: set: if path == [ ] then set else let k = builtins.head path; in if builtins.isAttrs set && set ? \${k} then attrByPath (builtins.tail path) default set.\${k} else default;\n` +
      `  m = (${module}) { config = { }; lib = ${LIB}; options = { services.resolved = ${resolvedOptions(release)}; }; modulesPath = "/modules"; pkgs = { }; };\n` +
      `in {\n  ${picks}\n}\n`,
  );
}

/** A definition as evaluated: a plain value, or a { _type, priority, content } wrapper. */
type Def = any;

/** The value NixOS gives an option defined as `defs` (lowest override priority wins; plain definitions are priority 100). */
export function winner(...defs: Def[]): { value: unknown; priority: number } {
  const ranked = defs.filter((d) => d !== null && d !== undefined).map((d) => (d?._type === "override" ? { value: unwrap(d.content), priority: d.priority as number } : { value: unwrap(d), priority: 100 }));
  return ranked.reduce((a, b) => (b.priority < a.priority ? b : a));
}

function unwrap(d: Def): unknown {
  return d?._type === "order" ? unwrap(d.content) : d;
}

/** fnmatch(3) as networkd uses it for Name=: `*`, `?` and `[…]`. */
function glob(pattern: string): RegExp {
  const body = pattern.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".").replace(/\[!/g, "[^");
  return new RegExp(`^${body}$`);
}

/** A .network unit as evaluated: its Name= globs (whitespace-separated; networkd.nix's `name` is shorthand for it) or another [Match]. */
export interface Unit {
  name?: string | null;
  matchConfig?: { Name?: string; Type?: string };
}

/** The unit networkd applies to `link` (an ether link called `name`): the first by file name whose [Match] matches. */
export function firstMatch(units: Record<string, Unit>, name: string): string | undefined {
  for (const unit of Object.keys(units).sort()) {
    const match = units[unit]!.matchConfig ?? {};
    const names = match.Name ?? units[unit]!.name ?? undefined;
    const byName = names === undefined || names.split(/\s+/).some((g) => glob(g).test(name));
    const byType = match.Type === undefined || match.Type === "ether";
    if (byName && byType) return unit;
  }
  return undefined;
}

/**
 * The units nixos/modules/tasks/network-interfaces-systemd.nix writes for a
 * host: `40-<iface>` matching that name for every networking.interfaces.<iface>,
 * and with networking.useDHCP `99-ethernet-default-dhcp` (Type=ether).
 */
export function hostUnits(interfaces: string[]): Record<string, Unit> {
  const units: Record<string, Unit> = { "99-ethernet-default-dhcp": { matchConfig: { Type: "ether" } } };
  for (const iface of interfaces) units[`40-${iface}`] = { matchConfig: { Name: iface } };
  return units;
}
