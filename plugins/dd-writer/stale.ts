/**
 * Is the image flk found in result/ older than the site it was built from?
 *
 * A failed `flk iso` leaves the previous `result` link in place, so the
 * default image may be an ISO of yesterday's configuration. flk cannot ask
 * nix-iso whether its last build failed (plugins do not talk to each other,
 * and a build may have run outside flk), so it compares times instead: the
 * `result` link's own mtime (`nix build --out-link` replaces the link on
 * every successful build) against the newest file of the site's sources —
 * the files git tracks, or without git flake.nix, flake.lock, flk.toml,
 * hosts/ and secrets/. A source newer than the link means the last
 * successful build predates the change: whatever `flk iso` ran since then
 * failed or never ran, and the image is stale.
 */
import { lstatSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { findSiteRoot, spawnSync } from "../../core/index.ts";

/** Without git: the files that decide what `flk iso` builds. */
const SOURCES = ["flake.nix", "flake.lock", "flk.toml", "hosts", "secrets"];

/** Why `image` (found under `cwd`/result) is stale, or undefined when it is not (or cannot be told). */
export function staleResult(cwd: string, image: string): string | undefined {
  const link = join(cwd, "result");
  if (relative(link, image).startsWith("..")) return undefined;
  let built: number;
  try {
    built = lstatSync(link).mtimeMs;
  } catch {
    return undefined;
  }
  const site = findSiteRoot(cwd);
  if (!site) return undefined;
  let newest: { file: string; at: number } | undefined;
  for (const file of sourceFiles(site)) {
    let at: number;
    try {
      at = statSync(join(site, file)).mtimeMs;
    } catch {
      continue;
    }
    if (!newest || at > newest.at) newest = { file, at };
  }
  if (!newest || newest.at <= built) return undefined;
  return `${relative(cwd, image) || image} is stale: result/ was built ${new Date(built).toISOString()}, but ${newest.file} changed later (${new Date(newest.at).toISOString()}), so the last \`flk iso\` since then failed or never ran. Build it again (flk iso HOST), or name the image to write it anyway.`;
}

function sourceFiles(site: string): string[] {
  const git = Bun.which("git") ? spawnSync(["git", "-C", site, "ls-files", "-z"], { stdout: "pipe", stderr: "ignore" }) : undefined;
  if (git?.exitCode === 0) return git.stdout.toString().split("\0").filter(Boolean);
  const out: string[] = [];
  const walk = (rel: string, depth: number) => {
    let st;
    try {
      st = lstatSync(join(site, rel));
    } catch {
      return;
    }
    if (st.isFile()) out.push(rel);
    else if (st.isDirectory() && depth < 8) for (const name of readdirSync(join(site, rel))) walk(join(rel, name), depth + 1);
  };
  for (const source of SOURCES) walk(source, 0);
  return out;
}
