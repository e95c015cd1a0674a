/**
 * Where a generated script runs: here (`sh -c`) or on the live installer
 * (`ssh … sh -s`, script on stdin). Either way stdout carries the protocol
 * (probe lines or `@flk` markers) and stderr is streamed to ours, so the
 * operator sees nixos-install as it works.
 */
import { requireProgram, run, type FlkError } from "../../core/index.ts";

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
  /** Why ssh failed, from its stderr, when a plugin recognises it (core's sshFailed hook); remote only. */
  explain?: (stderr: string) => FlkError | undefined;
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
    // stdin stays open for the whole run: its EOF on the far side is the hang-up guard's signal.
    run: (script, options) => spawnScript(argv, new TextEncoder().encode(hangUpGuard(script)), { ...options, holdStdin: true }),
  };
}

/**
 * A command that runs over ssh without a terminal outlives its session:
 * sshd sends SIGHUP only through a pty, so killing the local ssh (flk's
 * answer to SIGINT/SIGTERM) would leave nixos-install running on the live
 * side. `ssh -tt` would give a hang-up, but also echo the script and merge
 * stderr into the protocol's stdout. Instead flk keeps ssh's stdin open for
 * the whole run and sends nothing after the script, so the far side reads
 * EOF there exactly when the session ends; a watcher in the script's
 * process group (a non-interactive sh starts no new groups) then stops the
 * group: TERM, and KILL 5 s later. The watcher ignores TERM itself, holds
 * no output descriptor (sshd would wait for it), and is killed when the
 * script exits normally. Steps get /dev/null as stdin, as before (then the
 * pipe was at EOF). The text is one `{ … }` group, so `sh -s` has parsed it
 * all before stdin changes hands.
 */
export function hangUpGuard(script: string): string {
  return [
    "{",
    "exec 4<&0 </dev/null",
    // `read`, a builtin: killing the watcher at a normal end leaves no reader behind.
    "( trap '' HUP INT TERM; while read -r _; do :; done <&4; kill -s TERM 0; sleep 5; kill -s KILL 0 ) >/dev/null 2>&1 &",
    "flk_watch=$!",
    "exec 4<&-",
    "trap 'kill -s KILL $flk_watch 2>/dev/null' EXIT",
    script,
    "}",
    "",
  ].join("\n");
}

/**
 * One spawner for flk (core/exec.ts): the script runs as the leader of its
 * own process group, so SIGINT/SIGTERM stop everything it started
 * (nixos-install, not only sh) and flk waits for the group before it says
 * what is left (DESIGN.md "Processes").
 */
async function spawnScript(argv: string[], stdin: "inherit" | Uint8Array, options: RunScriptOptions & { holdStdin?: boolean } = {}): Promise<ScriptRun> {
  const result = await run(argv, {
    stdio: "capture",
    ...(stdin === "inherit" ? { stdin: "inherit" as const } : { input: stdin, holdStdin: options.holdStdin }),
    processGroup: true,
    // Bun's default is the environment at start-up, not process.env as it is now.
    env: process.env,
    signal: options.signal,
    onStdoutLine: options.onLine,
    echoStderr: options.echo,
  });
  return { code: result.code, stdout: result.stdout, stderrTail: result.stderr.split("\n").filter((l, i, all) => l !== "" || i < all.length - 1).slice(-20) };
}
