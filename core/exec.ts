/**
 * Spawn helpers over Bun.spawn: captured or streamed output, exit status, and
 * a FlkError that names the package when a program is missing. Every child
 * flk starts goes through here, so `--verbose` shows each one.
 */
import { readdirSync, readFileSync } from "node:fs";
import { ExitCode, FlkError } from "./errors.ts";

/**
 * Which package brings a program, for the "not installed" message (Debian
 * names; nixpkgs in parentheses): only tools of the operating system. A
 * plugin names its own tools in `requires.install` (definePlugin), which
 * createFlk hands to `addInstallHints`; core knows no plugin's vocabulary.
 */
const PROVIDERS: Record<string, string> = {
  nix: "`apt-get install nix-bin` on Debian/Ubuntu, or the installer at nixos.org/download",
  "nix-instantiate": "`apt-get install nix-bin` on Debian/Ubuntu, or the installer at nixos.org/download",
  ssh: "`apt-get install openssh-client` (nixpkgs: openssh)",
  "ssh-keygen": "`apt-get install openssh-client` (nixpkgs: openssh)",
  sshd: "`apt-get install openssh-server` (nixpkgs: openssh)",
  ip: "`apt-get install iproute2` (nixpkgs: iproute2)",
  ping: "`apt-get install iputils-ping` (nixpkgs: iputils)",
  lsblk: "`apt-get install util-linux`",
  blkid: "`apt-get install util-linux`",
  losetup: "`apt-get install util-linux`",
  mount: "`apt-get install mount`",
  umount: "`apt-get install mount`",
  swapon: "`apt-get install util-linux`",
  swapoff: "`apt-get install util-linux`",
  "mkfs.ext4": "`apt-get install e2fsprogs`",
  "mkfs.vfat": "`apt-get install dosfstools`",
  git: "`apt-get install git` (nixpkgs: git)",
};

/** Hints the enabled plugins declared (`requires.install`); they win over PROVIDERS. */
const pluginHints = new Map<string, string>();

/** Add a plugin's hints: program → how to get it (called by createFlk). */
export function addInstallHints(hints: Readonly<Record<string, string>> | undefined): void {
  for (const [program, hint] of Object.entries(hints ?? {})) pluginHints.set(program, hint);
}

/** The package hint for a program, or a generic one. */
export function providerOf(program: string): string {
  return pluginHints.get(program) ?? PROVIDERS[program] ?? `your distribution's package that provides \`${program}\``;
}

let trace: ((argv: readonly string[]) => void) | undefined;

/** Report every command run() starts (flk --verbose), or stop with undefined. */
export function setCommandTrace(fn: ((argv: readonly string[]) => void) | undefined): void {
  trace = fn;
}

/**
 * Bun.spawn, reported under --verbose like run(): for a child flk drives
 * itself (a terminal handed to ssh, a decompressor it feeds). The trace shows
 * `argv` as given (a program name, not its resolved path).
 */
export function spawn<const In extends Bun.SpawnOptions.Writable = "ignore", const Out extends Bun.SpawnOptions.Readable = "pipe", const Err extends Bun.SpawnOptions.Readable = "inherit">(
  argv: string[],
  options?: Bun.SpawnOptions.SpawnOptions<In, Out, Err>,
  shown: readonly string[] = argv,
): Bun.Subprocess<In, Out, Err> {
  trace?.(shown);
  return Bun.spawn(argv, options);
}

/** Bun.spawnSync, reported under --verbose (see spawn). */
export function spawnSync<const In extends Bun.SpawnOptions.Writable = "ignore", const Out extends Bun.SpawnOptions.Readable = "pipe", const Err extends Bun.SpawnOptions.Readable = "pipe">(
  argv: string[],
  options?: Bun.SpawnOptions.SpawnSyncOptions<In, Out, Err>,
): Bun.SyncSubprocess<Out, Err> {
  trace?.(argv);
  return Bun.spawnSync(argv, options);
}

/** The absolute path of `program` on PATH, or undefined. */
export function which(program: string, path = process.env.PATH): string | undefined {
  return Bun.which(program, { PATH: path ?? "" }) ?? undefined;
}

/** The absolute path of `program`, or a FlkError (exit 2) naming it and how to install it. */
export function requireProgram(program: string, why?: string): string {
  const found = which(program);
  if (found) return found;
  throw new FlkError(
    `\`${program}\` is not installed or not on PATH${why ? ` (${why})` : ""}. Install it with ${providerOf(program)}.`,
    "E_MISSING_PROGRAM",
  );
}

/** How a child's output is handled. */
export type Stdio =
  /** Collect stdout and stderr into strings. */
  | "capture"
  /** Child writes straight to our stdout/stderr. */
  | "inherit"
  /** Child's stdout and stderr go to our stderr as they arrive, and are also kept (last lines) for errors. */
  | "stream";

export interface RunOptions {
  stdio?: Stdio;
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Text fed to the child's stdin; otherwise stdin is closed (inherited with stdio "inherit"). */
  input?: string | Uint8Array;
  /**
   * With `input`: keep the child's stdin open after the input until the child
   * exits, instead of closing it at once. Over ssh the far side then reads
   * EOF exactly when this side goes away (installer's remote hang-up guard).
   */
  holdStdin?: boolean;
  /** Kill the child when this aborts. */
  signal?: AbortSignal;
  /** Lines of output kept for `tail` in stream mode. */
  keepLines?: number;
  /** Keep stdin as ours (a terminal for prompts) while output is captured or streamed. */
  stdin?: "inherit";
  /**
   * Run the child as the leader of its own process group (a new session), so
   * an abort signals every process it started (a script's nixos-install, not
   * only the shell) and waits until the whole group is gone.
   */
  processGroup?: boolean;
  /** Each complete stdout line as it arrives (e.g. a protocol on stdout). */
  onStdoutLine?: (line: string) => void;
  /** Copy only stderr to ours as it arrives (raw chunks: a prompt without a newline shows at once). */
  echoStderr?: boolean;
}

export interface RunResult {
  /** Exit status; 128+N when killed by signal N. */
  code: number;
  stdout: string;
  stderr: string;
  /** The last lines of combined output (stream and capture modes), for error messages. */
  tail: string[];
}

/** Run `argv` to completion. A missing program is a FlkError; a non-zero exit is returned, not thrown. */
export async function run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const [program, ...args] = argv;
  if (!program) throw new FlkError("internal: run() needs a program", "E_INTERNAL", ExitCode.failure);
  const resolved = program.includes("/") ? program : requireProgram(program);
  trace?.([program, ...args]);
  const stdio = options.stdio ?? "capture";
  const keep = options.keepLines ?? 40;
  const input = options.input === undefined ? undefined : typeof options.input === "string" ? new TextEncoder().encode(options.input) : options.input;
  const child = Bun.spawn([resolved, ...args], {
    cwd: options.cwd,
    env: options.env ? cleanEnv(options.env) : undefined,
    stdin: input && options.holdStdin ? "pipe" : input ?? (stdio === "inherit" || options.stdin === "inherit" ? "inherit" : "ignore"),
    stdout: stdio === "inherit" ? "inherit" : "pipe",
    stderr: stdio === "inherit" ? "inherit" : "pipe",
    // setsid(2): the child leads a new process group, which an abort signals as a whole.
    detached: options.processGroup ?? false,
  });
  const held = input && options.holdStdin ? (child.stdin as Bun.FileSink) : undefined;
  if (held) {
    held.write(input!);
    // Not awaited: a child that stops reading must not stop us collecting its output.
    Promise.resolve(held.flush()).catch(() => undefined);
  }
  let groupGone: Promise<void> | undefined;
  const onAbort = () => {
    if (options.processGroup) groupGone = stopGroup(child.pid);
    else child.kill("SIGTERM");
  };
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener("abort", onAbort, { once: true });
  const tail: string[] = [];
  const collect = async (stream: ReadableStream<Uint8Array> | number | undefined | null, echo: boolean, onLine?: (line: string) => void) => {
    if (!stream || typeof stream === "number") return "";
    let text = "";
    let partial = "";
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      const piece = decoder.decode(chunk, { stream: true });
      if (echo) process.stderr.write(chunk);
      if (stdio === "capture") text += piece;
      const lines = (partial + piece).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) onLine?.(line);
      tail.push(...lines);
      if (tail.length > keep) tail.splice(0, tail.length - keep);
    }
    if (partial) {
      onLine?.(partial);
      tail.push(partial);
    }
    if (tail.length > keep) tail.splice(0, tail.length - keep);
    return text;
  };
  const echo = stdio === "stream";
  const [stdout, stderr] = await Promise.all([
    collect(child.stdout, echo, options.onStdoutLine),
    collect(child.stderr, echo || Boolean(options.echoStderr)),
  ]);
  await child.exited;
  try {
    held?.end();
  } catch {
    // The child is gone and so is the pipe's reader.
  }
  await groupGone;
  options.signal?.removeEventListener("abort", onAbort);
  const code = child.exitCode ?? 128 + signalNumber(child.signalCode);
  return { code, stdout, stderr, tail };
}

/** Run and return stdout; a non-zero exit becomes a FlkError (exit 1) with the child's last lines. */
export async function runChecked(argv: readonly string[], options: RunOptions = {}): Promise<string> {
  const result = await run(argv, options);
  if (result.code !== 0) {
    const last = result.tail.slice(-15).join("\n");
    throw new FlkError(`\`${argv.join(" ")}\` failed with exit code ${result.code}${last ? `:\n${last}` : ""}`, "E_COMMAND_FAILED", ExitCode.failure);
  }
  return result.stdout;
}

function cleanEnv(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) if (value !== undefined) out[key] = value;
  return out;
}

/**
 * SIGTERM the process group `pgid`, wait (up to `graceMs`) until no process
 * of it is left, then SIGKILL what remains. kill(-pgid, 0) fails with ESRCH
 * once the group is empty; a zombie (exited, not yet reaped) does not count.
 */
export async function stopGroup(pgid: number, graceMs = 10_000): Promise<void> {
  const alive = () => {
    try {
      process.kill(-pgid, 0);
    } catch {
      return false;
    }
    return hasLivingMember(pgid);
  };
  try {
    process.kill(-pgid, "SIGTERM");
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (alive() && Date.now() < deadline) await Bun.sleep(25);
  if (alive()) try { process.kill(-pgid, "SIGKILL"); } catch { /* gone meanwhile */ }
  while (alive() && Date.now() < deadline + 2000) await Bun.sleep(25);
}

/** True while /proc lists a process of group `pgid` that is not a zombie (proc(5): stat fields state, ppid, pgrp after the comm). */
function hasLivingMember(pgid: number): boolean {
  for (const pid of readdirSync("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[2]) === pgid && fields[0] !== "Z") return true;
    } catch {
      // Gone meanwhile.
    }
  }
  return false;
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGPIPE: 13, SIGTERM: 15 };
/** Bun reports the signal by name (newer releases may give its number). */
function signalNumber(signal: string | number | null | undefined): number {
  return typeof signal === "number" ? signal : (signal && SIGNALS[signal]) || 0;
}
