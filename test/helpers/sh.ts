/**
 * One way for tests to run a command: sh() captures, must() insists,
 * shSync()/mustSync() for the few places that cannot await (benchmarks). PATH gains /usr/sbin and
 * /sbin (Debian keeps losetup, sshd, mkfs there; a non-login root shell may
 * lack them).
 */

/** PATH with the sbin directories appended. */
export const SBIN_PATH = `${process.env.PATH}:/usr/sbin:/sbin`;

/** A finished command. */
export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** How to run it. */
export interface ShOptions {
  /** Bytes or text on stdin (default: none). */
  input?: string | Uint8Array;
  /** Added to this process's environment (PATH defaults to SBIN_PATH). */
  env?: Record<string, string>;
  cwd?: string;
}

function spawnOptions(options: ShOptions) {
  const input = typeof options.input === "string" ? new TextEncoder().encode(options.input) : options.input;
  return { cwd: options.cwd, stdin: input ?? ("ignore" as const), stdout: "pipe" as const, stderr: "pipe" as const, env: { ...process.env, PATH: SBIN_PATH, ...options.env } };
}

/** Run argv to completion; never throws for a non-zero exit. */
export async function sh(argv: string[], options: ShOptions = {}): Promise<Ran> {
  const child = Bun.spawn(argv, spawnOptions(options));
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { code: await child.exited, stdout, stderr };
}

/** Run argv; its stdout, or an error naming the command, its exit code and stderr. */
export async function must(argv: string[], options: ShOptions = {}): Promise<string> {
  const r = await sh(argv, options);
  if (r.code !== 0) throw new Error(`${argv.join(" ")} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/** sh() without awaiting. */
export function shSync(argv: string[], options: ShOptions = {}): Ran {
  const r = Bun.spawnSync(argv, spawnOptions(options));
  return { code: r.exitCode ?? 128, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** must() without awaiting (benchmarks time these): its stdout, or an error naming the command, its exit code and stderr. */
export function mustSync(argv: string[], options: ShOptions = {}): string {
  const r = shSync(argv, options);
  if (r.code !== 0) throw new Error(`${argv.join(" ")} failed (exit ${r.code}): ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}
