/**
 * The first errors a new user meets, through dist/flk: each says what to do
 * next, exits 2, and leaves nothing behind.
 */
import { afterAll, describe, expect } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FLK, flk } from "../helpers/binary.ts";
import { systemTest } from "../helpers/require.ts";

const dir = mkdtempSync(join(tmpdir(), "flk-first-"));
chmodSync(dir, 0o755);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Run dist/flk as nobody (uid 65534), as an operator who forgot sudo. */
async function asNobody(args: string[], cwd: string) {
  const child = Bun.spawn(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", FLK, ...args], { cwd, stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1" } });
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { code: await child.exited, stdout, stderr };
}

describe("first contact", () => {
  const site = join(dir, "site");
  mkdirSync(join(site, "hosts"), { recursive: true });
  writeFileSync(join(site, "flake.nix"), "{ outputs = _: { }; }\n");
  writeFileSync(join(site, "hosts", "default.nix"), "{ }\n");

  systemTest([], { root: false })("outside a flake: says to run flk inside one or pass --site", async () => {
    const r = await flk(["iso", "NixOS"], { cwd: dir });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`no flake.nix in ${dir} or any directory above it. Run flk inside your NixOS flake`);
    expect(r.stderr).toContain("or pass --site DIR");
  });

  systemTest([], { root: false })("a site without hosts: says how to add one", async () => {
    const r = await flk(["iso", "NixOS"], { cwd: site });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("Add one, e.g. hosts/NixOS.nix.");
  });

  systemTest([], { root: false })("nix missing: says how to install it", async () => {
    writeFileSync(join(site, "hosts", "NixOS.nix"), "{ }\n");
    try {
      const r = await flk(["iso", "NixOS"], { cwd: site, env: { PATH: "/nonexistent" } });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("`nix` is not installed or not on PATH. Install it with `apt-get install nix-bin`");
    } finally {
      rmSync(join(site, "hosts", "NixOS.nix"));
    }
  });

  systemTest(["setpriv", "losetup"])("flk write without root: says to use sudo, writes nothing", async () => {
    const iso = join(dir, "image.iso");
    // An ISO9660 signature at 0x8001, so only the permission is in the way.
    const bytes = new Uint8Array(64 * 1024);
    bytes.set(new TextEncoder().encode("CD001"), 0x8001);
    writeFileSync(iso, bytes);
    const backing = join(dir, "stick.img");
    writeFileSync(backing, new Uint8Array(1 << 20));
    const loop = Bun.spawnSync(["losetup", "-f", "--show", backing]).stdout.toString().trim();
    try {
      const r = await asNobody(["write", iso, loop], dir);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("Nothing was written. Run as root (sudo flk write …).");
      expect(Bun.spawnSync(["cmp", "-n", String(1 << 20), loop, "/dev/zero"]).exitCode).toBe(0);
    } finally {
      Bun.spawnSync(["losetup", "-d", loop]);
    }
  });

  systemTest(["setpriv"])("flk install without root: says to use sudo (or --dry-run), mounts nothing", async () => {
    writeFileSync(join(site, "hosts", "NixOS.nix"), "{ }\n");
    try {
      const r = await asNobody(["install", "NixOS"], site);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("flk install must run as root");
      expect(r.stderr).toContain("Run it with sudo, or use --dry-run to see the plan.");
    } finally {
      rmSync(join(site, "hosts", "NixOS.nix"));
    }
  });

  systemTest([], { root: false })("nothing was left in the site by any of these", () => {
    expect(readdirSync(site).sort()).toEqual(["flake.nix", "hosts"]);
  });
});
