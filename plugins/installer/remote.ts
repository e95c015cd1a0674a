/**
 * `--target`: whom to ssh to. A literal address is used as given; a name
 * goes through the core `locate` hook (mDNS, then fe80::47, then EUI-64
 * neighbours), and the `sshOptions` hook adds what other plugins know
 * (ssh-keys: the pinned host key).
 */
import { isIP } from "node:net";
import { FlkError, type Endpoint, type Flk, type SshTarget } from "../../core/index.ts";
import { sshTransport, type Transport } from "./transport.ts";

/** The user of nixpkgs' installation-device.nix profile: wheel, passwordless sudo. */
export const LIVE_USER = "nixos";

/** `--target` split into user and host part. */
export interface TargetSpec {
  user: string;
  /** An address (`10.0.0.2`, `fe80::47%eth0`) or a name to locate (`NixOS`, `NixOS.local`). */
  host: string;
}

/** Parse `[USER@]HOST`; HOST may be an IPv6 address with `%scope`, bare or in brackets. */
export function parseTarget(text: string): TargetSpec {
  const at = text.lastIndexOf("@");
  const user = at >= 0 ? text.slice(0, at) : LIVE_USER;
  const host = (at >= 0 ? text.slice(at + 1) : text).replace(/^\[(.*)\]$/, "$1");
  if (!/^[a-z_][a-z0-9_.-]*$/i.test(user) || !/^[A-Za-z0-9][A-Za-z0-9_.:%-]*$/.test(host))
    throw new FlkError(`--target: expected USER@ADDRESS or a host name like nixos@192.168.1.20, root@fe80::47%eth0 or NixOS, got '${text}'`, "E_TARGET");
  return { user, host };
}

/** The endpoint of a literal address, or undefined for a name. */
export function literalEndpoint(host: string): Endpoint | undefined {
  const [address, scope] = host.split("%") as [string, string | undefined];
  const family = isIP(address);
  if (family === 0) return undefined;
  return { address, ...(scope ? { scope } : {}), family: family as 4 | 6, source: "target" };
}

/** How to reach the target, and what was tried to find it. */
export interface RemoteOptions {
  /** The ssh program (argv prefix), `["ssh"]` unless a test wraps it (e.g. in a network namespace). */
  ssh?: string[];
  /** Budget per locator (ms). */
  timeoutMs?: number;
}

/** Find the target and build the ssh transport; a name nobody answers for is exit 1, naming what was tried. */
export async function remoteTransport(flk: Flk, host: string, target: string, options: RemoteOptions = {}): Promise<Transport> {
  const spec = parseTarget(target);
  const tried: string[] = [];
  let endpoint = literalEndpoint(spec.host);
  if (!endpoint) {
    endpoint = await flk.hooks.locate.promise({ host: spec.host, timeoutMs: options.timeoutMs ?? 3000, tried });
    if (!endpoint)
      throw new FlkError(
        `cannot find the live installer '${spec.host}'${tried.length ? `; tried: ${tried.join("; ")}` : " (no plugin that locates hosts is enabled: mdns, ipv6-lla)"}. Nothing was changed. ` +
          `Check that it has booted and is on this link, or give its address: --target ${spec.user}@ADDRESS.`,
        "E_UNREACHABLE",
        1,
      );
  }
  const sshTarget: SshTarget = { host: host || spec.host, endpoint, user: spec.user };
  // BatchMode: never prompt (a script is on stdin); -T: no terminal for `sh -s`.
  const base = ["-T", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=15"];
  const sshOptions = await flk.hooks.sshOptions.promise(base, sshTarget);
  const destination = `${spec.user}@${endpoint.address}${endpoint.scope ? `%${endpoint.scope}` : ""}`;
  tried.push(`ssh ${destination} (${endpoint.source === "target" ? "from --target" : `found by ${endpoint.source}`})`);
  return sshTransport({
    ssh: options.ssh ?? ["ssh"],
    options: sshOptions,
    destination,
    // installation-device.nix gives `nixos` passwordless sudo; -n fails instead of prompting.
    remoteCommand: spec.user === "root" ? "sh -s" : "sudo -n sh -s",
    tried,
  });
}
