/**
 * `flk hosts` / `flk iso` end to end: the compiled binary ($FLK_BIN), the
 * real nix, a copy of the fixture site. Success, --json, --all,
 * --print-module, --dry-run, passthrough, and every refusal (exit 2,
 * nothing built) and nix's own failure (exit 1, nix's last lines).
 */
import { afterAll, beforeAll, describe, expect } from "bun:test";
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FLK, flk } from "../helpers/binary.ts";
import { copyFixtureSite, fixtureNixEnv } from "../helpers/iso.ts";
import { systemTest } from "../helpers/require.ts";

const it = systemTest(["nix", "xorriso", "git"], { root: false });
const ONLY_NIX_ISO = 'plugins = ["nix-iso"]\n';
const env = fixtureNixEnv();
const sites: string[] = [];

async function site(prepare?: (dir: string) => void): Promise<string> {
  const dir = await copyFixtureSite({ toml: ONLY_NIX_ISO, prepare });
  sites.push(dir);
  return dir;
}

let main: string;
beforeAll(async () => {
  // A nonce makes the flake source, and so the image, new to the store: the
  // first build below really runs and streams its log.
  main = await site((dir) => writeFileSync(join(dir, "nonce"), crypto.randomUUID()));
});
afterAll(() => {
  for (const dir of sites) rmSync(dir, { recursive: true, force: true });
});

function linkExists(path: string): boolean {
  try {
    return lstatSync(path).isSymbolicLink();
  } catch {
    return false;
  }
}

describe("flk hosts", () => {
  it("lists the fixture's hosts, and as JSON", async () => {
    const text = await flk(["hosts"], { cwd: main, env });
    expect(text.code).toBe(0);
    expect(text.stdout).toBe("NixOS            hosts/NixOS.nix\nOther            hosts/Other/default.nix\nWired            hosts/Wired.nix\n");
    const json = await flk(["hosts", "--json"], { cwd: main, env });
    expect(JSON.parse(json.stdout)).toEqual([
      { name: "NixOS", file: "hosts/NixOS.nix" },
      { name: "Other", file: "hosts/Other/default.nix" },
      { name: "Wired", file: "hosts/Wired.nix" },
    ]);
  });
});

describe("flk iso (success)", () => {
  it("builds NixOS and prints one --json document, the same shape as --dry-run --json's (built fields filled in)", async () => {
    const dry = await flk(["iso", "NixOS", "--dry-run", "--json"], { cwd: main, env });
    expect(dry.code).toBe(0);
    const planned = JSON.parse(dry.stdout);
    const ran = await flk(["iso", "NixOS", "--json"], { cwd: main, env });
    expect(ran.code).toBe(0);
    const doc = JSON.parse(ran.stdout);
    // One shape: the same keys at the top and per host; a dry run only lacks what a build makes.
    expect(Object.keys(doc)).toEqual(["dryRun", "argv", "hosts", "failed"]);
    expect(Object.keys(planned)).toEqual(Object.keys(doc));
    expect(Object.keys(doc.hosts[0])).toEqual(["host", "outLink", "iso", "size", "sha256"]);
    expect(Object.keys(planned.hosts[0])).toEqual(Object.keys(doc.hosts[0]));
    expect([planned.dryRun, doc.dryRun]).toEqual([true, false]);
    expect(planned.hosts[0]).toEqual({ host: "NixOS", outLink: join(main, "result"), iso: null, size: null, sha256: null });
    // The same nix command: the one a build runs, modules inline.
    expect(planned.argv).toEqual(doc.argv);
    expect(doc.failed).toEqual([]);
    expect(doc.hosts).toHaveLength(1);
    const out = doc.hosts[0];
    expect(out.host).toBe("NixOS");
    expect(out.outLink).toBe(join(main, "result"));
    expect(out.iso).toStartWith(join(main, "result", "iso") + "/");
    expect(out.size).toBe(Bun.file(out.iso).size);
    const hasher = new Bun.CryptoHasher("sha256");
    hasher.update(readFileSync(out.iso));
    expect(out.sha256).toBe(hasher.digest("hex"));
    expect(ran.stderr).toContain("nixos-NixOS> xorriso"); // nix's build log (-L) was streamed
  });

  it("--all builds every host with one nix process: a link each, the host in each image's name, the next command for each", async () => {
    const ran = await flk(["iso", "--all", "--out-link", "out", "--verbose"], { cwd: main, env });
    expect(ran.code).toBe(0);
    const links = ["out", "out-1", "out-2"];
    for (const link of links) expect(linkExists(join(main, link))).toBe(true);
    for (const host of ["NixOS", "Other", "Wired"]) {
      const line = new RegExp(`^${host}: (out(?:-[12])?)/iso/nixos-${host}-[^ ]+\\.iso$`, "m").exec(ran.stdout);
      expect(line).not.toBeNull();
      expect(readlinkSync(join(main, line![1]!))).toContain(`-nixos-${host}-`);
    }
    expect(ran.stdout).toMatch(/next {4}flk write out(-[12])?\/iso\/\S+\.iso \/dev\/sdX --sha256 [0-9a-f]{64}/);
  });

  it("--print-module prints the generated module and builds nothing", async () => {
    const ran = await flk(["iso", "NixOS", "--print-module", "--out-link", "pm"], { cwd: main, env });
    expect(ran.code).toBe(0);
    expect(ran.stdout).toStartWith("# The live-installer module for NixOS");
    expect(ran.stdout).toContain(`flake = builtins.getFlake "git+file://${main}";`);
    expect(ran.stdout).toContain('hostName = (lib.mkForce "NixOS");');
    expect(linkExists(join(main, "pm"))).toBe(false);
  });

  it("--print-module of the compiled flk wraps this binary — also when flk itself was started through an explicit loader", async () => {
    const direct = await flk(["iso", "NixOS", "--print-module"], { cwd: main, env });
    expect(direct.stdout).toContain(`builtins.path { path = "${FLK}"; name = "flk-bin"; }`);
    const loader = "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2";
    const child = Bun.spawn([loader, FLK, "iso", "NixOS", "--print-module"], { cwd: main, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
    const text = await new Response(child.stdout).text();
    expect(await child.exited).toBe(0);
    expect(text).toContain(`builtins.path { path = "${FLK}"; name = "flk-bin"; }`);
    expect(text).toContain("exec ${pkgs.stdenv.cc.bintools.dynamicLinker} ${builtins.path");
  });

  it("--dry-run prints the exact nix command: run by a shell it builds the same image", async () => {
    const ran = await flk(["iso", "NixOS", "--dry-run", "--out-link", "dry", "--", "--max-jobs", "1"], { cwd: main, env });
    expect(ran.code).toBe(0);
    const command = ran.stdout.trim();
    expect(command).toStartWith("nix ");
    expect(command).toContain(` build --impure -L --keep-going --out-link ${join(main, "dry")} --expr '`);
    expect(command).toMatch(/\n\}\n' NixOS --max-jobs 1$/);
    // The modules are inline: the command names no file flk would have had to write.
    expect(command).not.toMatch(/\/flk-iso-[0-9a-f]|\(import "/);
    expect(command).toEndWith(" --max-jobs 1");
    expect(linkExists(join(main, "dry"))).toBe(false);
    const sh = Bun.spawn(["sh", "-c", command], { cwd: main, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
    expect(await sh.exited).toBe(0);
    const built = await flk(["iso", "NixOS", "--json", "--out-link", "dry2"], { cwd: main, env });
    const iso = JSON.parse(built.stdout).hosts[0].iso as string;
    expect(readFileSync(iso.replace("/dry2/", "/dry/")).equals(readFileSync(iso))).toBe(true);
  });

  it("passes the arguments after -- to nix unchanged", async () => {
    const ran = await flk(["iso", "NixOS", "--out-link", "pt", "--", "--bogus-nix-flag"], { cwd: main, env });
    expect(ran.code).toBe(1);
    expect(ran.stderr).toContain("--bogus-nix-flag");
    expect(linkExists(join(main, "pt"))).toBe(false);
  });
});

describe("flk iso (refusals: exit 2, nothing built)", () => {
  it("refuses an unknown host with a did-you-mean and the host list", async () => {
    const ran = await flk(["iso", "nixso", "--out-link", "r1"], { cwd: main, env });
    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain("unknown host 'nixso'");
    expect(ran.stderr).toContain("Did you mean `NixOS`?");
    expect(ran.stderr).toContain("Hosts: NixOS, Other, Wired.");
    expect(linkExists(join(main, "r1"))).toBe(false);
  });

  it("refuses a directory without flake.nix", async () => {
    const empty = mkdtempSync(join(tmpdir(), "flk-noflake-"));
    sites.push(empty);
    const ran = await flk(["iso", "NixOS"], { cwd: empty, env });
    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain("no flake.nix in");
    expect(existsSync(join(empty, "result"))).toBe(false);
  });

  it("refuses a host file that the flake has no nixosConfigurations entry for", async () => {
    const ghost = await site((dir) => writeFileSync(join(dir, "hosts/Ghost.nix"), "{ ... }: { }\n"));
    const ran = await flk(["iso", "Ghost"], { cwd: ghost, env });
    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain("hosts/Ghost.nix exists, but the flake has no nixosConfigurations.Ghost (it has: NixOS, Other, Wired)");
    expect(linkExists(join(ghost, "result"))).toBe(false);
  });

  it("refuses when nix is not on PATH, saying how to install it", async () => {
    const ran = await flk(["iso", "NixOS", "--out-link", "r2"], { cwd: main, env: { ...env, PATH: "" } });
    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain("`nix` is not installed or not on PATH");
    expect(ran.stderr).toContain("apt-get install nix-bin");
    expect(linkExists(join(main, "r2"))).toBe(false);
  });
});

describe("flk iso (nix fails: exit 1 with nix's last lines)", () => {
  it("shows nix's evaluation error when the host defines an option the release lacks", async () => {
    const broken = await site((dir) => {
      const file = join(dir, "hosts/NixOS.nix");
      writeFileSync(file, readFileSync(file, "utf8").replace("system.stateVersion", 'services.resolved.extraConfig = "MulticastDNS=yes";\n  system.stateVersion'));
    });
    const ran = await flk(["iso", "NixOS"], { cwd: broken, env });
    expect(ran.code).toBe(1);
    expect(ran.stderr).toContain("nix could not build the ISO of NixOS.");
    expect(ran.stderr).toContain("The option `services.resolved.extraConfig' does not exist");
    expect(linkExists(join(broken, "result"))).toBe(false);
  });
});
