/**
 * The site as a flake: the reference Nix is handed (git+file in a git work
 * tree, else path:) and the names of its `nixosConfigurations`. nix-iso
 * builds from this reference; every command that takes a host name checks
 * it against these names (core/hosts.ts).
 */
import { existsSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { ExitCode, FlkError } from "./errors.ts";
import { run, which } from "./exec.ts";
import { nixInfo, renderString, type NixInfo } from "./nix.ts";

/** The site as a flake. */
export interface SiteFlake {
  /** Absolute site root (holds flake.nix). */
  root: string;
  /** `git+file:///repo?dir=sub` for a site in a git work tree, else `path:/site`. */
  ref: string;
  /** The git work tree holding the site, when there is one. */
  gitTop?: string;
  /** The site's directory inside the flake source ("" when the site is the repo root). */
  subdir: string;
}

/**
 * A site inside a git work tree is a git flake: Nix copies only the files
 * git tracks, exactly what `nixos-install --flake SITE#HOST` will see later.
 * `path:` would also copy `.git`, untracked files and `result` links into
 * the store and onto the stick, so it is used only outside git.
 */
export async function siteFlake(root: string): Promise<SiteFlake> {
  const gitTop = await gitToplevel(root);
  if (!gitTop) return { root, ref: `path:${urlPath(root)}`, subdir: "" };
  const subdir = relative(gitTop, root);
  const ref = `git+file://${urlPath(gitTop)}${subdir ? `?dir=${urlPath(subdir)}` : ""}`;
  return { root, ref, gitTop, subdir };
}

/** A path inside a flake URL: each segment percent-encoded (a space is %20; nix decodes it), `/` kept. */
function urlPath(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

/**
 * The git work tree holding `dir`. Without git, a site inside a work tree
 * is refused rather than taken as `path:` (which would copy untracked files,
 * `.git` and `result` links onto the stick).
 */
async function gitToplevel(dir: string): Promise<string | undefined> {
  if (!which("git")) {
    const repo = enclosingRepo(dir);
    if (repo)
      throw new FlkError(
        `${dir} is inside the git work tree ${repo}, but \`git\` is not installed, so flk cannot tell which files the flake tracks (Nix copies only those). Nothing was built. Install git (\`flk doctor\` lists what is missing) and try again.`,
        "E_GIT_MISSING",
      );
    return undefined;
  }
  const result = await run(["git", "-C", dir, "rev-parse", "--show-toplevel"]);
  return result.code === 0 ? result.stdout.trim() : undefined;
}

/** The nearest directory at or above `dir` holding `.git`, found without git. */
function enclosingRepo(dir: string): string | undefined {
  for (let at = dir; ; at = dirname(at)) {
    if (existsSync(join(at, ".git"))) return at;
    if (dirname(at) === at) return undefined;
  }
}

/** One evaluation per flake reference and process: ssh, install and iso may all ask. */
const evaluated = new Map<string, Promise<string[]>>();

/**
 * The names in the flake's `nixosConfigurations` (one `nix eval`, only the
 * attribute names: no configuration is evaluated). A failure is a FlkError
 * (E_NIX_MISSING, E_GIT_MISSING, E_NIX_EVAL with nix's last lines — nix's
 * stdout, a half-written value, is never shown).
 */
export function flakeHostNames(flake: SiteFlake, env?: Record<string, string | undefined>, info?: NixInfo): Promise<string[]> {
  const key = flake.ref;
  let names = evaluated.get(key);
  if (!names) {
    names = evalHostNames(flake, env, info);
    evaluated.set(key, names);
    names.catch(() => evaluated.delete(key));
  }
  return names;
}

async function evalHostNames(flake: SiteFlake, env?: Record<string, string | undefined>, info?: NixInfo): Promise<string[]> {
  const flags = (info ?? (await nixInfo())).flags;
  // getFlake (with --impure: the reference is not locked) never writes flake.lock into the site.
  const expr = `builtins.attrNames ((builtins.getFlake ${renderString(flake.ref)}).nixosConfigurations or { })`;
  const result = await run(["nix", ...flags, "eval", "--impure", "--json", "--expr", expr], { env });
  if (result.code !== 0)
    throw new FlkError(
      `nix could not evaluate the flake ${flake.ref} (exit ${result.code}). Nix said:\n${result.stderr.trimEnd().split("\n").slice(-15).join("\n")}`,
      "E_NIX_EVAL",
      ExitCode.failure,
    );
  return JSON.parse(result.stdout) as string[];
}
