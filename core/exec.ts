/**
 * Spawn helpers over Bun.spawn: captured or streamed output, exit status, and
 * a FlkError that names the package when a program is missing.
 */
import { ExitCode, FlkError } from "./errors.ts";

/** Which package brings a program, for the "not installed" message (Debian names; NixOS in parentheses). */
const PROVIDERS: Record<string, string> = {
  nix: "`apt-get install nix-bin` on Debian/Ubuntu, or the installer at nixos.org/download",
  "nix-instantiate": "`apt-get install nix-bin` on Debian/Ubuntu, or the installer at nixos.org/download",
  xorriso: "`apt-get install xorriso` (nixpkgs: xorriso)",
  "avahi-daemon": "`apt-get install avahi-daemon` (NixOS: services.avahi.enable)",
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
  "nixos-install": "the NixOS live installer (it ships nixos-install); boot the ISO that `flk iso` built",
};

/** The package hint for a program, or a generic one. */
export function providerOf(program: string): string {
  return PROVIDERS[program] ?? `your distribution's package that provides \`${program}\``;
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
  /** Kill the child when this aborts. */
  signal?: AbortSignal;
  /** Lines of output kept for `tail` in stream mode. */
  keepLines?: number;
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
  const stdio = options.stdio ?? "capture";
  const keep = options.keepLines ?? 40;
  const input = options.input === undefined ? undefined : typeof options.input === "string" ? new TextEncoder().encode(options.input) : options.input;
  const child = Bun.spawn([resolved, ...args], {
    cwd: options.cwd,
    env: options.env ? cleanEnv(options.env) : undefined,
    stdin: input ?? (stdio === "inherit" ? "inherit" : "ignore"),
    stdout: stdio === "inherit" ? "inherit" : "pipe",
    stderr: stdio === "inherit" ? "inherit" : "pipe",
  });
  const onAbort = () => child.kill("SIGTERM");
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const tail: string[] = [];
  const collect = async (stream: ReadableStream<Uint8Array> | number | undefined | null, echo: boolean) => {
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
      tail.push(...lines);
      if (tail.length > keep) tail.splice(0, tail.length - keep);
    }
    if (partial) tail.push(partial);
    if (tail.length > keep) tail.splice(0, tail.length - keep);
    return text;
  };
  const echo = stdio === "stream";
  const [stdout, stderr] = await Promise.all([collect(child.stdout, echo), collect(child.stderr, echo)]);
  await child.exited;
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

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGPIPE: 13, SIGTERM: 15 };
/** Bun reports the signal by name (newer releases may give its number). */
function signalNumber(signal: string | number | null | undefined): number {
  return typeof signal === "number" ? signal : (signal && SIGNALS[signal]) || 0;
}
