/**
 * A real OpenSSH server inside a test network namespace: only the host key
 * and the authorized keys the test hands it, public-key login only, bound to
 * the namespace's IPv6 link-local address. Reused by ssh-keys, installer and
 * the story test.
 *
 *   const sshd = await startSshd(link.a, { hostKey, authorizedKeys });
 *   try { … ssh root@${sshd.address}%${link.b.iface} -p ${sshd.port} … } finally { await sshd.stop(); }
 */
import { copyFileSync, chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { linkLocal, type Namespace } from "./netns.ts";
import { startDaemon } from "./daemon.ts";

/** How to start sshd. */
export interface SshdOptions {
  /** Path of the private host key sshd presents (copied to a 0600 file, as sshd insists). */
  hostKey: string;
  /** authorized_keys content: the only keys that may log in (any user, root included). */
  authorizedKeys: string;
  /** TCP port inside the namespace (default 22: the namespace has it to itself). */
  port?: number;
  /**
   * Listen on this link-local address instead of the kernel's EUI-64 one,
   * adding it to the interface first (e.g. "fe80::47", the live ISO's static address).
   */
  address?: string;
  /** Extra sshd_config lines, e.g. `["AllowUsers root"]`. */
  extraConfig?: string[];
  /** How long to wait for "Server listening" (default 10 s). */
  timeoutMs?: number;
  /**
   * argv that runs sshd's argv as its tail inside the namespace, e.g. the
   * live installer's mount namespace and chroot (test/helpers/live-installer.ts).
   * It must exec sshd in the end (stop() signals the spawned pid).
   */
  launcher?: string[];
}

/** A running sshd. */
export interface Sshd {
  /** The link-local address sshd listens on (without `%scope`). */
  address: string;
  port: number;
  /** Everything sshd logged so far (it runs with -e: logs on stderr). */
  log(): string;
  /** Kill sshd and remove its temp dir; safe to call twice. */
  stop(): Promise<void>;
}

/** The sshd binary: Debian keeps it in /usr/sbin, which a non-login PATH may lack. */
export const SSHD = Bun.which("sshd", { PATH: `${process.env.PATH}:/usr/sbin:/sbin` }) ?? "/usr/sbin/sshd";

/** Start sshd in `ns` on its link-local address; resolves once it listens. */
export async function startSshd(ns: Namespace, options: SshdOptions): Promise<Sshd> {
  const address = options.address ?? (await linkLocal(ns));
  if (options.address) {
    const added = await ns.exec(["ip", "-6", "addr", "add", `${options.address}/64`, "dev", ns.iface, "nodad"]);
    if (added.code !== 0 && !added.stderr.includes("File exists")) throw new Error(`cannot add ${options.address} to ${ns.iface}: ${added.stderr}`);
  }
  const port = options.port ?? 22;
  const dir = mkdtempSync(join(tmpdir(), "flk-sshd-"));
  // sshd's privilege-separation directory must exist (Debian creates it from a unit we do not run).
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const hostKey = join(dir, "ssh_host_key");
  copyFileSync(options.hostKey, hostKey);
  chmodSync(hostKey, 0o600);
  // sshd reads AuthorizedKeysFile as the user logging in: a non-root test
  // user (the story's `nixos`) must be able to reach and read it.
  chmodSync(dir, 0o755);
  writeFileSync(join(dir, "authorized_keys"), options.authorizedKeys, { mode: 0o644 });
  const config = [
    `Port ${port}`,
    `ListenAddress ${address}%${ns.iface}`,
    `HostKey ${hostKey}`,
    `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
    `PidFile ${join(dir, "sshd.pid")}`,
    "PasswordAuthentication no",
    "KbdInteractiveAuthentication no",
    "UsePAM no",
    "PermitRootLogin prohibit-password",
    // The key file lives under /tmp (mode 1777), which StrictModes would reject.
    "StrictModes no",
    "LogLevel VERBOSE",
    ...(options.extraConfig ?? []),
  ].join("\n");
  writeFileSync(join(dir, "sshd_config"), config + "\n");
  const child = ns.spawn([...(options.launcher ?? []), SSHD, "-D", "-e", "-f", join(dir, "sshd_config")]);
  const daemon = await startDaemon(child, {
    name: `sshd in ${ns.name}`,
    ready: /Server listening on/,
    timeoutMs: options.timeoutMs ?? 10_000,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  });
  return { address, port, log: daemon.log, stop: daemon.stop };
}
