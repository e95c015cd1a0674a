/**
 * The site: the directory holding flake.nix, and its hosts/*.nix.
 */
import { existsSync, readdirSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { FlkError } from "./errors.ts";

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
    const dir = resolve(explicit);
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

/** One host of the site. */
export interface HostEntry {
  name: string;
  /** Site-relative file: `hosts/NAME.nix` or `hosts/NAME/default.nix`. */
  file: string;
}

/**
 * Hosts from `<hostsDir>/*.nix` except default.nix, and `<hostsDir>/NAME/default.nix`,
 * sorted by name. devos keeps shared settings in hosts/default.nix: it is not a host.
 */
export function listHosts(siteRoot: string, hostsDir = "hosts"): HostEntry[] {
  const dir = join(siteRoot, hostsDir);
  if (!existsSync(dir)) return [];
  const hosts = new Map<string, HostEntry>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith(".")) continue;
    const isDir = entry.isDirectory() || (entry.isSymbolicLink() && statSync(join(dir, entry.name)).isDirectory());
    if (isDir) {
      if (existsSync(join(dir, entry.name, "default.nix")))
        hosts.set(entry.name, { name: entry.name, file: `${hostsDir}/${entry.name}/default.nix` });
    } else if (entry.name.endsWith(".nix") && entry.name !== "default.nix") {
      const name = entry.name.slice(0, -4);
      hosts.set(name, { name, file: `${hostsDir}/${entry.name}` });
    }
  }
  return [...hosts.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
