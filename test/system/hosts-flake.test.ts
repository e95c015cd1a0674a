/**
 * Host names come from the flake, for every command that takes one
 * (core/hosts.ts), through dist/flk as a user types it: a host defined only
 * in flake.nix's nixosConfigurations (no hosts/ file) is accepted by
 * `flk ssh`, `flk install` (here and over --target) and `flk disk --host`;
 * a wrong-case name is refused with a did-you-mean before any packet or
 * disk work; without nix, or with a flake that does not evaluate, the
 * hosts/ answer stands and the refusal says why the flake was not asked.
 * Every refusal leaves the site as it was (no flake.lock, nothing else).
 */
import { afterAll, describe, expect } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { flk } from "../helpers/binary.ts";
import { Cleanups } from "../helpers/cleanups.ts";
import { attachLoop } from "../helpers/live-installer.ts";
import { snapshot } from "../helpers/refusal.ts";
import { systemTest } from "../helpers/require.ts";
import { must } from "../helpers/sh.ts";

const test = systemTest(["nix", "git", "losetup", "mkfs.ext4", "blkid"]);
const dir = mkdtempSync(join(tmpdir(), "flk-hosts-flake-"));
chmodSync(dir, 0o755);
const cleanups = new Cleanups();
afterAll(async () => {
  await cleanups.run();
  rmSync(dir, { recursive: true, force: true });
});

/** Offline nix (DESIGN.md "Tests"). */
const env = { NIX_CONFIG: "substituters =", TMPDIR: dir };
/** A label no other test uses, so a dry run finds exactly our filesystem. */
const LABEL = `flkhosts${process.pid % 100000}`;

/**
 * The site: hosts/NixOS.nix (the fast path) and `Laptop`, which exists only
 * in nixosConfigurations. Each configuration has an empty `config`, which is
 * all `flk disk --host` asks of a host without disko.
 */
function makeSite(name: string, flake?: string): string {
  const site = join(dir, name);
  mkdirSync(join(site, "hosts"), { recursive: true });
  writeFileSync(join(site, "hosts", "NixOS.nix"), "{ }\n");
  writeFileSync(
    join(site, "flake.nix"),
    flake ?? "{ outputs = _: { nixosConfigurations = { NixOS = { config = { }; }; Laptop = { config = { }; }; }; }; }\n",
  );
  writeFileSync(join(site, "flk.toml"), `[installer]\nlabels = { root = "${LABEL}", boot = "${LABEL}b", swap = "${LABEL}s" }\n`);
  return site;
}

/** Run dist/flk and check afterwards that the site is exactly as before. */
async function inSite(site: string, args: string[], extraEnv: Record<string, string> = {}) {
  const before = snapshot(site);
  const started = performance.now();
  const ran = await flk(args, { cwd: site, env: { ...env, ...extraEnv } });
  const ms = performance.now() - started;
  expect(snapshot(site)).toEqual(before);
  return { ...ran, ms };
}

describe("a host only in nixosConfigurations", () => {
  const site = makeSite("plain");
  const git = makeSite("git");

  test("flk ssh Laptop is accepted and goes on to locate the installer (exit 1: nobody answers)", async () => {
    const r = await inSite(site, ["ssh", "Laptop", "--timeout", "300"]);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toContain("unknown host");
    expect(r.stderr).toContain("could not find the live installer of Laptop. Tried:");
  });

  test("…also in a git site (the flake is git+file: only tracked files count)", async () => {
    await must(["git", "-C", git, "init", "-q"]);
    await must(["git", "-C", git, "add", "."]);
    const r = await inSite(git, ["ssh", "Laptop", "--timeout", "300"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("could not find the live installer of Laptop");
  });

  test("flk ssh laptop (wrong case) is refused with a did-you-mean before any packet", async () => {
    const r = await inSite(site, ["ssh", "laptop", "--timeout", "5000"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown host 'laptop'. Did you mean `Laptop`? (host names are case-sensitive) Hosts: Laptop, NixOS.");
    expect(r.stderr).not.toContain("Tried:");
    // A locator would have spent its 5 s budget.
    expect(r.ms).toBeLessThan(3000);
  });

  test("flk install Laptop --dry-run plans the install (exit 0); flk install laptop is refused before the probe", async () => {
    const loop = await attachLoop(join(dir, "root.img"), 64 << 20, cleanups);
    await must(["mkfs.ext4", "-q", "-L", LABEL, loop]);
    const ok = await inSite(site, ["install", "Laptop", "--dry-run", "--json"]);
    expect(ok.code).toBe(0);
    const report = JSON.parse(ok.stdout);
    expect(report.host).toBe("Laptop");
    expect(report.flake).toBe(`${site}#Laptop`);
    expect(report.devices.root.path).toBe(loop);
    const wrong = await inSite(site, ["install", "laptop", "--dry-run"]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain("unknown host 'laptop'. Did you mean `Laptop`?");
    expect(wrong.stderr).not.toContain("labelled");
  });

  test("flk install over --target checks both names before ssh: a wrong-case name is refused, a flake-only one located", async () => {
    const wrong = await inSite(site, ["install", "Lapto", "--target", "root@192.0.2.1", "--dry-run"]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain("unknown host 'Lapto'. Did you mean `Laptop`?");
    expect(wrong.ms).toBeLessThan(3000);
    const name = await inSite(site, ["install", "Laptop", "--target", "nixos@laptop", "--dry-run"]);
    expect(name.code).toBe(2);
    expect(name.stderr).toContain("unknown host 'laptop'. Did you mean `Laptop`?");
    const located = await inSite(site, ["install", "Laptop", "--target", "nixos@Laptop.local", "--dry-run"]);
    expect(located.code).toBe(1);
    expect(located.stderr).toContain("could not find the live installer of Laptop");
  });

  test("flk disk --host: a flake-only host is accepted (dry run), a wrong-case one refused before the disk is judged", async () => {
    const loop = await attachLoop(join(dir, "disk.img"), 300 << 20, cleanups);
    const before = await must(["sha256sum", loop]);
    const ok = await inSite(site, ["disk", loop, "--host", "Laptop", "--dry-run", "--json"]);
    expect(ok.code).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ device: loop, dryRun: true, disko: null });
    // /dev/null is no disk: had the disk been judged first, that would be the refusal.
    const wrong = await inSite(site, ["disk", "/dev/null", "--host", "laptop", "--dry-run"]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toContain("unknown host 'laptop'. Did you mean `Laptop`?");
    expect(await must(["sha256sum", loop])).toBe(before);
  });
});

describe("when the flake cannot be asked, the hosts/ answer stands and flk says why", () => {
  test("nix missing: a name not in hosts/ is refused, naming nix as the reason", async () => {
    const site = makeSite("no-nix");
    const r = await inSite(site, ["ssh", "Laptop"], { PATH: "/nonexistent" });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown host 'Laptop'. Hosts: NixOS.");
    expect(r.stderr).toContain("flk looked only in hosts/: it could not ask the flake for its nixosConfigurations (`nix` is not installed or not on PATH");
  });

  test("a flake that does not evaluate: the refusal carries nix's own words", async () => {
    const site = makeSite("broken", "{ outputs = _: { nixosConfigurations = throw \"flk-test: broken on purpose\"; }; }\n");
    const r = await inSite(site, ["ssh", "Laptop"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown host 'Laptop'. Hosts: NixOS.");
    expect(r.stderr).toContain("it could not ask the flake for its nixosConfigurations (nix could not evaluate the flake path:");
    expect(r.stderr).toContain("flk-test: broken on purpose");
  });
});
