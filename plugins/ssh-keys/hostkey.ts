/**
 * The pinned host key of a live installer (DESIGN.md "NixOS facts": the
 * private half never lives in the site). Each operator's flk keeps one
 * ed25519 key per site and host in its own state directory
 * (`$XDG_STATE_HOME/flk`, default `~/.local/state/flk`, 0700/0600); the ISO
 * gets it as a store path of its own. Only the public half goes into the
 * site, as `secrets/hosts/HOST/known_hosts`, one line per operator who built
 * a stick, so any operator's `flk ssh` verifies any of those sticks — no
 * trust on first use, and nothing in the repository that could impersonate one.
 */
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, renameSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { basename, dirname, isAbsolute, join, relative } from "node:path";
import { ExitCode, FlkError, ownerProblem, ownerProblemText, reachableWithin, runChecked, type OwnerProblem } from "../../core/index.ts";
import { KeyLineError, parseKeyLine } from "./keys.ts";
import { readSiteFile, writeSiteFile } from "./safe.ts";

/** Host names flk makes paths of (hosts/NAME.nix). */
const HOST = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function checkHost(host: string): string {
  if (!HOST.test(host) || host.includes("..")) throw new FlkError(`expected a host name like NixOS (letters, digits, . _ -), got '${host.slice(0, 80)}'`, "E_HOST_NAME");
  return host;
}

/** Site-relative known_hosts of HOST's live installer. */
export function knownHostsFile(host: string): string {
  return `secrets/hosts/${checkHost(host)}/known_hosts`;
}

/**
 * flk's state directory. XDG Base Directory spec: `$XDG_STATE_HOME` when it
 * is set to an absolute path (a relative one is invalid and ignored), else
 * `$HOME/.local/state`.
 */
export function stateDir(env: Record<string, string | undefined>): string {
  const xdg = env.XDG_STATE_HOME;
  if (xdg && isAbsolute(xdg)) return join(xdg, "flk");
  return join(env.HOME && isAbsolute(env.HOME) ? env.HOME : homedir(), ".local", "state", "flk");
}

/** Where this operator keeps HOST's key pair for the site at `siteRoot`. */
export interface HostKeyPaths {
  /** `STATE/sites/NAME-HASH/HOST`. */
  dir: string;
  privateKey: string;
  publicKey: string;
}

/**
 * One directory per site (its real path's name and a hash of it), so two
 * sites that both have a host `NixOS` do not share a key.
 */
export function hostKeyPaths(env: Record<string, string | undefined>, siteRoot: string, host: string): HostKeyPaths {
  let real = siteRoot;
  try {
    real = realpathSync(siteRoot);
  } catch {
    // A site that vanished is reported elsewhere; its given path still names it.
  }
  refuseStateInSite(stateDir(env), real);
  const id = `${basename(real).replace(/[^A-Za-z0-9._-]+/g, "-").slice(0, 40) || "site"}-${new Bun.CryptoHasher("sha256").update(real).digest("hex").slice(0, 12)}`;
  const dir = join(stateDir(env), "sites", id, checkHost(host));
  return { dir, privateKey: join(dir, "ssh_host_ed25519_key"), publicKey: join(dir, "ssh_host_ed25519_key.pub") };
}

/**
 * The state directory may not lie inside the site (DESIGN.md: the private
 * half never lives in the site): a `path:` flake copies every file of the
 * site into the store and the ISO's /iso/devos, and in a git site the key
 * is one `git add` away from both. Refused whether or not git tracks it.
 */
function refuseStateInSite(state: string, realSite: string): void {
  const real = realpathOfExisting(state);
  const rel = relative(realSite, real);
  // Realpaths do not see bind mounts (a bind of site/.st at /tmp/x): compare where each lives in its filesystem (core/mountinfo.ts).
  const outside = rel !== "" && (rel.startsWith("..") || isAbsolute(rel));
  if (outside && !reachableWithin(real, realSite)) return;
  throw new FlkError(
    `flk's state directory ${state} is inside the site ${realSite}${outside ? " (through a bind mount)" : ""}: the live installers' private host keys kept there would be copied with the site into the store and onto the stick (/iso/devos), where anyone who has the stick could read them. Nothing was written. ` +
      "Keep it outside the site: set XDG_STATE_HOME to a directory of your own elsewhere, or unset it (default ~/.local/state).",
    "E_STATE_DIR",
  );
}

/** realpath of `path`, or of its nearest existing parent with the rest appended (the state dir may not exist yet). */
function realpathOfExisting(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    const parent = dirname(path);
    return parent === path ? path : join(realpathOfExisting(parent), basename(path));
  }
}

/**
 * Make `dir` and its parents up to STATE, each 0700; a link, another owner
 * (core's rule: you, root, or $SUDO_UID under sudo) or a directory others
 * may write is refused: a key there may already have been swapped, so
 * tightening the mode now would hide that.
 */
function makePrivateDirs(state: string, dir: string, env: Record<string, string | undefined>): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  for (let at = dir; at.startsWith(state); at = join(at, "..")) {
    const stat = lstatSync(at);
    if (!stat.isDirectory()) throw new FlkError(`${at} is not a directory (a link?): flk keeps private host keys there and will not follow it. Nothing was written.`, "E_STATE_DIR");
    const problem = ownerProblem(stat, env);
    if (problem) throw foreign(at, problem, dir);
    // Readable by others but writable by no one else: nothing can have been swapped, so tighten it.
    if ((stat.mode & 0o077) !== 0) chmodSync(at, 0o700);
    if (at === state) break;
  }
}

/** A state directory or key someone else could have written: refused with the fix. */
function foreign(path: string, problem: OwnerProblem, keyDir: string): FlkError {
  const fix =
    problem.kind === "owner"
      ? `If it is yours: \`chown -R $(id -u) ${path}\`.`
      : `Check it, then \`chmod 700 ${path}\`.`;
  return new FlkError(
    `${path} ${ownerProblemText(problem)}: someone else could have put a host key there for flk to build into the ISO and pin, so flk will not use it. Nothing was written. ` +
      `${fix} Or move ${keyDir} away: flk then makes a new key (rebuild and rewrite every stick of the old one).`,
    "E_STATE_DIR",
  );
}

/** The key pair in the state dir, generated when missing; `generated` says which. The public line is `ssh-ed25519 AAAA… comment`. */
export async function ensureHostKey(env: Record<string, string | undefined>, siteRoot: string, host: string): Promise<{ paths: HostKeyPaths; publicLine: string; generated: boolean }> {
  const paths = hostKeyPaths(env, siteRoot, host);
  makePrivateDirs(stateDir(env), paths.dir, env);
  const existing = statOrUndefined(paths.privateKey);
  if (existing) {
    if (!existing.isFile()) throw new FlkError(`${paths.privateKey} is not a regular file (a link?): refused. Delete it to have flk generate a new key.`, "E_STATE_DIR");
    const owner = ownerProblem(existing, env);
    if (owner?.kind === "owner") throw foreign(paths.privateKey, owner, paths.dir);
    if ((existing.mode & 0o077) !== 0)
      throw new FlkError(`${paths.privateKey} is readable by others (mode ${(existing.mode & 0o777).toString(8)}): consider it leaked. Delete it (flk then generates a new key) or \`chmod 600 ${paths.privateKey}\`.`, "E_STATE_DIR");
    // The public half is derived, so a lost .pub is simply recomputed.
    const publicLine = (await runChecked(["ssh-keygen", "-y", "-f", paths.privateKey])).trim() + ` flk live installer ${host}`;
    return { paths, publicLine, generated: false };
  }
  // Generated inside the state dir (never /tmp), then renamed into place.
  const temp = mkdtempSync(join(paths.dir, ".new-"));
  try {
    const key = join(temp, "key");
    await runChecked(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", `flk live installer ${host}`, "-f", key]);
    chmodSync(key, 0o600);
    renameSync(`${key}.pub`, paths.publicKey);
    renameSync(key, paths.privateKey);
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
  return { paths, publicLine: readFileSync(paths.publicKey, "utf8").trim(), generated: true };
}

function statOrUndefined(path: string) {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/** One pinned key of a known_hosts file. */
export interface PinnedKey {
  /** `ssh-ed25519 AAAA…` */
  key: string;
  comment: string;
  line: number;
}

/**
 * The pinned keys of HOST (filed under `alias`, core's LiveInstaller
 * hostKeyAlias) from the site's known_hosts, each line checked:
 * plain host names only (no `@cert-authority`/`@revoked` markers, no hashed
 * names, which would let a line trust more than one key), ed25519 keys that
 * parse. Undefined when there is no file.
 */
export function pinnedKeys(siteRoot: string, host: string, alias: string): PinnedKey[] | undefined {
  const file = knownHostsFile(host);
  const text = readSiteFile(siteRoot, file);
  if (text === undefined) return undefined;
  const keys: PinnedKey[] = [];
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const [names = "", type = "", base64 = "", ...comment] = line.split(/[ \t]+/);
    const bad = (why: string) =>
      new FlkError(
        `${file}:${index + 1}: ${why}. flk ssh trusts nothing from a file it cannot read fully. Fix or delete that line (each line: \`${alias},${host.toLowerCase()}.local,fe80::47 ssh-ed25519 AAAA… comment\`).`,
        "E_HOST_KEY",
        ExitCode.refused,
      );
    if (names.startsWith("@") || names.startsWith("|")) throw bad("markers (@cert-authority, @revoked) and hashed names are not allowed here");
    if (!names.split(",").includes(alias)) return;
    try {
      const key = parseKeyLine(`${type} ${base64}`);
      if (key.type !== "ssh-ed25519") throw new KeyLineError(`it is a ${key.type} key, expected ssh-ed25519`);
      keys.push({ key: `${key.type} ${key.base64}`, comment: comment.join(" "), line: index + 1 });
    } catch (error) {
      if (error instanceof KeyLineError) throw bad(`not a valid host key (${error.message})`);
      throw error;
    }
  });
  return keys;
}

/**
 * The pinned keys of HOST, or exit 2 when there are none (no known_hosts,
 * or no line for `alias`): with pinHostKey on, flk never lets ssh fall back
 * to trusting a key on first use. `destination` is named in the message.
 */
export function requirePinnedKeys(siteRoot: string, host: string, alias: string, destination: string): PinnedKey[] {
  const file = knownHostsFile(host);
  const pinned = pinnedKeys(siteRoot, host, alias);
  if (pinned && pinned.length > 0) return pinned;
  const what = pinned === undefined ? `${file} is missing` : `${file} holds no key for ${alias}`;
  throw new FlkError(
    `${what}, and [ssh-keys] pinHostKey is on: flk connects only to a live installer whose host key is pinned there; it never lets ssh trust a key on first use. Nothing was sent to ${destination}. ` +
      `If the stick was built by someone else (or in another clone), get their ${file}: pull the commit that added it (\`git pull\`), or ask them to commit it. ` +
      `If you build the stick: \`flk iso ${host}\` records its key there; write the new ISO with \`flk write\` and commit ${file}.`,
    "E_NO_PINNED_KEY",
    ExitCode.refused,
  );
}

/**
 * Add this operator's public key to HOST's known_hosts in the site (kept when
 * already there); returns whether the file changed. Entries name the alias
 * flk ssh uses plus `HOST.local` and the static link-local address, so a
 * plain `ssh -o UserKnownHostsFile=…` verifies too.
 */
export function recordHostKey(siteRoot: string, host: string, alias: string, publicLine: string, linkLocal: string, builder: string): boolean {
  const [type = "", base64 = ""] = publicLine.split(/\s+/);
  const present = pinnedKeys(siteRoot, host, alias) ?? [];
  if (present.some((p) => p.key === `${type} ${base64}`)) return false;
  const file = knownHostsFile(host);
  const before = readSiteFile(siteRoot, file);
  const header =
    `# The live installer of ${host}: its sshd host key, one line per operator who built a stick (written by flk iso).\n` +
    `# flk ssh ${host} passes -o HostKeyAlias=${alias} and trusts only these keys. The private halves stay in each operator's ~/.local/state/flk.\n`;
  // linkLocal is canonical (RFC 5952, core's live installer description) or "" when no static address is configured.
  const names = [alias, `${host.toLowerCase()}.local`, ...(linkLocal ? [linkLocal] : [])].join(",");
  const text = (before === undefined || before.trim() === "" ? header : before.replace(/\n*$/, "\n")) + `${names} ${type} ${base64} flk live installer ${host}, built by ${builder}\n`;
  writeSiteFile(siteRoot, file, text, 0o644);
  return true;
}

/** ssh options that verify the installer against the keys pinned under `alias` and nothing else (`-o` pairs). */
export function pinnedSshOptions(knownHostsPath: string, alias: string): string[] {
  // ssh splits UserKnownHostsFile on blanks (it takes a list): quote a path that has any.
  const file = /\s/.test(knownHostsPath) ? `"${knownHostsPath}"` : knownHostsPath;
  return [
    "-o", `UserKnownHostsFile=${file}`,
    "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", "StrictHostKeyChecking=yes",
    // No second source of trust: a KnownHostsCommand or SSHFP records from the operator's ssh_config could vouch for another key.
    "-o", "KnownHostsCommand=none",
    "-o", "VerifyHostKeyDNS=no",
    "-o", `HostKeyAlias=${alias}`,
    "-o", "HostKeyAlgorithms=ssh-ed25519",
    "-o", "UpdateHostKeys=no",
  ];
}
