/**
 * `flk ssh HOST`: find the live installer through the `locate` hook, collect
 * ssh options through the `sshOptions` hook (the pinned host key), then hand
 * the terminal to ssh.
 */
import { ExitCode, FlkError, resolveHost, run, type Endpoint, type Flk, type SshTarget } from "../../core/index.ts";

/** What `flk ssh` was asked for. */
export interface SshOptions {
  host: string;
  /** Login user on the live system (installation-device.nix creates `nixos`). */
  user: string;
  iface?: string;
  timeoutMs: number;
  /** Appended after `user@address`, as on ssh's own command line: ssh options first, then a remote command. */
  args: string[];
}

/** Where to connect and with what: the argv flk ssh would run. */
export async function planSsh(flk: Flk, options: SshOptions): Promise<{ argv: string[]; endpoint: Endpoint }> {
  // Before any packet: a typo (`Nixos`) is refused with a did-you-mean, not searched for on the network.
  resolveHost(flk.siteRoot(), options.host, { hostsDir: flk.hooks.hostsDir.call("hosts") });
  const query = { host: options.host, iface: options.iface, timeoutMs: options.timeoutMs, tried: [] as string[] };
  const endpoint = await flk.hooks.locate.promise(query);
  if (!endpoint) {
    const tried = query.tried.length ? query.tried.map((t) => `  - ${t}`).join("\n") : "  (no locator is enabled: turn on the mdns or ipv6-lla plugin in flk.toml)";
    throw new FlkError(
      `could not find the live installer of ${options.host}. Tried:\n${tried}\nIs it booted and on this link? Try \`flk lla discover\`, or ssh to its address yourself.`,
      "E_NOT_FOUND",
      ExitCode.failure,
    );
  }
  const target: SshTarget = { host: options.host, endpoint, user: options.user };
  const sshOptions = await flk.hooks.sshOptions.promise([], target);
  return { argv: ["ssh", ...sshOptions, `${options.user}@${addressOf(endpoint)}`, ...options.args], endpoint };
}

/** `fe80::47%eth0` for a scoped link-local address, else the address itself. */
export function addressOf(endpoint: Endpoint): string {
  return endpoint.scope ? `${endpoint.address}%${endpoint.scope}` : endpoint.address;
}

/** Run ssh with the terminal; resolves to ssh's exit code. */
export async function sshToHost(flk: Flk, options: SshOptions): Promise<number> {
  const log = flk.logger("ssh-keys");
  const { argv, endpoint } = await planSsh(flk, options);
  if (!argv.some((arg) => arg.startsWith("HostKeyAlias=")))
    log.warn(`no pinned host key for ${options.host}: ssh will ask you to trust the installer's key on first use. Set pinHostKey = true and rebuild the ISO to avoid that.`);
  log.info(`${options.user}@${addressOf(endpoint)} (found by ${endpoint.source})`);
  log.debug(argv.join(" "));
  const result = await run(argv, { stdio: "inherit", signal: flk.signal });
  return result.code;
}
