/** Shared benchmark helpers: alternate runs (A B A B …) in one process tree, medians, a table, random images. */
import { closeSync, openSync, writeSync } from "node:fs";
import { mustSync } from "../test/helpers/sh.ts";

/** Median of a list of numbers. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Wall time of one spawned command, in milliseconds. */
export function timeCommand(argv: string[], env?: Record<string, string>): number {
  const start = performance.now();
  const r = Bun.spawnSync(argv, { stdout: "ignore", stderr: "pipe", env: env ? { ...process.env, ...env } : undefined });
  const elapsed = performance.now() - start;
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} exited ${r.exitCode}: ${r.stderr.toString()}`);
  return elapsed;
}

/**
 * Run each case once per round, in the same order every round (A B C A B C …),
 * so drift of the machine hits all cases alike. Returns ms samples per case.
 */
export async function alternate(cases: Record<string, () => number | Promise<number>>, rounds: number, warmup = 2): Promise<Record<string, number[]>> {
  const samples: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
  for (let round = -warmup; round < rounds; round++)
    for (const [name, fn] of Object.entries(cases)) {
      const ms = await fn();
      if (round >= 0) samples[name]!.push(ms);
    }
  return samples;
}

/** Print a markdown table of medians and ratios against `peer`. */
export function table(title: string, samples: Record<string, number[]>, peer: string, unit = "ms"): string {
  const base = median(samples[peer]!);
  const lines = [`### ${title}`, "", `| case | median (${unit}) | ratio vs ${peer} | runs |`, "|---|---:|---:|---:|"];
  for (const [name, values] of Object.entries(samples)) lines.push(`| ${name} | ${median(values).toFixed(1)} | ${(median(values) / base).toFixed(2)} | ${values.length} |`);
  return lines.join("\n");
}

/** `size` random bytes (a multiple of 16 MiB) at `path`, with the MBR boot signature 0x55AA at 510 so flk write takes it for a hybrid ISO. */
export function writeRandomImage(path: string, size: number): void {
  const fd = openSync(path, "w");
  const chunk = new Uint8Array(16 << 20);
  for (let done = 0; done < size; done += chunk.length) {
    for (let i = 0; i < chunk.length; i += 65536) crypto.getRandomValues(chunk.subarray(i, i + 65536));
    if (done === 0) chunk.set([0x55, 0xaa], 510);
    writeSync(fd, chunk);
  }
  closeSync(fd);
}

/** Seconds the commands take in a row, after a `sync` so no earlier write is still being flushed; NO_COLOR keeps flk's output plain. */
export function timeSynced(commands: string[][]): number {
  const plain = { env: { NO_COLOR: "1" } };
  mustSync(["sync"], plain);
  const start = performance.now();
  for (const argv of commands) mustSync(argv, plain);
  return (performance.now() - start) / 1000;
}
