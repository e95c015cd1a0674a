/**
 * How Nix sees the site: which files of it Nix can see (git-tracked ones, in
 * a git flake) and which inputs it locks. The flake reference and the host
 * names are core's (core/flake.ts).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ExitCode, FlkError, renderString, run, type NixInfo, type SiteFlake } from "../../core/index.ts";

export { siteFlake, type SiteFlake } from "../../core/index.ts";

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
      `${list(untracked)} ${untracked.length === 1 ? "is" : "are"} not tracked by git, so Nix cannot see ${untracked.length === 1 ? "it" : "them"} in the flake ${flake.ref}. Nothing was built. Run \`git -C ${shellWord(flake.gitTop!)} add ${untracked.map((f) => shellWord(prefix + f)).join(" ")}\` and try again.`,
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

/**
 * Every input of the site flake, transitively, each once: the access path
 * (`flake.inputs.a.inputs.b`) of every node of flake.lock reachable from
 * the root. A lock edge is a node name, or a `follows` path (a list) that
 * points at a node reached another way (nix src/libflake/lockfile.cc), so
 * following only the name edges, breadth first, visits each node once by
 * its shortest path.
 */
export function lockedInputs(lockText: string, file = "flake.lock"): string[][] {
  let lock: { root?: unknown; nodes?: Record<string, { inputs?: Record<string, unknown> }> };
  try {
    lock = JSON.parse(lockText);
  } catch (error) {
    throw new FlkError(`${file} is not valid JSON (${(error as Error).message}). Nothing was built. Run \`nix flake lock\` to rewrite it.`, "E_FLAKE_LOCK", ExitCode.refused, { cause: error });
  }
  const nodes = lock.nodes ?? {};
  const root = typeof lock.root === "string" ? lock.root : "root";
  const seen = new Set([root]);
  const paths: string[][] = [];
  const queue: Array<{ node: string; path: string[] }> = [{ node: root, path: [] }];
  while (queue.length > 0) {
    const { node, path } = queue.shift()!;
    for (const [name, target] of Object.entries(nodes[node]?.inputs ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
      if (typeof target !== "string" || seen.has(target)) continue;
      seen.add(target);
      paths.push([...path, name]);
      queue.push({ node: target, path: [...path, name] });
    }
  }
  return paths;
}

/**
 * The site's locked inputs (see lockedInputs). A flake with inputs needs a
 * flake.lock that Nix sees (tracked, in a git flake): without one, every
 * evaluation re-locks, which needs the network — and the stick is offline.
 * Only when there is no usable lock does this run nix, to read the declared
 * inputs from flake.nix itself (import, no fetching).
 */
export async function siteInputs(flake: SiteFlake, info: NixInfo, env?: Record<string, string | undefined>): Promise<string[][]> {
  const lockFile = join(flake.root, "flake.lock");
  const visible = existsSync(lockFile) && (await invisibleFiles(flake, ["flake.lock"])).untracked.length === 0;
  if (visible) return lockedInputs(readFileSync(lockFile, "utf8"), lockFile);
  const declared = await declaredInputs(flake, info, env);
  if (declared.length === 0) return [];
  const where = flake.gitTop ? `git -C ${shellWord(flake.root)} add flake.lock` : "";
  const tracked = existsSync(lockFile)
    ? `flake.lock exists but is not tracked by git, so Nix does not see it: run \`${where}\``
    : `there is no flake.lock: run \`nix flake lock\` in ${flake.root}${where ? `, then \`${where}\`` : ""}`;
  throw new FlkError(
    `flake.nix has inputs (${declared.join(", ")}), but ${tracked}. Nothing was built. Without a lock, every evaluation (also the offline one on the stick) would look the inputs up again.`,
    "E_FLAKE_LOCK",
  );
}

/** Input names flake.nix declares (`inputs`, and `outputs`' arguments other than self), read without fetching anything. */
async function declaredInputs(flake: SiteFlake, info: NixInfo, env?: Record<string, string | undefined>): Promise<string[]> {
  const expr = `let f = import ${renderString(join(flake.root, "flake.nix"))}; in builtins.attrNames ((f.inputs or { }) // builtins.removeAttrs (builtins.functionArgs f.outputs) [ "self" ])`;
  const result = await run(["nix", ...info.flags, "eval", "--impure", "--json", "--expr", expr], { env });
  if (result.code !== 0)
    throw new FlkError(
      `nix could not read ${join(flake.root, "flake.nix")} (exit ${result.code}). Nothing was built. Nix said:\n${lastLines(result.stderr, 15)}`,
      "E_NIX_EVAL",
      ExitCode.failure,
    );
  return JSON.parse(result.stdout) as string[];
}

/** The last `n` lines of a child's stderr: nix's stdout (a half-written JSON value) is never shown. */
export function lastLines(text: string, n: number): string {
  return text.trimEnd().split("\n").slice(-n).join("\n");
}
