/**
 * `flk ssh HOST`: core's `reach` checks the host, races the locators and
 * collects the ssh options (the pinned host key); then ssh gets the terminal.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { FlkError, reach, requireProgram, spawn, spawnSync, type Endpoint, type Flk } from "../../core/index.ts";
import { hostKeyMismatch, isHostKeyMismatch, SSH_UNPIN_ADVICE } from "./mismatch.ts";
import { loadStore } from "./store.ts";
import { readKeyText } from "./text.ts";

/** What `flk ssh` was asked for. */
export interface SshOptions {
  /** A site host (`NixOS`, `NixOS.local`, `root@NixOS`), or a literal address (`fe80::47%eth0`) when nothing is pinned. */
  host: string;
  /** `[USER@]ADDRESS|NAME` to connect to instead of locating `host`, whose pinned key it must present (`--target`). */
  target?: string;
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
  const common = { user: options.user, iface: options.iface, timeoutMs: options.timeoutMs, sshArgs: extra };
  const reached =
    options.target !== undefined
      ? await reach(flk, options.host, { ...common, target: options.target })
      : await reach(flk, undefined, { ...common, target: options.host });
  // An address alone (no host, no pin) is refused by ssh-keys' sshOptions tap inside reach(), for flk install --target too.
  return { argv: ["ssh", ...reached.options, "--", reached.destination, ...command], endpoint: reached.endpoint };
}

/** Run ssh with the terminal (stderr passed through line by line, so a failure can be explained); resolves to ssh's exit code. */
export async function sshToHost(flk: Flk, options: SshOptions, keyFiles: readonly string[] = []): Promise<number> {
  const log = flk.logger("ssh-keys");
  const { argv, endpoint } = await planSsh(flk, options);
  const destination = argv[argv.indexOf("--") + 1]!;
  // No pin only with pinHostKey = false: the sshOptions tap warned then (and refuses an unpinned login with it on).
  const pinned = argv.some((arg) => arg.startsWith("HostKeyAlias="));
  log.info(`${destination} (${endpoint.source === "target" ? "as given" : `found by ${endpoint.source}`})`);
  const { code, stderr } = await runSsh(argv, flk.signal, pinned);
  if (code === SSH_FAILED) {
    const why = explainFailure(flk, { host: options.host, destination, stderr, pinned, argv, keyFiles });
    if (why) throw why;
  }
  return code;
}

/** ssh exits 255 on its own errors (connection, authentication, host key). */
const SSH_FAILED = 255;

async function runSsh(argv: string[], signal: AbortSignal, pinned: boolean): Promise<{ code: number; stderr: string }> {
  const child = spawn([requireProgram("ssh"), ...argv.slice(1)], { stdin: "inherit", stdout: "inherit", stderr: "pipe", env: process.env }, argv);
  const onAbort = () => child.kill("SIGTERM");
  signal.addEventListener("abort", onAbort, { once: true });
  let kept = "";
  let partial = "";
  const decoder = new TextDecoder();
  const pass = (line: string) => {
    kept = (kept + line + "\n").slice(-16_384);
    if (!(pinned && SSH_UNPIN_ADVICE.test(line))) process.stderr.write(line + "\n");
  };
  for await (const chunk of child.stderr) {
    const lines = (partial + decoder.decode(chunk, { stream: true })).split("\n");
    partial = lines.pop() ?? "";
    lines.forEach(pass);
  }
  if (partial) pass(partial);
  const code = await child.exited;
  signal.removeEventListener("abort", onAbort);
  return { code, stderr: kept };
}

interface Failure {
  host: string;
  destination: string;
  stderr: string;
  pinned: boolean;
  argv: string[];
  keyFiles: readonly string[];
}

/** The next step for ssh's two common failures, or undefined to leave ssh's own message as it is. */
function explainFailure(flk: Flk, f: Failure): FlkError | undefined {
  if (f.pinned && isHostKeyMismatch(f.stderr)) return hostKeyMismatch(f.host, f.destination);
  if (/Permission denied \(publickey/.test(f.stderr)) return permissionDenied(flk, f);
  return undefined;
}

/** Which keys the ISO lets in (the site's store, fingerprints) against what this login offered (agent, ~/.ssh, -i). */
function permissionDenied(flk: Flk, f: Failure): FlkError {
  let authorized: Array<{ fingerprint: string; what: string }> = [];
  try {
    const store = loadStore(flk.siteRoot(), f.keyFiles);
    authorized = store.keys.map((k) => ({ fingerprint: k.fingerprint, what: `${k.comment || k.name} (${k.file})` }));
  } catch {
    // An unreadable store is reported by `flk keys list`; here the offered side still helps.
  }
  const offered = offeredKeys(f.argv);
  const mine = new Set(offered.keys.map((k) => k.fingerprint));
  const match = authorized.filter((k) => mine.has(k.fingerprint));
  const list = (keys: Array<{ fingerprint: string; what: string }>) => (keys.length ? keys.map((k) => `  ${k.fingerprint}  ${k.what}`).join("\n") : "  (none)");
  const next = match.length
    ? `Your key ${match[0]!.fingerprint} is in the site, so this stick was built before it was added (or for other users): rebuild and rewrite it (\`flk iso ${f.host}\`, then \`flk write\`), or log in as a user that has it (--user).`
    : authorized.length
      ? "None of the keys you offered is authorized: offer one of the keys above (ssh-add KEY, or flk ssh -i KEY), or add yours with `flk keys add ~/.ssh/id_ed25519.pub` and rebuild and rewrite the stick."
      : `The site has no keys in secrets/keys/: add yours with \`flk keys add ~/.ssh/id_ed25519.pub\`, then rebuild and rewrite the stick (\`flk iso ${f.host}\`).`;
  return new FlkError(
    `${f.destination} refused the login (Permission denied). The ${f.host} live installer lets in the keys its ISO was built with; the site has:\n${list(authorized)}\n` +
      `You offered:\n${list(offered.keys)}${offered.notes.length ? `\n  (${offered.notes.join("; ")})` : ""}\n${next}`,
    "E_SSH_AUTH",
    SSH_FAILED,
  );
}

/** Public keys ssh offers: -i FILE(.pub) given, else the agent's and ssh's default identities (IdentitiesOnly=yes: only -i). */
function offeredKeys(argv: string[]): { keys: Array<{ fingerprint: string; what: string }>; notes: string[] } {
  const keys: Array<{ fingerprint: string; what: string }> = [];
  const notes: string[] = [];
  const add = (text: string, what: string) => {
    for (const key of readKeyText(text).keys) if (!keys.some((k) => k.fingerprint === key.fingerprint)) keys.push({ fingerprint: key.fingerprint, what: `${key.comment ? key.comment + " " : ""}(${what})` });
  };
  const identities = argv.flatMap((arg, i) => (arg === "-i" && argv[i + 1] ? [argv[i + 1]!] : arg.startsWith("-i") && arg.length > 2 ? [arg.slice(2)] : []));
  for (const file of identities) {
    const pub = file.endsWith(".pub") ? file : `${file}.pub`;
    if (existsSync(pub)) add(readFileSync(pub, "utf8"), pub);
    else notes.push(`-i ${file}: no ${pub} to read its fingerprint from`);
  }
  if (argv.some((a) => /^IdentitiesOnly=yes$/i.test(a))) return { keys, notes };
  if (process.env.SSH_AUTH_SOCK) {
    const agent = spawnSync(["ssh-add", "-L"], { stdout: "pipe", stderr: "ignore" });
    if (agent.exitCode === 0) add(agent.stdout.toString(), "ssh-agent");
    else notes.push("the ssh-agent holds no keys");
  } else notes.push("no ssh-agent is running (SSH_AUTH_SOCK is unset)");
  for (const name of ["id_ed25519", "id_ecdsa", "id_ed25519_sk", "id_ecdsa_sk", "id_rsa"]) {
    const pub = join(homedir(), ".ssh", `${name}.pub`);
    if (existsSync(pub)) add(readFileSync(pub, "utf8"), `~/.ssh/${name}.pub`);
  }
  return { keys, notes };
}
