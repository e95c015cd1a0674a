/**
 * `flk ssh HOST`: core's `reach` checks the host, races the locators and
 * collects the ssh options (the pinned host key); then ssh gets the terminal.
 */
import { reach, run, type Endpoint, type Flk } from "../../core/index.ts";

/** What `flk ssh` was asked for. */
export interface SshOptions {
  /** A site host (`NixOS`, `NixOS.local`, `root@NixOS`) or a literal address (`fe80::47%eth0`). */
  host: string;
  /** Login user on the live system (default: the live installer's, `nixos`). */
  user?: string;
  iface?: string;
  timeoutMs: number;
  /** What followed `--`: ssh options first, then a remote command, as on ssh's own command line. */
  args: string[];
}

/** ssh's option letters that take a value (OpenSSH ssh.c getopt string). */
const WITH_VALUE = new Set("BbcDEeFIiJLlmOoPpQRSWw");
/** ssh's option letters without one. */
const FLAGS = new Set("46AaCfGgKkMNnqsTtVvXxYy");

/**
 * Split ARGS into ssh options and the remote command, the way ssh's getopt
 * reads them, so the options go before `--` and the destination: after
 * `--`, ssh takes nothing as an option, so no user or host can be one.
 */
export function splitSshArgs(args: readonly string[]): { options: string[]; command: string[] } {
  const options: string[] = [];
  let i = 0;
  for (; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") return { options, command: args.slice(i + 1) };
    if (!arg.startsWith("-") || arg === "-") break;
    options.push(arg);
    for (let j = 1; j < arg.length; j++) {
      const letter = arg[j]!;
      if (WITH_VALUE.has(letter)) {
        if (j === arg.length - 1 && i + 1 < args.length) options.push(args[++i]!);
        break;
      }
      if (!FLAGS.has(letter)) break; // ssh itself will say what is wrong
    }
  }
  return { options, command: args.slice(i) };
}

/** Where to connect and with what: the argv flk ssh would run. */
export async function planSsh(flk: Flk, options: SshOptions): Promise<{ argv: string[]; endpoint: Endpoint }> {
  const { options: extra, command } = splitSshArgs(options.args);
  const reached = await reach(flk, undefined, { target: options.host, user: options.user, iface: options.iface, timeoutMs: options.timeoutMs, sshArgs: extra });
  return { argv: ["ssh", ...reached.options, "--", reached.destination, ...command], endpoint: reached.endpoint };
}

/** Run ssh with the terminal; resolves to ssh's exit code. */
export async function sshToHost(flk: Flk, options: SshOptions): Promise<number> {
  const log = flk.logger("ssh-keys");
  const { argv, endpoint } = await planSsh(flk, options);
  const destination = argv[argv.indexOf("--") + 1]!;
  if (!argv.some((arg) => arg.startsWith("HostKeyAlias=")))
    log.warn(`no pinned host key for ${options.host}: ssh will ask you to trust the installer's key on first use. Set pinHostKey = true and rebuild the ISO to avoid that.`);
  log.info(`${destination} (${endpoint.source === "target" ? "as given" : `found by ${endpoint.source}`})`);
  log.debug(argv.join(" "));
  const result = await run(argv, { stdio: "inherit", signal: flk.signal });
  return result.code;
}
