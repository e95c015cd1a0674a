/**
 * bench/dd-writer-sticks: one `flk write IMAGE DEV1 DEV2` (one read of the
 * image, both sticks written and verified in parallel) against two single
 * `flk write IMAGE DEVn` in a row, 1 GiB random image, two loop devices
 * backed by files, measured A B A B in one run (each run after `sync`).
 * Target (DESIGN.md "Performance"): ratio ≤ 0.7.
 *
 * The backing files live in /dev/shm by default (BENCH_DIR overrides): two
 * real sticks on two ports each have their own write bandwidth, while two
 * loop devices backed by files on one disk share that disk's — with
 * BENCH_DIR=/tmp the parallel write is bound by the one virtio disk here.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { median, timeSynced, writeRandomImage } from "./lib.ts";
import { mustSync } from "../test/helpers/sh.ts";

const SIZE = 1 << 30;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const FLK = process.env.FLK_BIN ?? join(import.meta.dir, "..", "dist", "flk");
const TARGET = 0.7;
const BASE = process.env.BENCH_DIR ?? "/dev/shm";

/** Run the benchmark, print the table; returns the ratio (parallel / in a row). */
export async function main(): Promise<number> {
  if (process.getuid?.() !== 0) throw new Error("bench/dd-writer-sticks needs root (losetup)");
  const dir = mkdtempSync(join(BASE, "flk-bench-sticks-"));
  const devices: string[] = [];
  try {
    const image = join(dir, "random.iso");
    writeRandomImage(image, SIZE);
    for (const name of ["a.img", "b.img"]) {
      mustSync(["truncate", "-s", String(SIZE + (64 << 20)), join(dir, name)]);
      devices.push(mustSync(["losetup", "-f", "--show", join(dir, name)]).trim());
    }
    const [a, b] = devices as [string, string];
    // Allocate both backing files once, so no timed run pays for it.
    timeSynced([["dd", `if=${image}`, `of=${a}`, "bs=4M", "conv=fsync", "status=none"], ["dd", `if=${image}`, `of=${b}`, "bs=4M", "conv=fsync", "status=none"]]);
    const cases: Record<string, string[][]> = {
      "flk write IMAGE A B (parallel, verified)": [[FLK, "write", image, a, b]],
      "flk write IMAGE A; flk write IMAGE B (in a row, verified)": [[FLK, "write", image, a], [FLK, "write", image, b]],
    };
    const times: Record<string, number[]> = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
    for (let round = 0; round < ROUNDS; round++) for (const [name, argv] of Object.entries(cases)) times[name]!.push(timeSynced(argv));
    const [parallel, row] = Object.keys(cases).map((k) => median(times[k]!)) as [number, number];
    const ratio = parallel / row;
    console.log(`\n1 GiB random image → two loop devices (backing files in ${BASE}), ${ROUNDS} rounds A B A B, seconds\n`);
    console.log("| command | median s | runs |");
    console.log("|---|---:|---|");
    for (const [name, xs] of Object.entries(times)) console.log(`| \`${name}\` | ${median(xs).toFixed(2)} | ${xs.map((x) => x.toFixed(2)).join(" ")} |`);
    console.log(`\nratio parallel / in a row: ${ratio.toFixed(2)} (target ≤ ${TARGET}: ${ratio <= TARGET ? "met" : "NOT met"})`);
    return ratio;
  } finally {
    for (const d of devices) Bun.spawnSync(["losetup", "-d", d]);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) await main();
