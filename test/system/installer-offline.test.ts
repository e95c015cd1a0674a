/**
 * The offline install decision (DESIGN.md contract 5) with the real `nix
 * hash path` as the oracle: a stick's /etc/flk/live.json (here a temp file
 * handed to the probe) records the host, its toplevel (a real store path
 * made with nix-store --add) and the NAR hash of the flake copy. Same host
 * and same bytes → `nixos-install --system`; anything else, or --rebuild,
 * → `--flake`, and the plan says why. Also: a workstation's --dry-run
 * without root and without nixos-install prints the plan, marking what
 * needs root or the live system.
 */
import { afterEach, describe, expect } from "bun:test";
import { chmodSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { systemTest } from "../helpers/require.ts";
import { FLK } from "../helpers/binary.ts";
import { install } from "../../plugins/installer/install.ts";
import { createMachine, machineFlk, sh, withPath, type Machine } from "../plugins/installer/fixtures.ts";

const test = systemTest(["nix", "nix-store", "losetup", "mkfs.ext4", "blkid", "findmnt", "mount", "setpriv"]);
process.env.NIX_CONFIG = "substituters =";

let machine: Machine | undefined;
afterEach(async () => {
  await machine?.cleanup();
  machine = undefined;
});

async function narHash(dir: string): Promise<string> {
  const r = await sh(["nix", "--extra-experimental-features", "nix-command", "hash", "path", dir]);
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout.trim();
}

/** A stick's record for `host` with a real toplevel in the store and the site's real NAR hash. */
async function record(m: Machine, host: string): Promise<{ file: string; toplevel: string }> {
  const system = join(m.dir, "toplevel-stand-in");
  writeFileSync(system, `stand-in toplevel for ${m.labels.root}\n`);
  const toplevel = (await sh(["nix-store", "--add", system])).stdout.trim();
  const file = join(m.dir, "live.json");
  writeFileSync(file, JSON.stringify({ version: 1, host, toplevel, flake: m.site, narHash: await narHash(m.site), diskoScript: null }));
  return { file, toplevel };
}

describe("offline install from the stick's record", () => {
  test("same host and the flake copy's nix hash path equal to the recorded narHash: nixos-install --system TOPLEVEL runs (stand-in), and --json says why", async () => {
    machine = await createMachine();
    const m = machine;
    await m.disk("ext4", m.labels.root);
    const { file, toplevel } = await record(m, "NixOS");
    const report = await withPath(m.bin, () => install(machineFlk(m), { host: "NixOS", paths: { liveRecord: file } }));
    expect(report.source).toMatchObject({ kind: "system", toplevel });
    expect(report.source!.reason).toContain("built from this very flake copy");
    expect(m.calls()[0]!.argv).toEqual(["--system", toplevel, "--root", m.root]);
  }, 60_000);

  test("--flake instead, each with its reason: --rebuild, another host's stick, a changed flake copy, no record", async () => {
    machine = await createMachine({ hosts: ["NixOS", "Laptop"] });
    const m = machine;
    await m.disk("ext4", m.labels.root);
    const { file } = await record(m, "NixOS");
    const plan = (host: string, extra: object = {}) => withPath(m.bin, () => install(machineFlk(m), { host, dryRun: true, paths: { liveRecord: file }, ...extra }));
    expect((await plan("NixOS", { rebuild: true })).source).toEqual({ kind: "flake", reason: "--rebuild: evaluate the flake" });
    expect((await plan("Laptop")).source!.reason).toBe("the stick was built for NixOS, not Laptop");
    writeFileSync(join(m.site, "hosts", "NixOS.nix"), "{ networking.hostName = \"changed\"; }\n");
    const changed = await plan("NixOS");
    expect(changed.source!.kind).toBe("flake");
    expect(changed.source!.reason).toContain(`${m.site} differs from the flake the stick was built from (nix hash path ${await narHash(m.site)}`);
    expect(changed.steps.find((s) => s.id === "nixos-install")!.argv).toEqual(["nixos-install", "--flake", `${m.site}#NixOS`, "--root", m.root]);
    rmSync(file);
    expect((await plan("NixOS")).source!.reason).toBe(`no ${file} (not a stick built by flk iso)`);
  }, 60_000);
});

describe("a workstation's --dry-run and --script", () => {
  test("compiled flk install --dry-run as a non-root user without nixos-install prints the plan, marking what needs root or the live system (exit 0)", async () => {
    machine = await createMachine();
    const m = machine;
    await m.disk("ext4", m.labels.root);
    chmodSync(m.dir, 0o755);
    writeFileSync(join(m.site, "flk.toml"), `[installer]\nroot = "${m.root}"\nlabels = { root = "${m.labels.root}", boot = "${m.labels.boot}", swap = "${m.labels.swap}" }\n`, { mode: 0o644 });
    const as = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "env", "HOME=/nonexistent", `PATH=/usr/bin:/bin:/usr/sbin:/sbin`];
    const run = (mode: string) => sh(["sh", "-c", `cd '${m.site}' && exec "$@"`, "as-nobody", ...as, FLK, "install", "NixOS", mode]);
    const dry = await run("--dry-run");
    expect(dry.code).toBe(0);
    expect(dry.stdout).toContain(`/dev/disk/by-label/${m.labels.root}`);
    expect(dry.stdout).toContain("needs: root");
    expect(dry.stdout).toContain("needs: root, the live system");
    expect(dry.stderr).toContain("reading labels needs root");
    expect(dry.stderr).toContain("nixos-install is not on PATH");
    const script = await run("--script");
    expect(script.code).toBe(0);
    expect(script.stdout).toContain("#!/bin/sh");
    expect(script.stdout).toContain("nixos-install --flake");
    expect(await m.mounted()).toEqual([]);
  }, 60_000);
});
