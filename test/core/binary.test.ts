/**
 * Core behaviour of the compiled dist/flk as a user meets it: the Bun it is
 * built with, flk.toml errors, config discovery, --json, help and completion.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
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

/** Every file under `root` with its sha256 and mode: "nothing changed" means this is equal before and after. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const rel of readdirSync(root, { recursive: true }) as string[]) {
    const path = join(root, rel);
    const stat = lstatSync(path);
    out[rel] = stat.isFile() ? `${stat.mode.toString(8)} ${new Bun.CryptoHasher("sha256").update(readFileSync(path)).digest("hex")}` : `${stat.mode.toString(8)}`;
  }
  return out;
}

/** A site: flake.nix and hosts/NixOS.nix under `root`. */
function makeSite(root: string): string {
  mkdirSync(join(root, "hosts"), { recursive: true });
  writeFileSync(join(root, "flake.nix"), "{ outputs = _: { }; }\n");
  writeFileSync(join(root, "hosts", "NixOS.nix"), "{ }\n");
  return root;
}

describe("config comes from the site (attacks through dist/flk)", () => {
  const own = (name: string) => mkdtempSync(join(dir, `${name}-`));
  const privateTmp = () => ({ TMPDIR: own("tmp") });

  test("a planted ../flk.toml with a flake.nix beside it is not read: the site's own hosts and defaults are used", async () => {
    const parent = own("parent");
    writeFileSync(join(parent, "flake.nix"), "{ outputs = _: { }; }\n");
    writeFileSync(join(parent, "flk.toml"), 'plugins = ["nix-iso"]\n[nix-iso]\nhosts = "evil"\n');
    mkdirSync(join(parent, "evil"));
    writeFileSync(join(parent, "evil", "Evil.nix"), "{ }\n");
    const site = makeSite(join(parent, "site"));
    const before = snapshot(parent);
    const hosts = await flk(["hosts"], { cwd: join(site, "hosts"), env: privateTmp() });
    expect(hosts).toMatchObject({ code: 0, stderr: "" });
    expect(hosts.stdout).toContain("NixOS");
    expect(hosts.stdout).not.toContain("Evil");
    const plugins = await flk(["plugins", "--json"], { cwd: site, env: privateTmp() });
    expect(plugins.code).toBe(0);
    expect((JSON.parse(plugins.stdout) as Array<{ enabled: boolean }>).every((p) => p.enabled)).toBe(true);
    expect(snapshot(parent)).toEqual(before);
  });

  test("a planted /tmp-style flk.toml that anyone may write is refused (exit 2, the chmod fix), and nothing changes", async () => {
    const shared = own("shared-tmp");
    chmodSync(shared, 0o1777);
    writeFileSync(join(shared, "flake.nix"), "{ outputs = _: { }; }\n");
    writeFileSync(join(shared, "flk.toml"), 'plugins = ["nix-iso"]\n[nix-iso]\nhosts = "evil"\n');
    chmodSync(join(shared, "flk.toml"), 0o666);
    mkdirSync(join(shared, "work"));
    const before = snapshot(shared);
    const r = await flk(["hosts"], { cwd: join(shared, "work"), env: privateTmp() });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`${shared}/flk.toml may be written by its group and every user (mode 0666)`);
    expect(r.stderr).toContain(`Fix: chmod go-w ${shared}/flk.toml`);
    expect(snapshot(shared)).toEqual(before);
  });

  test("a 10 MB flk.toml is refused at once, before parsing (exit 2)", async () => {
    const site = makeSite(own("big"));
    writeFileSync(join(site, "flk.toml"), Array.from({ length: 500_000 }, (_, i) => `k${i} = ${i}`).join("\n"));
    const before = snapshot(site);
    const started = performance.now();
    const r = await flk(["plugins"], { cwd: site, env: privateTmp() });
    expect(performance.now() - started).toBeLessThan(2000);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("a flk.toml may be at most 1048576 bytes (1 MiB). It was not parsed.");
    expect(snapshot(site)).toEqual(before);
  });

  test("an error about a flk.toml that is a symlink elsewhere never quotes the file it points at", async () => {
    const secrets = own("secrets");
    writeFileSync(join(secrets, "token.toml"), '[ssh-keys]\nusers = "SECRET-TOKEN-4711"\n');
    writeFileSync(join(secrets, "id_ed25519"), "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n");
    chmodSync(join(secrets, "id_ed25519"), 0o600);
    for (const [target, secret] of [["token.toml", "SECRET-TOKEN-4711"], ["id_ed25519", "b3BlbnNzaC1rZXk"]] as const) {
      const site = makeSite(own("linked"));
      symlinkSync(join(secrets, target), join(site, "flk.toml"));
      const r = await flk(["plugins"], { cwd: site, env: privateTmp() });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`${site}/flk.toml`);
      expect(r.stderr + r.stdout).not.toContain(secret);
      expect(r.stderr + r.stdout).not.toContain("BEGIN");
    }
  });

  test("a bad --site is reported as such, before any other error (exit 2)", async () => {
    const nowhere = join(own("nosite"), "missing");
    for (const args of [["ssh", "NixOS"], ["hosts"], ["plugins"], ["iso", "NixOS", "--dry-run"]]) {
      const r = await flk(["--site", nowhere, ...args], { cwd: dir, env: privateTmp() });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`--site ${nowhere}: there is no flake.nix in ${nowhere}`);
      expect(r.stderr).not.toContain("pinHostKey");
    }
  });
});
