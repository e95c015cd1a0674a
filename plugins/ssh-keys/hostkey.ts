/**
 * The pinned host key of a live installer: an ed25519 key generated once per
 * host under `secrets/hosts/HOST/`, baked into the ISO, and recorded in a
 * known_hosts file that `flk ssh` verifies against — no trust on first use.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ExitCode, FlkError, runChecked, writeFileAtomic } from "../../core/index.ts";
import { KeyLineError, parseKeyLine } from "./keys.ts";

/** Site-relative files of one host's pinned key. */
export interface HostKeyFiles {
  dir: string;
  privateKey: string;
  publicKey: string;
  knownHosts: string;
}

/** Where HOST's pinned key lives, relative to the site root. */
export function hostKeyFiles(host: string): HostKeyFiles {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(host) || host.includes(".."))
    throw new FlkError(`expected a host name like NixOS (letters, digits, . _ -), got '${host.slice(0, 80)}'`, "E_HOST_NAME");
  const dir = `secrets/hosts/${host}`;
  return { dir, privateKey: `${dir}/ssh_host_ed25519_key`, publicKey: `${dir}/ssh_host_ed25519_key.pub`, knownHosts: `${dir}/known_hosts` };
}

/**
 * The HostKeyAlias flk ssh passes: every address the installer is found at
 * (mDNS, fe80::47, EUI-64) is checked against this one known_hosts entry.
 * Lower case because ssh matches known_hosts patterns case-folded.
 */
export function hostKeyAlias(host: string): string {
  return `flk-live-${host.toLowerCase()}`;
}

/** Generate HOST's key pair if it is missing; returns whether it did. */
export async function ensureHostKey(siteRoot: string, host: string): Promise<boolean> {
  const files = hostKeyFiles(host);
  const priv = join(siteRoot, files.privateKey);
  const pub = join(siteRoot, files.publicKey);
  if (existsSync(priv)) {
    // The public half is derived, so a lost .pub is simply recomputed.
    if (!existsSync(pub)) writeFileAtomic(pub, (await runChecked(["ssh-keygen", "-y", "-f", priv])).trim() + ` flk live installer ${host}\n`, 0o644);
    return false;
  }
  const temp = mkdtempSync(join(tmpdir(), "flk-hostkey-"));
  try {
    const key = join(temp, "key");
    await runChecked(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", `flk live installer ${host}`, "-f", key]);
    writeFileAtomic(priv, readFileSync(key), 0o600);
    writeFileAtomic(pub, readFileSync(`${key}.pub`), 0o644);
  } finally {
    rmSync(temp, { recursive: true, force: true });
  }
  return true;
}

/** The pinned public key line of HOST (`ssh-ed25519 AAAA…`), or undefined when there is none. */
export function pinnedPublicKey(siteRoot: string, host: string): string | undefined {
  const files = hostKeyFiles(host);
  const path = join(siteRoot, files.publicKey);
  if (!existsSync(path)) return undefined;
  try {
    const key = parseKeyLine(readFileSync(path, "utf8").trim());
    if (key.type !== "ssh-ed25519") throw new KeyLineError(`it is a ${key.type} key, expected ssh-ed25519`);
    return `${key.type} ${key.base64}`;
  } catch (error) {
    if (!(error instanceof KeyLineError)) throw error;
    throw new FlkError(
      `${files.publicKey} is not a valid host public key (${error.message}). Delete ${files.dir}/ssh_host_ed25519_key* and run \`flk iso ${host}\` to generate a new pair.`,
      "E_HOST_KEY",
      ExitCode.refused,
    );
  }
}

/**
 * The known_hosts text for HOST: the alias flk ssh uses, plus plain entries
 * for `HOST.local` and the static link-local address so a manual
 * `ssh -o UserKnownHostsFile=… nixos@HOST.local` verifies too.
 */
export function knownHostsText(host: string, publicKey: string, linkLocal: string): string {
  const names = [hostKeyAlias(host), `${host.toLowerCase()}.local`, linkLocal.toLowerCase()];
  return [
    `# Written by flk from ${hostKeyFiles(host).publicKey}: the live installer of ${host}.`,
    `# flk ssh ${host} passes -o HostKeyAlias=${hostKeyAlias(host)}, so any address it is found at is checked against this key.`,
    ...names.map((name) => `${name} ${publicKey}`),
  ].join("\n") + "\n";
}

/** Write HOST's known_hosts file when it is missing or stale; returns its absolute path, or undefined without a pinned key. */
export function writeKnownHosts(siteRoot: string, host: string, linkLocal: string): string | undefined {
  const publicKey = pinnedPublicKey(siteRoot, host);
  if (!publicKey) return undefined;
  const path = join(siteRoot, hostKeyFiles(host).knownHosts);
  const text = knownHostsText(host, publicKey, linkLocal);
  if (!existsSync(path) || readFileSync(path, "utf8") !== text) writeFileAtomic(path, text, 0o644);
  return path;
}

/** ssh options that verify HOST's pinned key and nothing else (`-o` pairs). */
export function pinnedSshOptions(knownHostsPath: string, host: string): string[] {
  // ssh splits UserKnownHostsFile on blanks (it takes a list): quote a path that has any.
  const file = /\s/.test(knownHostsPath) ? `"${knownHostsPath}"` : knownHostsPath;
  return [
    "-o", `UserKnownHostsFile=${file}`,
    "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", "StrictHostKeyChecking=yes",
    "-o", `HostKeyAlias=${hostKeyAlias(host)}`,
    "-o", "HostKeyAlgorithms=ssh-ed25519",
    "-o", "UpdateHostKeys=no",
  ];
}
