/**
 * Private keys that an older flk (or a person) left in the site: flk up to
 * 2026-11 wrote the live installer's private host key to
 * `secrets/hosts/HOST/ssh_host_ed25519_key` and asked to `git add` it. Such a
 * key is readable by anyone with the repository or a stick built from it, so
 * it must be considered leaked: flk says so, with the exact commands.
 */
import { lstatSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { run, which } from "../../core/index.ts";
import { privateKeyKind } from "./text.ts";
import { listSiteDir, readSiteFile } from "./safe.ts";
import { gitCommand } from "./git.ts";

/** A private key found in the site. */
export interface LeakedKey {
  file: string;
  kind: string;
  tracked: boolean;
}

/** At most this many tracked files are read (a site's secrets/ is small; this bounds a huge one). */
const MAX_TRACKED = 2000;

/** Tracked files under secrets/ and untracked legacy host keys that hold a private key. */
export async function findLeakedKeys(siteRoot: string): Promise<LeakedKey[]> {
  const found = new Map<string, LeakedKey>();
  const check = (file: string, tracked: boolean) => {
    let text: string | undefined;
    try {
      if (!lstatSync(join(siteRoot, file)).isFile()) return;
      text = readSiteFile(siteRoot, file);
    } catch {
      return; // a link or an unreadable file: other commands refuse it by name
    }
    const kind = text === undefined ? undefined : privateKeyKind(text);
    if (kind) found.set(file, { file, kind, tracked });
  };
  for (const file of await trackedSecrets(siteRoot)) check(file, true);
  for (const host of safeList(siteRoot, "secrets/hosts")) for (const name of safeList(siteRoot, `secrets/hosts/${host}`, true)) {
    const file = `secrets/hosts/${host}/${name}`;
    if (!found.has(file)) check(file, false);
  }
  return [...found.values()];
}

/** Names in a site directory (files, or subdirectories); nothing when it is missing or a link. */
function safeList(siteRoot: string, dir: string, files = false): string[] {
  try {
    if (files) return listSiteDir(siteRoot, dir, (name) => !name.endsWith(".pub") && name !== "known_hosts");
    if (!lstatSync(join(siteRoot, dir)).isDirectory()) return [];
    return readdirSync(join(siteRoot, dir), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
}

async function trackedSecrets(siteRoot: string): Promise<string[]> {
  if (!which("git")) return [];
  const listed = await run(["git", "-C", siteRoot, "ls-files", "-z", "--", "secrets"]).catch(() => undefined);
  if (!listed || listed.code !== 0) return [];
  return listed.stdout.split("\0").filter(Boolean).slice(0, MAX_TRACKED);
}

/** The warning for each leaked key, with the exact commands. */
export function leakedKeyWarning(siteRoot: string, cwd: string, key: LeakedKey): string {
  const untrack = key.tracked ? ` Stop tracking it: \`${gitCommand(siteRoot, cwd, ["rm", "--cached", "--", key.file])}\`, delete the file, and rewrite the history if the repository was ever shared.` : " Delete it.";
  return (
    `${key.file} holds ${key.kind}${key.tracked ? " and is tracked by git" : ""}: consider that key leaked (anyone with the repository, or a stick built from it, could impersonate that host). ` +
    `flk no longer uses it: the live installer's key now lives in your state directory.${untrack}`
  );
}
