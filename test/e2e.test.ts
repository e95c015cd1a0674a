/**
 * End to end: the compiled single binary (dist/flk, from `npm run build`),
 * one success and one refusal, exit code and message.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FLK, flk } from "./helpers/binary.ts";
import pkg from "../package.json" with { type: "json" };

const dir = mkdtempSync(join(tmpdir(), "flk-e2e-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("dist/flk", () => {
  test("--version succeeds with the package version", async () => {
    const r = await flk(["--version"], { cwd: dir });
    expect(r).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: "" });
  });

  test("plugins --json lists all six built-in plugins, enabled by default", async () => {
    const r = await flk(["plugins", "--json"], { cwd: dir });
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.stdout) as Array<{ name: string; enabled: boolean }>;
    expect(rows.map((p) => [p.name, p.enabled])).toEqual(
      ["nix-iso", "dd-writer", "mdns", "ipv6-lla", "ssh-keys", "installer"].map((n) => [n, true]),
    );
  });

  test("refuses a flk.toml with an unknown plugin: exit 2 and a did-you-mean", async () => {
    // flk.toml is read from the site root: the directory with flake.nix.
    const site = join(dir, "site");
    mkdirSync(site, { recursive: true });
    writeFileSync(join(site, "flake.nix"), "{ outputs = _: { }; }\n");
    writeFileSync(join(site, "flk.toml"), 'plugins = ["nix-iso", "mnds"]\n');
    const r = await flk(["plugins"], { cwd: site });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("flk.toml: plugins: unknown plugin 'mnds'. Did you mean `mdns`?");
    expect(r.stdout).toBe("");
  });

  test("ignores a .env and bunfig.toml in the working directory (they must not change flk's environment)", async () => {
    const cwd = join(dir, "dotenv");
    mkdirSync(cwd, { recursive: true });
    writeFileSync(join(cwd, ".env"), "FLK_CONFIG=/nonexistent/flk.toml\n");
    writeFileSync(join(cwd, "bunfig.toml"), 'preload = ["./nope.ts"]\n');
    const r = await flk(["plugins", "--json"], { cwd });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  test("no arguments prints the five-step story and the commands", async () => {
    const r = await flk([], { cwd: dir });
    expect(r.code).toBe(0);
    for (const step of ["flk keys add", "flk iso NixOS", "flk write", "flk ssh NixOS", "flk install NixOS"]) expect(r.stdout).toContain(step);
    expect(r.stdout).toContain("COMMANDS");
  });

  test("runs alone: copied into an empty directory and started with an empty environment", async () => {
    const lone = join(dir, "lone");
    rmSync(lone, { recursive: true, force: true });
    mkdirSync(lone);
    copyFileSync(FLK, join(lone, "flk"));
    const child = Bun.spawn(["env", "-i", "./flk", "--version"], { cwd: lone, stdout: "pipe", stderr: "pipe" });
    expect(await new Response(child.stdout).text()).toBe(`${pkg.version}\n`);
    expect(await child.exited).toBe(0);
  });
});
