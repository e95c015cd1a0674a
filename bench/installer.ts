/**
 * bench/installer: what the preflight costs. `flk install --dry-run` (probe:
 * labels with duplicate detection, mounts, swaps, firmware, os-release,
 * nixos-install, host; then plan and script) against its peer, the lookups
 * an operator types by hand (`blkid -L` per label, findmnt on the root),
 * on three labelled loop devices, A B A B in one run. Two reference rows
 * explain the gap: the same lookups without blkid's cache (what a
 * trustworthy duplicate check costs) and the binary's start-up alone. Needs root (losetup)
 * and the compiled binary ($FLK_BIN, else dist/flk).
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { randomBytes } from "node:crypto";
import { alternate, median, table, timeCommand } from "./lib.ts";
import { mustSync } from "../test/helpers/sh.ts";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 15);
const FLK = process.env.FLK_BIN ?? join(import.meta.dir, "..", "dist", "flk");
const PATH = `${process.env.PATH}:/usr/sbin:/sbin`;

/** A site, a stand-in nixos-install and a flk.toml pointing at the bench's labels and root. */
function writeSite(dir: string, labels: Record<string, string>): { config: string; bin: string } {
  const site = join(dir, "site");
  mkdirSync(join(site, "hosts"), { recursive: true });
  writeFileSync(join(site, "flake.nix"), "{ outputs = _: { nixosConfigurations.NixOS = { }; }; }\n");
  writeFileSync(join(site, "hosts", "NixOS.nix"), "{ }\n");
  const table = Object.entries(labels).map(([k, v]) => `${k} = "${v}"`).join(", ");
  writeFileSync(join(site, "flk.toml"), `[installer]\nroot = "${join(dir, "root")}"\nlabels = { ${table} }\n`);
  const bin = join(dir, "bin");
  mkdirSync(bin);
  writeFileSync(join(bin, "nixos-install"), "#!/bin/sh\nexit 0\n");
  chmodSync(join(bin, "nixos-install"), 0o755);
  return { config: join(site, "flk.toml"), bin };
}

/** Run the benchmark and print the table; returns medians (ms) by case. */
export async function main(): Promise<Record<string, number>> {
  if (process.getuid?.() !== 0) throw new Error("bench/installer needs root (losetup, blkid on devices)");
  const dir = mkdtempSync(join(tmpdir(), "flk-bench-inst-"));
  const tag = randomBytes(3).toString("hex");
  const labels = { root: `br${tag}`, boot: `bb${tag}`, swap: `bs${tag}` };
  const devices: string[] = [];
  try {
    for (const [role, label] of Object.entries(labels)) {
      const image = join(dir, `${role}.img`);
      mustSync(["truncate", "-s", "24M", image]);
      const device = mustSync(["losetup", "-f", "--show", image]).trim();
      devices.push(device);
      mustSync(role === "swap" ? ["mkswap", "-L", label, device] : ["mkfs.ext4", "-q", "-L", label, device]);
    }
    const { config, bin } = writeSite(dir, labels);
    const env = { PATH: `${bin}:${PATH}`, NO_COLOR: "1" };
    const lookups = (blkid: string) =>
      `${blkid} -L ${labels.root}; ${blkid} -L ${labels.boot}; ${blkid} -L ${labels.swap}; findmnt ${join(dir, "root")}; test -d /sys/firmware/efi; command -v nixos-install; true`;
    const samples = await alternate(
      {
        "flk install --dry-run": () => timeCommand([FLK, "--site", dirname(config), "--config", config, "install", "NixOS", "--dry-run"], env),
        // What an operator types: blkid -L answers from its cache (/run/blkid), which may be stale.
        "bash: blkid -L ×3, findmnt (by hand)": () => timeCommand(["bash", "-c", lookups("blkid")], env),
        // The same lookups made trustworthy: no cache, as flk's probe does (it scans once for all labels).
        "bash: same, uncached (blkid -c /dev/null)": () => timeCommand(["bash", "-c", lookups("blkid -c /dev/null")], env),
        "flk --version (start-up floor)": () => timeCommand([FLK, "--version"], env),
      },
      ROUNDS,
    );
    console.log(table("flk install --dry-run vs the same lookups by hand (3 labelled loop devices)", samples, "bash: blkid -L ×3, findmnt (by hand)"));
    return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
  } finally {
    for (const device of devices) Bun.spawnSync(["losetup", "-d", device]);
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) await main();
