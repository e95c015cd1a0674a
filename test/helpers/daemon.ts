/**
 * One way to start a test daemon (sshd, avahi-daemon, a hand-made
 * responder) and wait until it says it is ready: its output is collected,
 * start fails with that output if it exits or stays silent too long, and
 * stop() ends it (SIGTERM, SIGKILL after a grace period) once.
 */

/** A running daemon. */
export interface Daemon {
  /** Everything it printed so far (stdout and stderr, as they came). */
  log(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; waits for it and runs `cleanup`. Safe to call twice. */
  stop(): Promise<void>;
}

/** What "ready" is and what to tidy after it. */
export interface DaemonOptions {
  /** Named in the error when it does not start, e.g. "sshd in flk-a-123". */
  name: string;
  /** Printed (stdout or stderr) once it serves. */
  ready: RegExp | string;
  /** Default 15 s. */
  timeoutMs?: number;
  /** Between SIGTERM and SIGKILL (default 3 s). */
  graceMs?: number;
  /** After it has exited (e.g. remove its temp dir). */
  cleanup?: () => void;
}

/** Watch an already spawned `child` until it is ready. */
export async function startDaemon(child: Bun.Subprocess<any, "pipe", "pipe">, options: DaemonOptions): Promise<Daemon> {
  let output = "";
  let stopped = false;
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) output += decoder.decode(chunk, { stream: true });
  };
  const pumped = Promise.all([pump(child.stdout), pump(child.stderr)]);
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    child.kill("SIGTERM");
    const exited = await Promise.race([child.exited.then(() => true), Bun.sleep(options.graceMs ?? 3000).then(() => false)]);
    if (!exited) child.kill("SIGKILL");
    await child.exited;
    await pumped.catch(() => {});
    options.cleanup?.();
  };
  const isReady = () => (typeof options.ready === "string" ? output.includes(options.ready) : options.ready.test(output));
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  while (!isReady()) {
    if (child.exitCode !== null || Date.now() > deadline) {
      const why = child.exitCode !== null ? `exit ${child.exitCode}` : `not ready after ${options.timeoutMs ?? 15_000} ms`;
      await stop();
      throw new Error(`${options.name} did not start (${why}):\n${output}`);
    }
    await Bun.sleep(20);
  }
  return { log: () => output, stop };
}
