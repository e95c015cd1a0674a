/**
 * Where a generated script runs: here (`sh -c`) or on the live installer
 * (`ssh … sh -s`, script on stdin). Either way stdout carries the protocol
 * (probe lines or `@flk` markers) and stderr is streamed to ours, so the
 * operator sees nixos-install as it works.
 */
import { FlkError, requireProgram } from "../../core/index.ts";

/** The outcome of one script run. */
export interface ScriptRun {
  code: number;
  stdout: string;
  /** Last lines of stderr, for error messages. */
  stderrTail: string[];
}

/** How the script's stdio is handled. */
export interface RunScriptOptions {
  /** Called with each stdout line as it arrives. */
  onLine?: (line: string) => void;
  /** Copy the child's stderr to ours as it arrives (a probe stays quiet). */
  echo?: boolean;
  signal?: AbortSignal;
}

/** A place to run scripts. */
export interface Transport {
  /** For messages: `this machine` or `nixos@fe80::47%eth0`. */
  where: string;
  /** What was tried to get there, for "unreachable" errors. */
  tried: string[];
  run(script: string, options?: RunScriptOptions): Promise<ScriptRun>;
}

/**
 * Run on this machine. stdin stays the terminal: nixos-install asks for the
 * root password only when stdin is a terminal (nixos-install.sh, `[ -t 0 ]`).
 */
export function localTransport(): Transport {
  return {
    where: "this machine",
    tried: [],
    run: (script, options) => spawnScript([requireProgram("sh"), "-c", script, "flk-install"], "inherit", options),
  };
}

/** Where and how to ssh. */
export interface SshSpec {
  /** The ssh program (argv prefix), `["ssh"]` unless a test wraps it. */
  ssh: string[];
  /** Options from the `sshOptions` hook. */
  options: string[];
  /** `user@address[%scope]` */
  destination: string;
  /** The remote command that reads the script from stdin. */
  remoteCommand: string;
  tried: string[];
}

/** ssh exits 255 on its own errors (connection, authentication, host key). */
export const SSH_FAILED = 255;

/** Run on a live installer over ssh: the script goes in on stdin, nothing is copied there. */
export function sshTransport(spec: SshSpec): Transport {
  const argv = [...spec.ssh, ...spec.options, spec.destination, spec.remoteCommand];
  return {
    where: spec.destination,
    tried: spec.tried,
    run: (script, options) => spawnScript(argv, new TextEncoder().encode(script), options),
  };
}

async function spawnScript(argv: string[], stdin: "inherit" | Uint8Array, options: RunScriptOptions = {}): Promise<ScriptRun> {
  if (argv[0] && !argv[0].includes("/")) argv = [requireProgram(argv[0]), ...argv.slice(1)];
  let child: Bun.Subprocess<"inherit" | "pipe", "pipe", "pipe">;
  try {
        // env passed explicitly: Bun's default is the environment at start-up, not process.env as it is now.
    child = Bun.spawn(argv, { stdin: stdin === "inherit" ? "inherit" : stdin, stdout: "pipe", stderr: "pipe", env: process.env }) as typeof child;
  } catch (error) {
    throw new FlkError(`cannot start \`${argv[0]}\`: ${(error as Error).message}`, "E_SPAWN", 1, { cause: error });
  }
  const onAbort = () => child.kill("SIGTERM");
  options.signal?.addEventListener("abort", onAbort, { once: true });
  const tail: string[] = [];
  const readers = Promise.all([
    readLines(child.stdout, (line) => options.onLine?.(line)),
    readLines(
      child.stderr,
      (line) => {
        tail.push(line);
        if (tail.length > 20) tail.shift();
      },
      // Raw chunks, not lines: a prompt without a newline must show at once.
      options.echo ? (chunk) => process.stderr.write(chunk) : undefined,
    ),
  ]);
  await child.exited;
  options.signal?.removeEventListener("abort", onAbort);
  const code = child.exitCode ?? 128 + 15;
  // Interrupted: a grandchild (nixos-install) may outlive sh and hold the pipes open; do not wait for it.
  if (options.signal?.aborted) return { code, stdout: "", stderrTail: tail };
  const [stdout] = await readers;
  return { code, stdout, stderrTail: tail };
}

/** Feed each complete line to `onLine` as it arrives; resolve to the whole text. */
async function readLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void, onChunk?: (chunk: Uint8Array) => void): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  let partial = "";
  for await (const chunk of stream) {
    onChunk?.(chunk);
    const piece = decoder.decode(chunk, { stream: true });
    text += piece;
    const lines = (partial + piece).split("\n");
    partial = lines.pop() ?? "";
    for (const line of lines) onLine(line);
  }
  if (partial) onLine(partial);
  return text;
}
