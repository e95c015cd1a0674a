/**
 * The site's host names, one home for every command that takes one (`iso`,
 * `ssh`, `install` here and over `--target`, `disk --host`). Host names are
 * the flake's `nixosConfigurations`; the hosts directory (`hosts/`, or what
 * the `hostsDir` hook says) is the fast path: a name found there needs no
 * evaluation, any other name is looked up in nixosConfigurations, evaluated
 * once. Callers check before any network or disk work, so a typo costs
 * nothing.
 */
import type { Flk } from "./context.ts";
import { isFlkError } from "./errors.ts";
import { flakeHostNames, siteFlake, type SiteFlake } from "./flake.ts";
import type { NixInfo } from "./nix.ts";
import { listHosts, resolveHost, type HostEntry } from "./site.ts";

/** Where the host names come from, when not the site's own flake. */
export interface CheckHostsOptions {
  /** The flake directory (default: the site root); on the live installer, `[installer] liveFlake`. */
  root?: string;
  /** The flake, when the caller already has it (nix-iso). */
  flake?: SiteFlake;
  info?: NixInfo;
  /** Environment for nix (default: flk's). */
  env?: Record<string, string | undefined>;
}

/** The site-relative hosts directory: `[nix-iso] hosts` through the `hostsDir` hook, else `hosts`. */
export function hostsDirOf(flk: Flk): string {
  return flk.hooks.hostsDir.call("hosts");
}

/**
 * Every name in `names` as a host of the site, in order, or a FlkError
 * (exit 2) for the first unknown one with a did-you-mean (case-insensitive
 * first: `Nixos` → `NixOS`). nix runs only when a name is not in the hosts
 * directory. When nix is missing or the flake does not evaluate, the hosts
 * directory's answer stands and the refusal says why the flake could not be
 * asked.
 */
export async function checkHosts(flk: Flk, names: readonly string[], options: CheckHostsOptions = {}): Promise<HostEntry[]> {
  if (names.length === 0) return [];
  const root = options.root ?? flk.siteRoot();
  const hostsDir = hostsDirOf(flk);
  const files = listHosts(root, hostsDir);
  const fast = names.map((name) => files.find((h) => h.name === name));
  if (fast.every(Boolean)) return fast as HostEntry[];
  let configurations: string[] | undefined;
  let unasked: string | undefined;
  try {
    const flake = options.flake ?? (await siteFlake(root));
    configurations = await flakeHostNames(flake, options.env ?? flk.env, options.info);
  } catch (error) {
    if (!isFlkError(error)) throw error;
    unasked = whyUnasked(error);
  }
  return names.map((name) => resolveHost(root, name, { hostsDir, configurations, unasked }));
}

/** One host name, as checkHosts. */
export async function checkHost(flk: Flk, name: string, options: CheckHostsOptions = {}): Promise<HostEntry> {
  return (await checkHosts(flk, [name], options))[0]!;
}

/** A short reason for a refusal: the error's first line and, for nix's own failure, its last lines. */
function whyUnasked(error: { message: string; code: string }): string {
  const [first = "", ...rest] = error.message.split("\n");
  const tail = rest.map((l) => l.trim()).filter(Boolean).slice(-3);
  const head = first.replace(/\.$/, "");
  return tail.length ? `${head}: ${tail.join(" / ")}` : head;
}
