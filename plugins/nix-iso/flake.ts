/**
 * How Nix sees the site: the flake reference flk hands to `builtins.getFlake`,
 * which files of it Nix can see (git-tracked ones, in a git flake), and what
 * the flake offers (hosts, inputs, a devShell) from one `nix eval`.
 */
import { existsSync } from "node:fs";
import { relative } from "node:path";
import { ExitCode, FlkError, renderString, run, which, type NixInfo } from "../../core/index.ts";

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
  if (!gitTop) return { root, ref: `path:${root}`, subdir: "" };
  const subdir = relative(gitTop, root);
  const ref = `git+file://${gitTop}${subdir ? `?dir=${encodeURIComponent(subdir).replace(/%2F/g, "/")}` : ""}`;
  return { root, ref, gitTop, subdir };
}

async function gitToplevel(dir: string): Promise<string | undefined> {
  if (!which("git")) return undefined;
  const result = await run(["git", "-C", dir, "rev-parse", "--show-toplevel"]);
  return result.code === 0 ? result.stdout.trim() : undefined;
}

/** Site files Nix would not see: missing ones, and (in a git flake) untracked ones. */
export interface InvisibleFiles {
  missing: string[];
  untracked: string[];
}

/** Which of `files` (site-relative) do not exist, or are not tracked by git in a git flake. */
export async function invisibleFiles(flake: SiteFlake, files: readonly string[]): Promise<InvisibleFiles> {
  const unique = [...new Set(files)];
  const missing = unique.filter((file) => !existsSync(`${flake.root}/${file}`));
  const present = unique.filter((file) => !missing.includes(file));
  if (!flake.gitTop || present.length === 0) return { missing, untracked: [] };
  const result = await run(["git", "-C", flake.root, "ls-files", "-z", "--", ...present]);
  const tracked = result.stdout.split("\0").filter(Boolean);
  const untracked = present.filter((file) => !tracked.some((t) => t === file || t.startsWith(`${file.replace(/\/$/, "")}/`)));
  return { missing, untracked };
}

/**
 * Refuse site files Nix will not see: missing ones, and in a git flake those
 * git does not track (Nix copies only tracked files of a git flake). One
 * message for all of them, with one `git add` command.
 */
export async function checkSiteFiles(flake: SiteFlake, files: readonly string[]): Promise<void> {
  const { missing, untracked } = await invisibleFiles(flake, files);
  if (missing.length > 0)
    throw new FlkError(
      `the ISO module refers to ${list(missing)}, which ${missing.length === 1 ? "does" : "do"} not exist in ${flake.root}. Nothing was built. Create ${missing.length === 1 ? "it" : "them"} or remove the reference from flk.toml.`,
      "E_ISO_FILE_MISSING",
    );
  if (untracked.length > 0) {
    const prefix = flake.subdir ? `${flake.subdir}/` : "";
    throw new FlkError(
      `${list(untracked)} ${untracked.length === 1 ? "is" : "are"} not tracked by git, so Nix cannot see ${untracked.length === 1 ? "it" : "them"} in the flake ${flake.ref}. Nothing was built. Run \`git -C ${flake.gitTop} add ${untracked.map((f) => shellWord(prefix + f)).join(" ")}\` and try again.`,
      "E_ISO_FILE_UNTRACKED",
    );
  }
}

function list(files: string[]): string {
  return files.map((f) => `\`${f}\``).join(", ");
}

function shellWord(word: string): string {
  return /^[A-Za-z0-9_./@%+=:,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** What the site flake offers, from one evaluation. */
export interface FlakeFacts {
  /** Names in `nixosConfigurations`. */
  hosts: string[];
  /** Names in `inputs` (the flake's own inputs; `self` is not among them). */
  inputs: string[];
  /** The current system, e.g. `x86_64-linux`. */
  system: string;
  /** Which dev shell attribute exists, if any. */
  devShell?: "devShells" | "devShell";
}

/** Evaluate the flake's host names, input names and dev shell (`nix eval`, impure for currentSystem). */
export async function flakeFacts(flake: SiteFlake, info: NixInfo, env?: Record<string, string | undefined>): Promise<FlakeFacts> {
  const expr = [
    `let flake = builtins.getFlake ${renderString(flake.ref)}; system = builtins.currentSystem; in {`,
    `  inherit system;`,
    `  hosts = builtins.attrNames (flake.nixosConfigurations or { });`,
    `  inputs = builtins.attrNames (flake.inputs or { });`,
    `  devShells = (flake.devShells or { }) ? \${system} && flake.devShells.\${system} ? default;`,
    `  devShell = (flake.devShell or { }) ? \${system};`,
    `}`,
  ].join("\n");
  const result = await run(["nix", ...info.flags, "eval", "--impure", "--json", "--expr", expr], { env });
  if (result.code !== 0)
    throw new FlkError(
      `nix could not evaluate the flake ${flake.ref} (exit ${result.code}). Nothing was built. Nix said:\n${result.tail.slice(-15).join("\n")}`,
      "E_NIX_EVAL",
      ExitCode.failure,
    );
  const raw = JSON.parse(result.stdout) as { system: string; hosts: string[]; inputs: string[]; devShells: boolean; devShell: boolean };
  const devShell = raw.devShells ? "devShells" : raw.devShell ? "devShell" : undefined;
  return { hosts: raw.hosts, inputs: raw.inputs, system: raw.system, ...(devShell ? { devShell } : {}) };
}
