/**
 * bench/dd-writer: 1 GiB of random data (with a boot signature, so it passes
 * as a hybrid image) to a loop device backed by a file under /tmp, measured
 * A B A B in one run. Each timed run starts after `sync`, so no run pays for
 * the previous one's dirty pages. Medians of ROUNDS runs, ratios against
 * dd as the devos README used it and as it should have been used.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mustSync } from "../test/helpers/sh.ts";
import { timeSynced, writeRandomImage } from "./lib.ts";

const SIZE = 1 << 30;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const FLK = process.env.FLK_BIN ?? join(import.meta.dir, "..", "dist", "flk");
/**
 * BENCH_LOOP_DIO=1: the loop device does direct I/O on its backing file, so
 * a flush reaches the disk as on a real stick instead of stopping in the
 * backing file's page cache.
 */
const DIRECT_IO = process.env.BENCH_LOOP_DIO === "1";

interface Variant {
  name: string;
  argv: (image: string, device: string) => string[][];
}

const VARIANTS: Variant[] = [
  { name: "flk write --no-verify", argv: (i, d) => [[FLK, "write", i, d, "--no-verify"]] },
  { name: "dd bs=4M conv=fsync", argv: (i, d) => [["dd", `if=${i}`, `of=${d}`, "bs=4M", "conv=fsync", "status=none"]] },
  { name: "dd bs=4M oflag=sync", argv: (i, d) => [["dd", `if=${i}`, `of=${d}`, "bs=4M", "oflag=sync", "status=none"]] },
  { name: "flk write (verify)", argv: (i, d) => [[FLK, "write", i, d]] },
  { name: "dd conv=fsync + cmp", argv: (i, d) => [["dd", `if=${i}`, `of=${d}`, "bs=4M", "conv=fsync", "status=none"], ["cmp", "-n", String(SIZE), i, d]] },
];

/** [what, peer, how the ratio is read, target] */
const COMPARISONS: Array<[string, string, "ratio" | "speedup", number]> = [
  ["flk write --no-verify", "dd bs=4M conv=fsync", "ratio", 1.05],
  ["flk write --no-verify", "dd bs=4M oflag=sync", "speedup", 3],
  ["flk write (verify)", "dd conv=fsync + cmp", "ratio", 1.0],
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Run the benchmark, print the table, return the medians (seconds) by variant. */
export async function main(): Promise<Record<string, number>> {
  if (process.getuid?.() !== 0) throw new Error("bench/dd-writer needs root (losetup)");
  const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), "flk-bench-dd-"));
  let device: string | undefined;
  try {
    const image = join(dir, "random.iso");
    const backing = join(dir, "stick.img");
    writeRandomImage(image, SIZE);
    mustSync(["truncate", "-s", String(SIZE + (64 << 20)), backing]);
    device = mustSync(["losetup", "-f", "--show", ...(DIRECT_IO ? ["--direct-io=on"] : []), backing]).trim();
    timeSynced([["dd", `if=${image}`, `of=${device}`, "bs=4M", "conv=fsync", "status=none"]]); // allocate the backing file's blocks once
    const times: Record<string, number[]> = Object.fromEntries(VARIANTS.map((v) => [v.name, []]));
    for (let round = 0; round < ROUNDS; round++)
      for (const v of VARIANTS) times[v.name]!.push(timeSynced(v.argv(image, device)));
    const medians = Object.fromEntries(Object.entries(times).map(([k, xs]) => [k, median(xs)]));
    printTable(times, medians);
    return medians;
  } finally {
    if (device) Bun.spawnSync(["losetup", "-d", device]);
    rmSync(dir, { recursive: true, force: true });
  }
}

function printTable(times: Record<string, number[]>, medians: Record<string, number>): void {
  console.log(`\n1 GiB random image → loop device (backing file in ${process.env.BENCH_DIR ?? tmpdir()}, loop direct I/O ${DIRECT_IO ? "on" : "off"}), ${ROUNDS} rounds A B A B, median seconds\n`);
  console.log("| command | median s | runs |");
  console.log("|---|---:|---|");
  for (const [name, xs] of Object.entries(times)) console.log(`| \`${name}\` | ${medians[name]!.toFixed(2)} | ${xs.map((x) => x.toFixed(2)).join(" ")} |`);
  console.log("\n| comparison | result | target | met |");
  console.log("|---|---:|---:|---|");
  for (const [what, peer, kind, target] of COMPARISONS) {
    const ratio = medians[what]! / medians[peer]!;
    const [shown, ok] = kind === "ratio" ? [`${ratio.toFixed(2)}×`, ratio <= target] : [`${(1 / ratio).toFixed(2)}× faster`, 1 / ratio >= target];
    console.log(`| \`${what}\` vs \`${peer}\` | ${shown} | ${kind === "ratio" ? `≤ ${target}` : `≥ ${target}× faster`} | ${ok ? "yes" : "no"} |`);
  }
}

if (import.meta.main) await main();
