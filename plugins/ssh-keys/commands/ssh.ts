/** `flk ssh HOST [-- ARGS]`: a thin argv wrapper over ssh.ts. */
import { defineCommand, ExitCode, FlkError, sshFlags, SSH_FLAG_ARGS, type Flk } from "../../../core/index.ts";
import { sshToHost } from "../ssh.ts";

/** The `flk ssh HOST [-- ARGS]` command; exits with ssh's own status. */
export function sshCommand(flk: Flk, options: { keyFiles: readonly string[] } = { keyFiles: [] }) {
  return defineCommand({
    meta: { name: "ssh", description: "Log in to HOST's live installer (found by mDNS / fe80::47 / EUI-64), host key pinned; -- ARGS go to ssh" },
    args: {
      host: { type: "positional", required: true, description: "The host, as in hosts/HOST.nix (an address only with pinHostKey = false; else use --target)", valueHint: "HOST" },
      target: { type: "string", description: "Connect to this address (or name) instead of locating HOST; HOST's pinned key is checked", valueHint: "[USER@]ADDRESS" },
      user: { type: "string", description: "Login user on the live system (default nixos)", valueHint: "USER" },
      iface: { type: "string", description: "Look for it only on this interface", valueHint: "IF" },
      timeout: { type: "string", description: "Per-locator budget in milliseconds", default: "3000", valueHint: "MS" },
      ...SSH_FLAG_ARGS,
    },
    async run({ args }) {
      const timeoutMs = Number(args.timeout);
      if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new FlkError(`--timeout: expected milliseconds like 3000, got '${args.timeout}'`, "E_USAGE");
      const sshArgs = sshFlags(args);
      const code = await sshToHost(flk, { host: args.host, target: args.target, user: args.user, iface: args.iface, timeoutMs, args: [...sshArgs, ...flk.passthrough] }, options.keyFiles);
      // ssh's own status is flk's: 255 is ssh's connection/host-key failure, anything else the remote command's.
      if (code !== ExitCode.ok) throw new FlkError(`ssh exited with code ${code}${code === 255 ? " (ssh itself failed: see its message above)" : ""}`, "E_SSH_EXIT", code);
    },
  });
}
