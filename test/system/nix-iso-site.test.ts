/**
 * `flk iso` on sites shaped like real ones, with the compiled binary and the
 * real nix: a chain of flake inputs (site -> A -> B, locked), a flake with
 * inputs but no lock, a site path with a space, git missing, several hosts
 * of which one fails.
 */
import { afterAll, beforeAll, describe, expect } from "bun:test";
import { cpSync, existsSync, lstatSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { flk } from "../helpers/binary.ts";
import { copyFixtureSite, extractIso, fixtureNixEnv, removeExtracted } from "../helpers/iso.ts";
import { systemTest } from "../helpers/require.ts";
import { sh } from "../helpers/sh.ts";

const it = systemTest(["nix", "xorriso", "git"], { root: false });
const INPUTS = resolve(import.meta.dir, "..", "fixtures", "inputs");
const env = fixtureNixEnv();
const NIX = ["nix", "--extra-experimental-features", "nix-command flakes"];
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) removeExtracted(dir);
});

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

function isLink(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

/** The fixture's inputs A and B in a temp dir, A pointing at B; returns both paths. */
function inputChain(): { a: string; b: string } {
  const dir = tempDir("flk-inputs-");
  cpSync(INPUTS, dir, { recursive: true });
  const a = join(dir, "a");
  const b = join(dir, "b");
  writeFileSync(join(a, "flake.nix"), readFileSync(join(a, "flake.nix"), "utf8").replaceAll("@B@", b));
  return { a, b };
}

/** flake.nix of the fixture site with input A added (and `inputs` passed to outputs). */
function withInputA(site: string, a: string): void {
  const file = join(site, "flake.nix");
  const text = readFileSync(file, "utf8")
    .replace('description = "flk fixture site";', `description = "flk fixture site";\n  inputs.a.url = "path:${a}";`)
    .replace("outputs = { self }:", "outputs = { self, a }:")
    .replace("devShells.x86_64-linux.default", 'fromInputs = a.value;\n      devShells.x86_64-linux.default');
  writeFileSync(file, text);
}

describe("a site with a chain of path: inputs (site -> A -> B), locked", () => {
  let site: string;
  let chain: { a: string; b: string };
  let ran: { code: number; stdout: string; stderr: string };
  let extracted: string;
  let locked: { a: string; b: string };
  beforeAll(async () => {
    chain = inputChain();
    site = await copyFixtureSite({ toml: 'plugins = ["nix-iso"]\n', prepare: (dir) => withInputA(dir, chain.a) });
    dirs.push(site);
    // nix writes the lock; the lock is committed, as a site keeps it.
    expect((await sh([...NIX, "flake", "lock"], { cwd: site, env })).code).toBe(0);
    expect((await sh(["git", "add", "flake.lock"], { cwd: site, env })).code).toBe(0);
    expect((await sh(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "lock"], { cwd: site, env })).code).toBe(0);
    const paths = await sh([...NIX, "eval", "--impure", "--json", "--expr", `let f = builtins.getFlake "git+file://${site}"; in { a = f.inputs.a.outPath; b = f.inputs.a.inputs.b.outPath; }`], { cwd: site, env });
    locked = JSON.parse(paths.stdout);
    ran = await flk(["iso", "NixOS", "--json"], { cwd: site, env });
    extracted = tempDir("flk-inputs-x-");
    if (ran.code === 0) await extractIso(JSON.parse(ran.stdout).hosts[0].iso, extracted);
  }, 300_000);

  it("puts both A's and B's store paths in the ISO's store contents, and on the stick", () => {
    expect(ran.code).toBe(0);
    const contents = JSON.parse(readFileSync(join(extracted, "flk/store-contents.json"), "utf8")) as string[];
    expect(contents).toContain(locked.a);
    expect(contents).toContain(locked.b);
    expect(existsSync(join(extracted, "nix-store", locked.a.slice("/nix/store/".length), "flake.nix"))).toBe(true);
    expect(existsSync(join(extracted, "nix-store", locked.b.slice("/nix/store/".length), "flake.nix"))).toBe(true);
  });

  it("evaluates the stick's flake copy with no network: inputs' sources gone, no substituters, no registry", async () => {
    // What the live system has: the copy at /iso/devos with its flake.lock and the inputs in the store.
    rmSync(chain.a, { recursive: true, force: true });
    rmSync(chain.b, { recursive: true, force: true });
    const copy = join(extracted, "devos");
    const offline = { NIX_CONFIG: "substituters =\nflake-registry = /nonexistent/registry.json\nsandbox = false" };
    const evaluated = await sh([...NIX, "eval", "--raw", "--offline", `path:${copy}#fromInputs`], { cwd: extracted, env: { ...env, ...offline } });
    expect(evaluated.stderr).not.toContain("error");
    expect(evaluated.stdout).toBe("a+b");
  });
});

describe("a flake with inputs but no flake.lock", () => {
  it("is refused with `nix flake lock` (exit 2), nix's stdout never shown, nothing built", async () => {
    const chain = inputChain();
    const site = await copyFixtureSite({ toml: 'plugins = ["nix-iso"]\n', prepare: (dir) => { withInputA(dir, chain.a); rmSync(join(dir, "flake.lock")); } });
    dirs.push(site);
    const ran = await flk(["iso", "NixOS"], { cwd: site, env });
    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain("flake.nix has inputs (a), but there is no flake.lock: run `nix flake lock`");
    expect(ran.stdout).toBe("");
    expect(isLink(join(site, "result"))).toBe(false);
    expect((await sh(["git", "status", "--porcelain"], { cwd: site, env })).stdout).toBe("");
  });

  it("an untracked flake.lock is named with the git add that makes Nix see it", async () => {
    const chain = inputChain();
    const site = await copyFixtureSite({ toml: 'plugins = ["nix-iso"]\n', prepare: (dir) => { withInputA(dir, chain.a); rmSync(join(dir, "flake.lock")); } });
    dirs.push(site);
    expect((await sh([...NIX, "flake", "lock"], { cwd: site, env })).code).toBe(0);
    // nix itself marks the new lock for git (intent-to-add); a lock written otherwise is untracked.
    expect((await sh(["git", "rm", "-q", "--cached", "flake.lock"], { cwd: site, env })).code).toBe(0);
    const ran = await flk(["iso", "NixOS"], { cwd: site, env });
    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain(`flake.lock exists but is not tracked by git, so Nix does not see it: run \`git -C ${site} add flake.lock\``);
  });
});

describe("a site whose path has a space", () => {
  it("builds: the flake URL is percent-encoded", async () => {
    const parent = tempDir("flk-space-");
    const site = join(parent, "my site");
    const copy = await copyFixtureSite({ toml: 'plugins = ["nix-iso"]\n' });
    dirs.push(copy);
    cpSync(copy, site, { recursive: true });
    const module = await flk(["iso", "NixOS", "--print-module"], { cwd: site, env });
    expect(module.stdout).toContain(`builtins.getFlake "git+file://${parent}/my%20site"`);
    const ran = await flk(["iso", "NixOS", "--json"], { cwd: site, env });
    expect(ran.stderr.slice(-500)).not.toContain("error");
    expect(ran.code).toBe(0);
    expect(JSON.parse(ran.stdout).hosts[0].iso).toStartWith(join(site, "result", "iso") + "/");
  }, 120_000);
});

describe("git missing", () => {
  /** A PATH with nix and xorriso but no git. */
  function pathWithoutGit(): string {
    const bin = tempDir("flk-nogit-bin-");
    for (const tool of ["nix", "xorriso", "nix-store", "nix-instantiate"]) {
      const found = Bun.which(tool);
      if (found) symlinkSync(found, join(bin, tool));
    }
    return bin;
  }

  it("flk iso refuses a site inside a git work tree instead of building it as path: (exit 2, nothing built); flk doctor reports git", async () => {
    const site = await copyFixtureSite({ toml: 'plugins = ["nix-iso"]\n' });
    dirs.push(site);
    const PATH = pathWithoutGit();
    const ran = await flk(["iso", "NixOS"], { cwd: site, env: { ...env, PATH } });
    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain(`is inside the git work tree ${site}, but \`git\` is not installed`);
    expect(isLink(join(site, "result"))).toBe(false);
    const doctor = await flk(["doctor"], { cwd: site, env: { ...env, PATH } });
    expect(doctor.stdout).toMatch(/FAIL\s+git\s+missing \(nix-iso: /);
  });
});

describe("several hosts, one of them failing", () => {
  it("the others still finish with their links; the failing host names itself (exit 1)", async () => {
    const site = await copyFixtureSite({
      toml: 'plugins = ["nix-iso"]\n',
      prepare(dir) {
        // A host whose system cannot be built: its package's builder fails.
        writeFileSync(
          join(dir, "hosts", "Broken.nix"),
          '{ pkgs, ... }: { environment.systemPackages = [ (derivation { name = "fails-on-purpose"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" "echo broken on purpose >&2; exit 3" ]; }) ]; }\n',
        );
        const file = join(dir, "flake.nix");
        writeFileSync(file, readFileSync(file, "utf8").replace('Other = mkHost "Other" ./hosts/Other;', 'Other = mkHost "Other" ./hosts/Other;\n        Broken = mkHost "Broken" ./hosts/Broken.nix;'));
      },
    });
    dirs.push(site);
    const ran = await flk(["iso", "NixOS", "Broken", "Other", "--json"], { cwd: site, env });
    expect(ran.code).toBe(1);
    // The build's document (what was built, what failed), then the error document.
    const [doc, error] = ran.stdout.trim().split("\n").map((line) => JSON.parse(line));
    expect(doc.failed).toEqual(["Broken"]);
    expect(error.error.code).toBe("E_NIX_BUILD");
    const built = doc.hosts as { host: string; iso: string }[];
    expect(built.map((b) => b.host).sort()).toEqual(["NixOS", "Other"]);
    for (const b of built) {
      expect(b.iso).toMatch(new RegExp(`/result(-\\d)?/iso/nixos-${b.host}-[^/]+\\.iso$`));
      expect(existsSync(b.iso)).toBe(true);
    }
    expect(ran.stderr).toContain("nix could not build the ISO of Broken.");
    expect(ran.stderr).toContain("fails-on-purpose");
  }, 300_000);
});


/**
 * systemd.network(5): "The .network files are read … in lexical order of
 * their file names; the first file that matches a link is applied, all
 * later files are ignored" — for the link `iface`, which unit applies.
 * Name= is a space-separated list of shell globs.
 */
function networkdUnitFor(units: Record<string, string>, iface: string): string | undefined {
  const glob = (pattern: string) => new RegExp(`^${pattern.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
  return Object.keys(units)
    .sort()
    .find((name) => {
      const match = /\[Match\]\n((?:[^[].*\n)*)/.exec(units[name]!)?.[1] ?? "";
      const names = [...match.matchAll(/^Name=(.*)$/gm)].flatMap((m) => m[1]!.split(/\s+/));
      return names.some((p) => glob(p).test(iface));
    });
}

describe("a host with networking.interfaces.enp3s0 and a disko layout (fixture host Wired)", () => {
  let built: import("../helpers/iso.ts").FixtureIso;
  beforeAll(async () => {
    const { buildFixtureIso } = await import("../helpers/iso.ts");
    built = await buildFixtureIso({ host: "Wired", toml: 'plugins = ["nix-iso", "mdns", "ipv6-lla"]\n' });
  }, 300_000);
  afterAll(() => built?.cleanup());

  it("the stick has the host's 40-enp3s0 unit (network-interfaces-systemd.nix), and the live unit is the one networkd applies to enp3s0 and eth0", async () => {
    const files = (await built.list()).filter((p) => /^\/etc\/systemd\/network\/[^/]+\.network$/.test(p));
    const units = Object.fromEntries(await Promise.all(files.map(async (f) => [f.split("/").at(-1)!, (await built.read(f))!] as const)));
    expect(units["40-enp3s0.network"]).toContain("Name=enp3s0");
    expect(units["40-enp3s0.network"]).toContain("DHCP=yes");
    const live = Object.keys(units).find((n) => units[n]!.includes("MulticastDNS=true"))!;
    expect(networkdUnitFor(units, "enp3s0")).toBe(live);
    expect(networkdUnitFor(units, "eth0")).toBe(live);
  });

  it("carries the host's disko script and records it in /etc/flk/live.json", async () => {
    const liveJson = JSON.parse((await built.read("/etc/flk/live.json"))!);
    expect(liveJson.host).toBe("Wired");
    expect(liveJson.diskoScript).toMatch(/^\/nix\/store\/[a-z0-9]{32}-disko-Wired$/);
    expect(built.storeContents).toContain(liveJson.diskoScript);
    expect(await built.read(`${liveJson.diskoScript}/bin/disko-Wired`)).toContain("disko stand-in for Wired");
  });
});
