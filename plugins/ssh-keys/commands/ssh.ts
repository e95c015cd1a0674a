/** `flk ssh HOST [-- ARGS]`: a thin argv wrapper over ssh.ts. */
import { defineCommand, ExitCode, FlkError, type Flk } from "../../../core/index.ts";
import { sshToHost } from "../ssh.ts";

/** The `flk ssh HOST [-- ARGS]` command; exits with ssh's own status. */
export function sshCommand(flk: Flk, options: { keyFiles: readonly string[] } = { keyFiles: [] }) {
  return defineCommand({
    meta: { name: "ssh", description: "Log in to HOST's live installer (found by mDNS / fe80::47 / EUI-64), host key pinned; -- ARGS go to ssh" },
    args: {
      host: { type: "positional", required: true, description: "The host, as in hosts/HOST.nix (or an address, e.g. fe80::47%eth0)", valueHint: "HOST" },
      user: { type: "string", description: "Login user on the live system (default nixos)", valueHint: "USER" },
      iface: { type: "string", description: "Look for it only on this interface", valueHint: "IF" },
      timeout: { type: "string", description: "Per-locator budget in milliseconds", default: "3000", valueHint: "MS" },
      identity: { type: "string", alias: "i", description: "ssh -i: the private key to log in with", valueHint: "FILE" },
      port: { type: "string", alias: "p", description: "ssh -p: the port sshd listens on", valueHint: "PORT" },
      jump: { type: "string", alias: "J", description: "ssh -J: reach it through this jump host", valueHint: "[USER@]HOST" },
    },
    async run({ args }) {
      const timeoutMs = Number(args.timeout);
      if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) throw new FlkError(`--timeout: expected milliseconds like 3000, got '${args.timeout}'`, "E_USAGE");
      const sshArgs = sshFlags(args);
      const code = await sshToHost(flk, { host: args.host, user: args.user, iface: args.iface, timeoutMs, args: [...sshArgs, ...flk.passthrough] }, options.keyFiles);
      // ssh's own status is flk's: 255 is ssh's connection/host-key failure, anything else the remote command's.
      if (code !== ExitCode.ok) throw new FlkError(`ssh exited with code ${code}${code === 255 ? " (ssh itself failed: see its message above)" : ""}`, "E_SSH_EXIT", code);
    },
  });
}

/** `-i`/`-p`/`-J` as ssh options, checked at the edge (they go into ssh's argv). */
export function sshFlags(args: { identity?: string; port?: string; jump?: string }): string[] {
  const out: string[] = [];
  if (args.identity !== undefined) {
    if (args.identity === "" || args.identity.startsWith("-")) throw new FlkError(`-i: expected a key file like ~/.ssh/id_ed25519, got '${args.identity}'`, "E_USAGE");
    out.push("-i", args.identity);
  }
  if (args.port !== undefined) {
    const port = Number(args.port);
    if (!/^\d+$/.test(args.port) || port < 1 || port > 65535) throw new FlkError(`-p: expected a port from 1 to 65535, like 22, got '${args.port}'`, "E_USAGE");
    out.push("-p", String(port));
  }
  if (args.jump !== undefined) {
    if (!/^[A-Za-z0-9_.@:%[\],-]+$/.test(args.jump) || args.jump.startsWith("-")) throw new FlkError(`-J: expected a jump host like admin@gateway, got '${args.jump}'`, "E_USAGE");
    out.push("-J", args.jump);
  }
  return out;
}
