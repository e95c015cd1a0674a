/**
 * Core behaviour of the compiled dist/flk as a user meets it: the Bun it is
 * built with, flk.toml errors, config discovery, --json, help and completion.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, realpathSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FLK, flk } from "../helpers/binary.ts";
import pkg from "../../package.json" with { type: "json" };
import { snapshot } from "../helpers/refusal.ts";

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
    // The site directory is the user's own (a /tmp-style 1777 site directory is itself refused: trust-owners.test.ts); only flk.toml is planted.
    chmodSync(shared, 0o755);
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

  test("a planted flk.toml another user owns is refused (exit 2), also when only its owner may write it; the sudo user's own is read", async () => {
    const shared = own("shared-owner");
    // The site directory is the user's own (a /tmp-style 1777 site directory is itself refused: trust-owners.test.ts); only flk.toml is planted.
    chmodSync(shared, 0o755);
    writeFileSync(join(shared, "flake.nix"), "{ outputs = _: { }; }\n");
    writeFileSync(join(shared, "flk.toml"), 'plugins = ["nix-iso"]\n[nix-iso]\nhosts = "evil"\n');
    chownSync(join(shared, "flk.toml"), 65534, 65534);
    mkdirSync(join(shared, "work"));
    const before = snapshot(shared);
    const r = await flk(["hosts"], { cwd: join(shared, "work"), env: { ...privateTmp(), SUDO_UID: "" } });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain(`${shared}/flk.toml belongs to user id 65534, not to you (root), so someone else could have put it there`);
    expect(r.stderr).not.toContain("evil");
    expect(snapshot(shared)).toEqual(before);
    // `sudo flk …` in that user's own site: the user who ran sudo owns it, so it is read.
    const ok = await flk(["plugins", "--json"], { cwd: join(shared, "work"), env: { ...privateTmp(), SUDO_UID: "65534" } });
    expect(ok.code).toBe(0);
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

describe("the first hour through dist/flk: commands, --json, help", () => {
  const own = (name: string) => mkdtempSync(join(dir, `${name}-`));

  test("a command of a switched-off plugin names the plugin and flk.toml (exit 2)", async () => {
    const site = makeSite(own("off"));
    writeFileSync(join(site, "flk.toml"), 'plugins = ["nix-iso"]\n');
    for (const [command, owner] of [["write", "dd-writer"], ["dd", "dd-writer"], ["ssh", "ssh-keys"], ["lla", "ipv6-lla"]] as const) {
      const r = await flk([command, "x"], { cwd: site });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`\`${command}\` belongs to ${owner}, which is switched off in flk.toml.`);
      expect(r.stderr).toContain(`add "${owner}" to \`plugins = [...]\``);
    }
    const json = await flk(["--json", "write"], { cwd: site });
    expect(JSON.parse(json.stdout)).toEqual({ error: { code: "E_PLUGIN_DISABLED", message: expect.stringContaining("belongs to dd-writer"), exit: 2 } });
  });

  test("under --json every error is one {error:{code,message,exit}} object on stdout, and the human line stays on stderr", async () => {
    const site = makeSite(own("json"));
    const cases: Array<[string[], string, number]> = [
      [["--json", "isp"], "E_UNKNOWN_COMMAND", 2],
      [["--json", "resolve", "a", "b"], "E_USAGE", 2],
      [["--json", "hosts", "--bogus"], "E_USAGE", 2],
      [["--json", "--site", join(site, "nope"), "hosts"], "E_NO_SITE", 2],
      [["--json", "ssh", "NixOS"], "E_NO_JSON", 2],
      [["--json", "completion", "bash"], "E_NO_JSON", 2],
      [["--json", "keys", "lst"], "E_UNKNOWN_COMMAND", 2],
    ];
    for (const [args, code, exit] of cases) {
      const r = await flk(args, { cwd: site });
      expect(r.code).toBe(exit);
      const out = JSON.parse(r.stdout) as { error: { code: string; message: string; exit: number } };
      expect(out.error.code).toBe(code);
      expect(out.error.exit).toBe(exit);
      expect(r.stderr).toContain(out.error.message.split("\n")[0]!);
    }
  });

  test("--verbose shows the site root, the config file and every external command flk runs", async () => {
    const site = makeSite(own("verbose"));
    writeFileSync(join(site, "flk.toml"), "");
    const r = await flk(["--verbose", "lla", "discover", "--iface", "lo"], { cwd: site });
    expect(r.stderr).toContain(`site: ${site}`);
    expect(r.stderr).toContain(`config: ${site}/flk.toml`);
    expect(r.stderr).toMatch(/\$ ip /);
  });

  test("bare `flk keys` and `flk lla` show their help (exit 0); `flk help iso` is iso's help; -v is --version", async () => {
    const site = makeSite(own("help"));
    for (const [args, shows] of [[["keys"], "USAGE flk keys add|list|rm"], [["lla"], "USAGE flk lla eui64|discover|explain"], [["help", "iso"], "USAGE flk iso"], [["help", "keys", "add"], "USAGE flk keys add"]] as const) {
      const r = await flk([...args], { cwd: site });
      expect(r).toMatchObject({ code: 0, stderr: "" });
      expect(r.stdout).toContain(shows);
    }
    expect(await flk(["-v"], { cwd: site })).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: "" });
  });

  test("a mistyped subcommand gets a did-you-mean, extra positional arguments are refused (exit 2, nothing written)", async () => {
    const site = makeSite(own("typo"));
    const before = snapshot(site);
    const typo = await flk(["keys", "lst"], { cwd: site });
    expect(typo.code).toBe(2);
    expect(typo.stderr).toContain("unknown subcommand 'lst' of `flk keys`. Did you mean `list`?");
    const extra = await flk(["keys", "rm", "alice", "bob"], { cwd: site });
    expect(extra.code).toBe(2);
    expect(extra.stderr).toContain("too many arguments for `flk keys rm`: 'bob' (it takes NAME)");
    const lla = await flk(["lla", "eui64", "52:54:00:12:34:56", "extra"], { cwd: site });
    expect(lla.code).toBe(2);
    expect(snapshot(site)).toEqual(before);
  });

  test("flk plugins shows config values as TOML that flk.toml accepts back", async () => {
    const site = makeSite(own("toml"));
    writeFileSync(join(site, "flk.toml"), '[installer]\nlabels = { root = "sys", boot = "ESP", swap = "swap" }\n[ssh-keys]\nusers = ["nixos", "root"]\n');
    const r = await flk(["plugins"], { cwd: site });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('labels = { root = "sys", boot = "ESP", swap = "swap" }');
    expect(r.stdout).toContain('users = ["nixos", "root"]');
    expect(r.stdout).toContain("verify = true");
    const { parse } = await import("smol-toml");
    for (const line of r.stdout.split("\n").filter((l) => l.startsWith("         "))) expect(() => parse(line.trim())).not.toThrow();
  });
});

describe("bash completion of dist/flk", () => {
  test("offers the site's hosts for iso/ssh/install and disk --host, subcommand flags, and writable devices for write", async () => {
    const site = makeSite(mkdtempSync(join(dir, "complete-")));
    writeFileSync(join(site, "hosts", "Laptop.nix"), "{ }\n");
    const script = await flk(["completion", "bash"], { cwd: site });
    expect(script.code).toBe(0);
    writeFileSync(join(site, "flk.bash"), script.stdout);
    const complete = (words: string[]) =>
      Bun.spawnSync(["bash", "-c", `source flk.bash; COMP_WORDS=(${[FLK, ...words].map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length}; _flk; printf '%s\\n' "\${COMPREPLY[@]}"`], { cwd: site })
        .stdout.toString()
        .trim()
        .split("\n")
        .filter(Boolean)
        .sort();
    for (const command of ["iso", "ssh", "install"]) expect(complete([command, ""])).toEqual(["Laptop", "NixOS"]);
    expect(complete(["disk", "/dev/sdz", "--host", "N"])).toEqual(["NixOS"]);
    expect(complete(["keys", "add", "--n"])).toEqual(["--name", "--no-color"]);
    expect(complete(["keys", "l"])).toEqual(["list"]);
    // A loop device is a disk flk may write: it is offered for write's DEVICE.
    const backing = join(site, "stick.img");
    writeFileSync(backing, new Uint8Array(1 << 20));
    const loop = Bun.spawnSync(["losetup", "--find", "--show", backing]).stdout.toString().trim();
    try {
      expect(loop).toMatch(/^\/dev\/loop\d+$/);
      expect(complete(["write", "stick.img", "/dev/lo"])).toContain(loop);
    } finally {
      Bun.spawnSync(["losetup", "-d", loop]);
    }
  });
});
