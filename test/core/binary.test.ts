/**
 * Core behaviour of the compiled dist/flk as a user meets it: the Bun it is
 * built with, flk.toml errors, config discovery, --json, help and completion.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FLK, flk } from "../helpers/binary.ts";
import pkg from "../../package.json" with { type: "json" };

const dir = realpathSync(mkdtempSync(join(tmpdir(), "flk-core-bin-")));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("dist/flk and its Bun", () => {
  // NixOS runs generic-Linux binaries through the store glibc's loader
  // (stub-ld): Bun finds its embedded payload that way only from 1.3.13 on.
  const loader = "/lib64/ld-linux-x86-64.so.2";
  test("runs when started through an explicit ld.so loader (Bun ≥ 1.3.13)", async () => {
    expect(existsSync(loader)).toBe(true);
    const child = Bun.spawn([loader, FLK, "plugins", "--json"], { cwd: dir, stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
    const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
    expect(stderr).toBe("");
    expect(await child.exited).toBe(0);
    expect((JSON.parse(stdout) as unknown[]).length).toBe(6);
  });
  test("package.json pins Bun ≥ 1.3.13 exactly", () => {
    const [major, minor, patch] = pkg.devDependencies.bun.split(".").map(Number) as [number, number, number];
    expect(pkg.devDependencies.bun).toMatch(/^\d+\.\d+\.\d+$/);
    expect(major * 1e6 + minor * 1e3 + patch).toBeGreaterThanOrEqual(1_003_013);
    expect(pkg.devDependencies["bun-types"]).toBe(pkg.devDependencies.bun);
  });
});

describe("flk.toml syntax errors through dist/flk", () => {
  test("name the file, the line and column of the mistake (exit 2), and echo no line of the file", async () => {
    const site = mkdtempSync(join(dir, "site-"));
    writeFileSync(join(site, "flake.nix"), "{ outputs = _: { }; }\n");
    writeFileSync(join(site, "flk.toml"), 'plugins = ["mdns"]\n\n[mdns\nbackend = "avahi"\n');
    const r = await flk(["plugins"], { cwd: site });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("flk.toml:3:6: invalid TOML: illegal character in key");
    expect(r.stderr).not.toContain("backend");
  });
});
