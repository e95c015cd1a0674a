/**
 * The site: the directory holding flake.nix, and its hosts/*.nix.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { ownerProblem, ownerProblemText, type OwnerProblem } from "./owner.ts";
import { dirname, join, resolve } from "node:path";
import { FlkError } from "./errors.ts";
import { didYouMean } from "./suggest.ts";

/** The nearest directory at or above `start` that holds flake.nix, or undefined. */
export function findSiteRoot(start: string): string | undefined {
  for (let dir = resolve(start); ; dir = dirname(dir)) {
    if (existsSync(join(dir, "flake.nix"))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

/** Like findSiteRoot, or a FlkError telling the user where flk looked and what to do. */
export function requireSiteRoot(start: string, explicit?: string): string {
  if (explicit !== undefined) {
    const dir = resolve(start, explicit);
    if (!existsSync(join(dir, "flake.nix")))
      throw new FlkError(`--site ${explicit}: there is no flake.nix in ${dir}. Point --site at the directory that holds your flake.nix.`, "E_NO_SITE");
    return dir;
  }
  const root = findSiteRoot(start);
  if (!root)
    throw new FlkError(
      `no flake.nix in ${resolve(start)} or any directory above it. Run flk inside your NixOS flake (the repo with flake.nix and hosts/*.nix), or pass --site DIR.`,
      "E_NO_SITE",
    );
  return root;
}

/**
 * Refuse a site someone else could have planted or changed (exit 2): its
 * directory and its flake.nix must pass core's owner rule, the one flk.toml
 * passes (you, root, or $SUDO_UID under sudo; not writable by group or
 * others). A /tmp/flake.nix another user left would otherwise be the site of
 * anyone running flk below /tmp: its hosts built, its known_hosts trusted.
 */
export function checkSiteOwner(root: string, env?: Record<string, string | undefined>): void {
  for (const path of [root, join(root, "flake.nix")]) {
    const problem = ownerProblem(statSync(path), env);
    if (!problem) continue;
    const fix = ownerFix(problem, path);
    throw new FlkError(
      `${path} ${ownerProblemText(problem)}, so someone else could have put this site there or changed it, to steer what flk builds, pins and installs. Nothing was done. ` +
        `If it is yours: \`${fix}\`. Otherwise run flk inside your own site, or pass --site DIR (a directory you own that holds your flake.nix).`,
      "E_SITE_OWNER",
    );
  }
}

/**
 * Refuse a file or directory inside the site that someone else could have
 * written (exit 2, E_SITE_OWNER): the same owner rule as the site itself
 * (core/owner.ts). The site's root passing says nothing about what is below
 * it: a world-writable `secrets/keys/` lets anyone authorize their key on
 * the stick, a nobody-owned `known_hosts` lets anyone pin their installer,
 * a world-writable `hosts/` lets anyone plant a host. `stat` is what flk
 * checked — an fstat of the opened file where flk reads it, so a swap after
 * the check is not what gets read.
 */
export function checkSiteOwned(path: string, stat: { uid: number; mode: number }, env?: Record<string, string | undefined>): void {
  const problem = ownerProblem(stat, env);
  if (!problem) return;
  throw new FlkError(
    `${path} ${ownerProblemText(problem)}, so someone else could have put it there or changed it, to steer which hosts flk builds, which keys it authorizes and which host keys it pins. Nothing was done. ` +
      `If it is yours: \`${ownerFix(problem, path)}\`; if not, find out who put it there before you use this site.`,
    "E_SITE_OWNER",
  );
}

/** The command that makes `path` pass the owner rule: take it back, or take away group/other write. */
function ownerFix(problem: OwnerProblem, path: string): string {
  return problem.kind === "owner" ? `chown $(id -u) ${path}` : `chmod go-w ${path}`;
}

/**
 * checkSiteOwned for `rel` (site-relative) and every directory from the
 * site root down to it, as they are now (links followed: hosts/ may link to
 * a shared directory, which must pass the rule itself). Stops at the first
 * missing component: what does not exist cannot be read.
 */
export function checkSitePath(siteRoot: string, rel: string, env?: Record<string, string | undefined>): void {
  let path = siteRoot;
  for (const name of ["", ...rel.split("/").filter((p) => p !== "" && p !== ".")]) {
    path = name === "" ? path : join(path, name);
    let stat;
    try {
      stat = statSync(path);
    } catch {
      return;
    }
    checkSiteOwned(path, stat, env);
  }
}

/** One host of the site. */
export interface HostEntry {
  name: string;
  /** Site-relative file: `hosts/NAME.nix` or `hosts/NAME/default.nix`. */
  file: string;
}

/**
 * Hosts from `<hostsDir>/*.nix` except default.nix, and `<hostsDir>/NAME/default.nix`,
 * sorted by name. devos keeps shared settings in hosts/default.nix: it is not a host.
 * A dangling symlink is skipped and reported through `onSkip`.
 */
export function listHosts(siteRoot: string, hostsDir = "hosts", onSkip?: (file: string, why: string) => void): HostEntry[] {
  const dir = join(siteRoot, hostsDir);
  if (!existsSync(dir)) return [];
  // A host someone else planted (a world-writable hosts/, a foreign NAME.nix) would be built, pinned and installed like yours.
  checkSitePath(siteRoot, hostsDir);
  const hosts = new Map<string, HostEntry>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith(".")) continue;
    // A dangling symlink is no host (Nix could not read it): skipped, and the caller may say so.
    if (entry.isSymbolicLink() && !existsSync(join(dir, entry.name))) {
      if (entry.name.endsWith(".nix") || !entry.name.includes(".")) onSkip?.(`${hostsDir}/${entry.name}`, "a symlink to nothing");
      continue;
    }
    const isDir = entry.isDirectory() || (entry.isSymbolicLink() && statSync(join(dir, entry.name)).isDirectory());
    if (isDir) {
      if (existsSync(join(dir, entry.name, "default.nix"))) {
        for (const path of [join(dir, entry.name), join(dir, entry.name, "default.nix")]) checkSiteOwned(path, statSync(path));
        hosts.set(entry.name, { name: entry.name, file: `${hostsDir}/${entry.name}/default.nix` });
      }
    } else if (entry.name.endsWith(".nix")) {
      // hosts/default.nix is no host, but every host imports it: it passes the rule too.
      checkSiteOwned(join(dir, entry.name), statSync(join(dir, entry.name)));
      if (entry.name === "default.nix") continue;
      const name = entry.name.slice(0, -4);
      hosts.set(name, { name, file: `${hostsDir}/${entry.name}` });
    }
  }
  return [...hosts.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** Where to look for hosts, and what to call the setting that moves them. */
export interface ResolveHostOptions {
  /** Site-relative directory of `NAME.nix` / `NAME/default.nix` (`[nix-iso] hosts`, default `hosts`). */
  hostsDir?: string;
  /**
   * The names in the flake's `nixosConfigurations`, when the caller has
   * evaluated them (nix-iso does when a name is not in the hosts directory):
   * a name found there is a host too, and suggestions draw on both.
   */
  configurations?: readonly string[];
  /** Why the flake's nixosConfigurations could not be listed (nix missing, evaluation failed): said in the refusal. */
  unasked?: string;
}

/**
 * The host `name` of the site, matched exactly (host names are attribute
 * names of nixosConfigurations: `NixOS` and `nixos` are two hosts). Called
 * before any network or disk work, so a typo costs nothing. An unknown or
 * wrong-case name is exit 2 with a did-you-mean (case-insensitive); a site
 * whose hosts live in another directory (`machines/`) is told which setting
 * points flk there. With `configurations`, names of the flake's
 * nixosConfigurations count as hosts as well (hosts/ stays the fast path).
 */
export function resolveHost(siteRoot: string, name: string, options: ResolveHostOptions = {}): HostEntry {
  const hostsDir = options.hostsDir ?? "hosts";
  const files = listHosts(siteRoot, hostsDir);
  const exact = files.find((h) => h.name === name);
  if (exact) return exact;
  if (options.configurations?.includes(name)) return { name, file: `nixosConfigurations.${name}` };
  const extra = (options.configurations ?? []).filter((c) => !files.some((h) => h.name === c)).map((c) => ({ name: c, file: `nixosConfigurations.${c}` }));
  const hosts = [...files, ...extra].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const names = hosts.map((h) => h.name);
  const sameCase = hosts.find((h) => h.name.toLowerCase() === name.toLowerCase());
  const suggestion = sameCase ? ` Did you mean \`${sameCase.name}\`? (host names are case-sensitive)` : didYouMean(name, names);
  const elsewhere = hostsElsewhere(siteRoot, hostsDir, name);
  const hint = elsewhere
    ? ` ${elsewhere.file} exists: if your hosts live in ${elsewhere.dir}/, set \`[nix-iso] hosts = "${elsewhere.dir}"\` in flk.toml.`
    : "";
  const known = names.length ? ` Hosts: ${names.join(", ")}.` : ` There are no hosts in ${hostsDir}/ (${hostsDir}/NAME.nix or ${hostsDir}/NAME/default.nix)${options.configurations ? " and none in the flake's nixosConfigurations" : ""}. Add one, e.g. ${hostsDir}/${/^[A-Za-z0-9_-]{1,63}$/.test(name) ? name : "NixOS"}.nix.`;
  const unasked = options.unasked ? ` flk looked only in ${hostsDir}/: it could not ask the flake for its nixosConfigurations (${options.unasked}).` : "";
  throw new FlkError(`unknown host '${name.slice(0, 80)}'.${suggestion}${known}${hint}${unasked} Nothing was done.`, "E_UNKNOWN_HOST", 2);
}

/**
 * A top-level directory of the site other than `hostsDir` that holds
 * `NAME.nix` or `NAME/default.nix` (any case), or — when `hostsDir` has no
 * hosts at all — the first one holding any host-like file.
 */
function hostsElsewhere(siteRoot: string, hostsDir: string, name: string): { dir: string; file: string } | undefined {
  let dirs: string[];
  try {
    dirs = readdirSync(siteRoot, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !e.name.startsWith(".") && e.name !== hostsDir && e.name !== "node_modules" && e.name !== "result")
      .map((e) => e.name)
      .sort();
  } catch {
    return undefined;
  }
  const wanted = name.toLowerCase();
  for (const dir of dirs) {
    const hit = hostsIn(siteRoot, dir).find((h) => h.name.toLowerCase() === wanted);
    if (hit) return { dir, file: hit.file };
  }
  if (listHosts(siteRoot, hostsDir).length > 0) return undefined;
  for (const dir of ["machines", "systems", "nixos", "hosts"]) {
    if (dir === hostsDir || !dirs.includes(dir)) continue;
    const first = hostsIn(siteRoot, dir)[0];
    if (first) return { dir, file: first.file };
  }
  return undefined;
}

/** listHosts for a hint: a directory flk cannot read gives no hint rather than an error. */
function hostsIn(siteRoot: string, dir: string): HostEntry[] {
  try {
    return listHosts(siteRoot, dir);
  } catch {
    return [];
  }
}
