/**
 * `--target`: whom to ssh to. core's `reach` does it for `flk ssh` and here
 * alike: the host checked against the site, a literal address used as
 * given, a name found by the `locate` locators, the pinned host key from
 * the `sshOptions` hook.
 */
import { reach } from "../../core/index.ts";
import type { Flk } from "../../core/index.ts";
import { sshTransport, type Transport } from "./transport.ts";

/** How to reach the target, and what was tried to find it. */
export interface RemoteOptions {
  /** The ssh program (argv prefix), `["ssh"]` unless a test wraps it (e.g. in a network namespace). */
  ssh?: string[];
  /** Budget per locator (ms). */
  timeoutMs?: number;
  /** The operator's ssh options (`-i KEY`, `-p PORT`, `-J JUMP`). */
  sshArgs?: string[];
}

/** Find the target and build the ssh transport; a name nobody answers for is exit 1, naming what was tried. */
export async function remoteTransport(flk: Flk, host: string, target: string, options: RemoteOptions = {}): Promise<Transport> {
  // BatchMode: never prompt (a script is on stdin); -T: no terminal for `sh -s`.
  const base = ["-T", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-o", "ServerAliveInterval=15"];
  const reached = await reach(flk, host || undefined, { target, timeoutMs: options.timeoutMs ?? 3000, sshArgs: [...base, ...(options.sshArgs ?? [])] });
  const transport = sshTransport({
    ssh: options.ssh ?? ["ssh"],
    options: [...reached.options, "--"],
    destination: reached.destination,
    // installation-device.nix gives `nixos` passwordless sudo; -n fails instead of prompting.
    remoteCommand: reached.user === "root" ? "sh -s" : "sudo -n sh -s",
    tried: reached.tried,
  });
  return { ...transport, explain: (stderr) => flk.hooks.sshFailed.call(stderr, { host: reached.host ?? "", destination: reached.destination }) };
}
