/**
 * A real avahi-daemon announcing a host name inside a test network
 * namespace. Reused by the mdns tests, the benchmark and the story test.
 *
 *   const avahi = await startAvahi(link.a, { hostName: "NixOS" });
 *   try { … flk resolve NixOS in link.b … } finally { await avahi.stop(); }
 *
 * avahi-daemon always writes its pid file and socket under /run/avahi-daemon,
 * so two daemons (two tests, or the host's own) would collide. Each one runs
 * in a private mount namespace (`unshare -m`) with a fresh tmpfs over /run:
 * nothing of it is visible outside, and it leaves nothing behind.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Namespace } from "./netns.ts";
import { startDaemon } from "./daemon.ts";

/** What avahi announces and where. */
export interface AvahiOptions {
  /** The name to announce: `NixOS` → `NixOS.local`. */
  hostName: string;
  /** Interfaces avahi may use (default: the namespace's veth end). */
  interfaces?: string[];
  ipv4?: boolean;
  ipv6?: boolean;
  /** How long to wait for "Server startup complete" (default 15 s: probing alone takes ~0.75 s). */
  timeoutMs?: number;
}

/** A running avahi-daemon. */
export interface Avahi {
  /** Everything avahi logged so far (it runs in the foreground: logs on stderr). */
  log(): string;
  /** Kill avahi and remove its temp dir; safe to call twice. */
  stop(): Promise<void>;
}

/** The avahi-daemon binary (Debian keeps it in /usr/sbin). */
export const AVAHI_DAEMON = Bun.which("avahi-daemon", { PATH: `${process.env.PATH}:/usr/sbin:/sbin` }) ?? "/usr/sbin/avahi-daemon";

/** Start avahi-daemon in `ns`; resolves once its host name is established (probed and announced). */
export async function startAvahi(ns: Namespace, options: AvahiOptions): Promise<Avahi> {
  const dir = mkdtempSync(join(tmpdir(), "flk-avahi-"));
  const conf = join(dir, "avahi-daemon.conf");
  const yes = (v: boolean | undefined) => (v === false ? "no" : "yes");
  writeFileSync(
    conf,
    [
      "[server]",
      `host-name=${options.hostName}`,
      "domain-name=local",
      `use-ipv4=${yes(options.ipv4)}`,
      `use-ipv6=${yes(options.ipv6)}`,
      "enable-dbus=no",
      `allow-interfaces=${(options.interfaces ?? [ns.iface]).join(",")}`,
      "[wide-area]",
      "enable-wide-area=no",
      "[publish]",
      "publish-addresses=yes",
      "publish-workstation=no",
      "publish-hinfo=no",
      "",
    ].join("\n"),
  );
  const script = `mount -t tmpfs -o mode=0755 flk-avahi /run && exec ${AVAHI_DAEMON} -f "$1" --no-drop-root --no-chroot --no-rlimits`;
  const child = ns.spawn(["unshare", "-m", "--propagation", "private", "sh", "-c", script, "avahi", conf]);
  return startDaemon(child, {
    name: `avahi-daemon in ${ns.name}`,
    ready: "Server startup complete",
    timeoutMs: options.timeoutMs ?? 15_000,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  });
}
