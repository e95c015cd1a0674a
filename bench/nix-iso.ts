/**
 * nix-iso benchmarks (DESIGN.md "Performance"):
 *   1. `flk iso --all --dry-run` on a generated site of 50 hosts and 20 keys:
 *      plan every host (one nix eval, the isoModule waterfall of every
 *      enabled plugin, git checks, rendering). Reported as time.
 *   2. sha256 of a 1 GiB image: Bun's native hasher (what `flk iso` prints)
 *      against `sha256sum`, measured A B A B; target ratio ≥ 2×.
 *   3. `flk iso H1 … H14` (14 distinct fixture hosts, real builds) against
 *      one plain `nix build -f FILE H1 … H14` of the same generated file,
 *      A B A B, each run building new images (FLK_FIXTURE_SALT); target
 *      ≤ 1.05× (issue 17: flk's own work on top of nix's is planning,
 *      start-up and hashing the images).
 * Runs the compiled binary at $FLK_BIN if set, else `bun bin/flk.ts`.
 * Needs nix, git and sha256sum. `bun bench/nix-iso.ts [--size-mib N]`.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, openSync, writeSync, closeSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { randomFillSync } from "node:crypto";
import { copyFixtureSite, fixtureNixEnv } from "../test/helpers/iso.ts";
import { sha256File } from "../core/index.ts";

const ROOT = resolve(import.meta.dir, "..");
const FLK = process.env.FLK_BIN ? [process.env.FLK_BIN] : [process.execPath, join(ROOT, "bin", "flk.ts")];

/** A fixture copy whose flake takes every hosts/*.nix as a host, with `hosts` hosts and `keys` keys, committed. */
export async function generateSite(hosts: number, keys: number): Promise<string> {
  return copyFixtureSite({
    toml: 'plugins = ["nix-iso", "dd-writer", "mdns", "ipv6-lla", "ssh-keys", "installer"]\n',
    prepare(site) {
      for (let i = 1; i <= hosts; i++) writeFileSync(join(site, "hosts", `host${String(i).padStart(2, "0")}.nix`), `{ ... }: { time.timeZone = "UTC"; }\n`);
      mkdirSync(join(site, "secrets", "keys"), { recursive: true });
      for (let i = 1; i <= keys; i++) {
        const blob = Buffer.concat([Buffer.from([0, 0, 0, 11]), Buffer.from("ssh-ed25519"), Buffer.from([0, 0, 0, 32]), randomFillSync(Buffer.alloc(32))]);
        writeFileSync(join(site, "secrets", "keys", `user${i}.pub`), `ssh-ed25519 ${blob.toString("base64")} user${i}@bench\n`);
      }
      // digga's way: every host file is a host.
      const flake = join(site, "flake.nix");
      const text = require("node:fs").readFileSync(flake, "utf8") as string;
      writeFileSync(
        flake,
        text.replace(
          /nixosConfigurations = \{[^}]*\};/s,
          `nixosConfigurations = lib.mapAttrs' (name: _: { name = lib.removeSuffix ".nix" name; value = mkHost (lib.removeSuffix ".nix" name) (./hosts + "/\${name}"); })
          (lib.filterAttrs (name: type: name != "default.nix") (builtins.readDir ./hosts));`,
        ),
      );
    },
  });
}

async function timed(argv: string[], cwd: string, env: Record<string, string | undefined>): Promise<{ ms: number; code: number; stderr: string }> {
  const start = performance.now();
  const child = Bun.spawn(argv, { cwd, env, stdout: "ignore", stderr: "pipe" });
  const stderr = await new Response(child.stderr).text();
  const code = await child.exited;
  return { ms: performance.now() - start, code, stderr };
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

async function benchDryRun(rows: string[][]): Promise<void> {
  const site = await generateSite(50, 20);
  // --dry-run writes nothing; anything flk-iso-… left in /tmp afterwards would be a bug, and is removed.
  const before = new Set(readdirSync(tmpdir()).filter((d) => d.startsWith("flk-iso-")));
  try {
    const env = { ...process.env, ...fixtureNixEnv(), NO_COLOR: "1" };
    // Warm-up: plugins may create site files on first use (ssh-keys' pinned
    // host keys); track them as a user would after flk's `git add` hint.
    await timed([...FLK, "iso", "--all", "--dry-run"], site, env);
    await timed(["git", "add", "-A"], site, env);
    await timed(["git", "-c", "user.name=bench", "-c", "user.email=bench@invalid", "commit", "-qm", "host keys"], site, env);
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const run = await timed([...FLK, "iso", "--all", "--dry-run"], site, env);
      if (run.code !== 0) throw new Error(`flk iso --all --dry-run failed (${run.code}):\n${run.stderr.slice(-2000)}`);
      times.push(run.ms);
    }
    rows.push(["flk iso --all --dry-run (50 hosts, 20 keys)", `${median(times).toFixed(0)} ms`, "-", `median of 3: ${times.map((t) => t.toFixed(0)).join(", ")} ms`]);
  } finally {
    rmSync(site, { recursive: true, force: true });
    for (const d of readdirSync(tmpdir())) if (d.startsWith("flk-iso-") && !before.has(d)) rmSync(join(tmpdir(), d), { recursive: true, force: true });
  }
}

function writeRandom(path: string, mib: number): void {
  const fd = openSync(path, "w");
  const chunk = Buffer.alloc(1 << 20);
  try {
    for (let i = 0; i < mib; i++) writeSync(fd, randomFillSync(chunk));
  } finally {
    closeSync(fd);
  }
}

async function benchHash(rows: string[][], mib: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "flk-bench-hash-"));
  const image = join(dir, "image.iso");
  try {
    writeRandom(image, mib);
    const ours: number[] = [];
    const peer: number[] = [];
    let digests = new Set<string>();
    for (let round = 0; round < 2; round++) {
      let start = performance.now();
      digests.add(await sha256File(image));
      ours.push(performance.now() - start);
      start = performance.now();
      const child = Bun.spawn(["sha256sum", image], { stdout: "pipe" });
      digests.add((await new Response(child.stdout).text()).split(" ")[0]!);
      await child.exited;
      peer.push(performance.now() - start);
    }
    if (digests.size !== 1) throw new Error(`digests differ: ${[...digests].join(" ")}`);
    const ratio = median(peer) / median(ours);
    rows.push([
      `sha256 of ${mib} MiB: Bun.CryptoHasher vs sha256sum`,
      `${median(ours).toFixed(0)} ms vs ${median(peer).toFixed(0)} ms`,
      `${ratio.toFixed(2)}× faster`,
      `target ≥ 2× ${ratio >= 2 ? "met" : "NOT met"} (A B A B: ${ours.map((t, i) => `${t.toFixed(0)}/${peer[i]!.toFixed(0)}`).join(", ")} ms)`,
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** 14 hosts built by `flk iso` and by one plain `nix build` of the same file, A B A B. */
async function benchFleet(rows: string[][], measured = 2): Promise<void> {
  const count = 14;
  const site = await generateSite(count, 0);
  const hosts = Array.from({ length: count }, (_, i) => `host${String(i + 1).padStart(2, "0")}`);
  const made: string[] = [];
  try {
    const env = { ...process.env, ...fixtureNixEnv(), NO_COLOR: "1" };
    // The same build flk runs: its --dry-run prints it, modules inline (--expr), writing nothing.
    const dry = Bun.spawnSync([...FLK, "iso", ...hosts, "--dry-run", "--json", "--out-link", "plain"], { cwd: site, env });
    if (dry.exitCode !== 0) throw new Error(`flk iso --dry-run failed: ${dry.stderr.toString().slice(-2000)}`);
    const plan = JSON.parse(dry.stdout.toString()) as { argv: string[] };
    const ours: number[] = [];
    const peer: number[] = [];
    for (let round = 0; round <= measured; round++) {
      // Round 0 warms both up (the flk binary into the store, the site source).
      const salt = () => ({ ...env, FLK_FIXTURE_SALT: crypto.randomUUID() });
      const a = await timed([...FLK, "iso", ...hosts, "--out-link", `flk-${round}`], site, salt());
      if (a.code !== 0) throw new Error(`flk iso failed (${a.code}):\n${a.stderr.slice(-2000)}`);
      const b = await timed(plan.argv.map((w) => (w.endsWith("/plain") ? join(site, `nix-${round}`) : w)), site, salt());
      if (b.code !== 0) throw new Error(`nix build failed (${b.code}):\n${b.stderr.slice(-2000)}`);
      if (round > 0) {
        ours.push(a.ms);
        peer.push(b.ms);
      }
    }
    const ratio = median(ours) / median(peer);
    rows.push([
      `flk iso of ${count} hosts vs one nix build of the same ${count}`,
      `${median(ours).toFixed(0)} ms vs ${median(peer).toFixed(0)} ms`,
      `${ratio.toFixed(3)}×`,
      `target ≤ 1.05× ${ratio <= 1.05 ? "met" : "NOT met"} (medians; A B A B: ${ours.map((t, i) => `${t.toFixed(0)}/${peer[i]!.toFixed(0)}`).join(", ")} ms; pair ratios ${ours.map((t, i) => (t / peer[i]!).toFixed(2)).join(", ")})`,
    ]);
  } finally {
    // The images are new store paths: drop the links and let nix collect them.
    const links = readdirSync(site).filter((f) => /^(flk|nix)-\d/.test(f)).map((f) => join(site, f));
    const paths = links.map((l) => require("node:fs").readlinkSync(l) as string);
    for (const l of links) rmSync(l);
    if (paths.length) Bun.spawnSync(["nix-store", "--delete", ...paths], { stderr: "ignore", stdout: "ignore" });
    rmSync(site, { recursive: true, force: true });
    for (const d of made) rmSync(d, { recursive: true, force: true });
  }
}

/** Run the benchmarks and print a table. */
export async function main(argv: string[] = process.argv.slice(2)): Promise<string[][]> {
  const at = argv.indexOf("--size-mib");
  const mib = at >= 0 ? Number(argv[at + 1]) : 1024;
  const rows: string[][] = [["benchmark", "result", "ratio", "notes"]];
  const only = argv.includes("--fleet-only");
  if (!only) await benchDryRun(rows);
  if (!only) await benchHash(rows, mib);
  const rounds = argv.indexOf("--fleet-rounds");
  await benchFleet(rows, rounds >= 0 ? Number(argv[rounds + 1]) : 2);
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const row of rows) console.log(row.map((cell, c) => cell.padEnd(widths[c]!)).join("  "));
  return rows;
}

if (import.meta.main) await main();
