/**
 * `flk install HOST --hardware-config` for a host that uses nixos-facter:
 * flk evaluates the host (the fixture site's stand-in nixpkgs declares
 * `hardware.facter.reportPath` as nixpkgs nixos/modules/hardware/facter/default.nix
 * does), runs a recording stand-in `nixos-facter` on the target (not packaged
 * for Debian; test/plugins/installer/fixtures.ts says what it mirrors) and
 * writes its report atomically where reportPath points inside the site.
 * Oracles: the file's bytes and JSON, its inode (renamed into place, the old
 * one untouched), git's index and status, what the stand-ins recorded.
 * A reportPath outside the site is refused (exit 2) with the site's git
 * status and tree hash unchanged and nothing run on the target.
 */
import { afterEach, describe, expect } from "bun:test";
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemTest } from "../helpers/require.ts";
import { flk } from "../helpers/binary.ts";
import { install } from "../../plugins/installer/install.ts";
import { createMachine, FACTER_REPORT, machineFlk, sh, useFixtureSite, withPath, writeFacterStandIn, type Machine } from "../plugins/installer/fixtures.ts";
import { copyFixtureSite } from "../helpers/iso.ts";

const test = systemTest(["nix", "git", "losetup", "blkid", "mkfs.ext4", "findmnt", "mount"]);

let machine: Machine | undefined;
afterEach(async () => {
  await machine?.cleanup();
  machine = undefined;
});

const NIX_ENV = { NIX_CONFIG: "substituters =" };
const env = (m: Machine) => ({ ...NIX_ENV, PATH: `${m.bin}:${process.env.PATH}:/usr/sbin:/sbin` });

function writeConfig(m: Machine): void {
  writeFileSync(join(m.site, "flk.toml"), `[installer]\nroot = "${m.root}"\nlabels = { root = "${m.labels.root}", boot = "${m.labels.boot}", swap = "${m.labels.swap}" }\n`, { mode: 0o644 });
}

/** hosts/NixOS.nix with `hardware.facter.reportPath = VALUE;` (a Nix expression). */
function setReportPath(site: string, value: string): void {
  const file = join(site, "hosts", "NixOS.nix");
  writeFileSync(file, readFileSync(file, "utf8").replace("services.openssh.enable = true;", `services.openssh.enable = true;\n  hardware.facter.reportPath = ${value};`));
}

/** A machine with a labelled root, the fixture site (edited), flk.toml, the stand-in nixos-facter. */
async function facterMachine(edit: (site: string) => void): Promise<{ m: Machine; facterCalls: () => string[] }> {
  machine = await createMachine();
  const m = machine;
  await m.disk("ext4", m.labels.root);
  await useFixtureSite(m, (site) => {
    edit(site);
    writeConfig(m);
  });
  return { m, facterCalls: writeFacterStandIn(m) };
}

/** Everything git knows about the site's working tree: status plus a hash of every file in it. */
async function siteState(site: string): Promise<string> {
  const status = (await sh(["git", "-C", site, "status", "--porcelain", "--ignored", "--untracked-files=all"])).stdout;
  const tree = (await sh(["sh", "-c", 'cd "$1" && find . -path ./.git -prune -o -print0 | sort -z | xargs -0 sha256sum 2>/dev/null; find . -path ./.git -prune -o -print | sort', "state", site])).stdout;
  return status + tree;
}

describe("flk install --hardware-config, host with hardware.facter.reportPath: nixos-facter's report lands at reportPath", () => {
  test("compiled flk, locally: stand-in nixos-facter runs as root with no arguments; its JSON replaces hosts/NixOS/facter.json atomically (new inode, old one intact, no temp file) and is git-added; nixos-generate-config never runs", async () => {
    const { m, facterCalls } = await facterMachine((site) => {
      setReportPath(site, "./NixOS/facter.json");
      // The report a host needs to evaluate before its first capture: a placeholder, tracked.
      mkdirSync(join(site, "hosts", "NixOS"), { recursive: true });
      writeFileSync(join(site, "hosts", "NixOS", "facter.json"), "{}\n");
    });
    const file = join(m.site, "hosts", "NixOS", "facter.json");
    // A second name for the old inode: an in-place rewrite would change what it reads.
    linkSync(file, join(m.dir, "old-report"));
    const oldInode = statSync(file).ino;
    const r = await flk(["install", "NixOS", "--hardware-config", "--git-add", "--json"], { cwd: m.site, env: env(m) });
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.steps.map((s: { id: string; status: string }) => [s.id, s.status])).toEqual([
      ["mkdir-root", "ran"], ["mount-root", "ran"], ["facter-report", "ran"], ["nixos-install", "ran"],
    ]);
    expect(report.steps[2].title).toBe("capture the target's hardware report (nixos-facter) for hosts/NixOS/facter.json");
    expect(facterCalls()).toEqual(["0 "]);
    expect(existsSync(join(m.dir, "generate-config.args"))).toBe(false);
    expect(readFileSync(file, "utf8")).toBe(FACTER_REPORT);
    expect(Object.keys(JSON.parse(readFileSync(file, "utf8")))).toEqual(["version", "system", "virtualisation", "uefi", "hardware", "smbios"]);
    expect(statSync(file).ino).not.toBe(oldInode);
    expect(readFileSync(join(m.dir, "old-report"), "utf8")).toBe("{}\n");
    expect(readdirSync(join(m.site, "hosts", "NixOS"))).toEqual(["facter.json"]);
    expect(report.hardwareConfig).toEqual({ backend: "nixos-facter", file, bytes: FACTER_REPORT.length, imported: true, gitAdded: true, warnings: [] });
    expect((await sh(["git", "-C", m.site, "diff", "--cached", "--name-only"])).stdout).toBe("hosts/NixOS/facter.json\n");
    expect((await sh(["git", "-C", m.site, "status", "--porcelain"])).stdout).toBe("M  hosts/NixOS/facter.json\n");
    expect(r.stderr).toContain(`wrote ${file}`);
    expect(m.calls().map((c) => c.argv)).toEqual([["--flake", `${m.site}#NixOS`, "--root", m.root]]);
    expect((await flk(["install", "--undo"], { cwd: m.site, env: env(m) })).code).toBe(0);
    expect(await m.mounted()).toEqual([]);
  }, 120_000);

  test("a hosts/NAME/default.nix host with nixos-facter-modules' facter.reportPath (no report yet); --hardware-backend forces either tool: nixos-facter on a host without reportPath writes hosts/NAME/facter.json and says how to reference it, nixos-generate-config on a facter host writes hardware-configuration.nix", async () => {
    const { m, facterCalls } = await facterMachine((site) => {
      // Stand-in of nix-community/nixos-facter-modules modules/nixos/facter.nix (the options only),
      // imported by the host as that flake's nixosModules.facter would be.
      writeFileSync(join(site, "nixos-facter-modules.nix"), `{ config, lib, ... }:
{
  options.facter = {
    report = lib.mkOption { type = lib.types.attrsOf lib.types.anything; default = if config.facter.reportPath == null then { } else builtins.fromJSON (builtins.readFile config.facter.reportPath); };
    reportPath = lib.mkOption { type = lib.types.nullOr lib.types.path; default = null; };
  };
}
`);
      const other = join(site, "hosts", "Other", "default.nix");
      writeFileSync(other, readFileSync(other, "utf8").replace('time.timeZone = "Europe/Berlin";', 'time.timeZone = "Europe/Berlin";\n  imports = [ ../../nixos-facter-modules.nix ];\n  facter.reportPath = ./facter.json;'));
      setReportPath(site, "./NixOS/facter.json");
    });
    const flkIn = machineFlk(m);
    process.env.NIX_CONFIG = NIX_ENV.NIX_CONFIG;
    const other = await withPath(m.bin, () => install(flkIn, { host: "Other", hardwareConfig: true }));
    expect(other.steps.find((s) => s.id === "facter-report")?.status).toBe("ran");
    expect(readFileSync(join(m.site, "hosts", "Other", "facter.json"), "utf8")).toBe(FACTER_REPORT);
    expect(other.hardwareConfig!.warnings).toEqual([
      `hosts/Other/facter.json is not tracked by git, so Nix cannot see it: run \`git -C ${m.site} add hosts/Other/facter.json\` (or pass --git-add).`,
    ]);
    // Forced nixos-facter on Wired, which sets no reportPath.
    const wired = await withPath(m.bin, () => install(flkIn, { host: "Wired", hardwareConfig: true, hardwareBackend: "nixos-facter" }));
    expect(readFileSync(join(m.site, "hosts", "Wired", "facter.json"), "utf8")).toBe(FACTER_REPORT);
    expect(wired.hardwareConfig!.imported).toBe(false);
    expect(wired.hardwareConfig!.warnings[0]).toBe("hosts/Wired.nix does not set hardware.facter.reportPath, so the host does not use hosts/Wired/facter.json: add `hardware.facter.reportPath = ./Wired/facter.json;` to it (nixpkgs ≥ 25.11; with nixos-facter-modules: facter.reportPath).");
    // Forced nixos-generate-config on NixOS, which uses facter: no nixos-facter run, no nix question asked.
    const before = facterCalls().length;
    const nixos = await withPath(m.bin, () => install(flkIn, { host: "NixOS", hardwareConfig: true, hardwareBackend: "nixos-generate-config" }));
    expect(nixos.steps.map((s) => s.id)).toContain("hardware-config");
    expect(nixos.hardwareConfig!.backend).toBe("nixos-generate-config");
    expect(readFileSync(join(m.site, "hosts", "NixOS", "hardware-configuration.nix"), "utf8")).toContain(`root ${m.root}`);
    expect(existsSync(join(m.site, "hosts", "NixOS", "facter.json"))).toBe(false);
    expect(facterCalls().length).toBe(before);
  }, 120_000);

  test("--dry-run plans the nixos-facter step (needs: the live system when it is not on PATH) and writes nothing", async () => {
    const { m } = await facterMachine((site) => setReportPath(site, "./NixOS/facter.json"));
    renameSync(join(m.bin, "nixos-facter"), join(m.dir, "nixos-facter.away"));
    const before = await siteState(m.site);
    const r = await flk(["install", "NixOS", "--hardware-config", "--dry-run"], { cwd: m.site, env: env(m) });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("capture the target's hardware report (nixos-facter) for hosts/NixOS/facter.json");
    expect(r.stdout).toMatch(/nixos-facter\) for hosts\/NixOS\/facter.json\n {5}sh -c .*\n {5}needs: the live system/);
    expect(await siteState(m.site)).toBe(before);
  }, 120_000);
});

describe("a reportPath flk may not write is refused (exit 2) before anything runs; the site is unchanged", () => {
  for (const [what, value, reason] of [
    ["an absolute path outside the site", '"/etc/facter.json"', "NixOS's hardware.facter.reportPath is /etc/facter.json, outside the site"],
    ["the site's .git directory", "../.git/facter.json", "-source/.git/facter.json, inside the site's .git directory"],
  ] as const) {
    test(`${what}: E_FACTER_PATH, nothing mounted, neither tool run, git status and every file's sha256 unchanged`, async () => {
      const { m, facterCalls } = await facterMachine((site) => setReportPath(site, value));
      const before = await siteState(m.site);
      const r = await flk(["install", "NixOS", "--hardware-config", "--git-add", "--json"], { cwd: m.site, env: env(m) });
      expect(r.code).toBe(2);
      expect(JSON.parse(r.stdout).error.code).toBe("E_FACTER_PATH");
      expect(r.stderr).toContain(reason);
      expect(r.stderr).toContain("Nothing was run or written.");
      expect(await siteState(m.site)).toBe(before);
      expect(facterCalls()).toEqual([]);
      expect(m.calls()).toEqual([]);
      expect(await m.mounted()).toEqual([]);
    }, 120_000);
  }

  test("nixos-facter missing on the target: E_NO_FACTER (exit 2) after the read-only probe, nothing mounted, the site unchanged", async () => {
    const { m } = await facterMachine((site) => setReportPath(site, "./NixOS/facter.json"));
    renameSync(join(m.bin, "nixos-facter"), join(m.dir, "nixos-facter.away"));
    const before = await siteState(m.site);
    const r = await flk(["install", "NixOS", "--hardware-config"], { cwd: m.site, env: env(m) });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("`nixos-facter` is not on PATH on this machine, and NixOS sets hardware.facter.reportPath. Nothing was mounted or changed.");
    expect(r.stderr).toContain("--hardware-backend nixos-generate-config");
    expect(await siteState(m.site)).toBe(before);
    expect(m.calls()).toEqual([]);
    expect(await m.mounted()).toEqual([]);
  }, 120_000);

  test("a symbolic link on the way to reportPath: E_SYMLINK, nothing run, the link's target untouched", async () => {
    const { m, facterCalls } = await facterMachine((site) => setReportPath(site, "./NixOS/facter.json"));
    const elsewhere = join(m.dir, "elsewhere");
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, join(m.site, "hosts", "NixOS"));
    const before = await siteState(m.site);
    const r = await flk(["install", "NixOS", "--hardware-config"], { cwd: m.site, env: env(m) });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("is a symbolic link");
    expect(readdirSync(elsewhere)).toEqual([]);
    expect(await siteState(m.site)).toBe(before);
    expect(facterCalls()).toEqual([]);
    expect(await m.mounted()).toEqual([]);
  }, 120_000);
});

const evalTest = systemTest(["nix", "git"], { root: false });

describe("the live ISO carries nixos-facter when the host uses it (installer's isoModule contribution)", () => {
  evalTest("flk iso HOST --print-module, evaluated over the fixture host with extendModules: nixos-facter in environment.systemPackages for a host with hardware.facter.reportPath, not for one without, and a 24.05 host (no such option) still evaluates", async () => {
    const site = await copyFixtureSite({
      prepare: (dir) => {
        setReportPath(dir, "./NixOS/facter.json");
        mkdirSync(join(dir, "hosts", "NixOS"), { recursive: true });
        writeFileSync(join(dir, "hosts", "NixOS", "facter.json"), "{}\n");
      },
    });
    const state = mkdtempSync(join(tmpdir(), "flk-state-"));
    try {
      const packages = async (host: string, release = "25.11") => {
        const env = { ...NIX_ENV, XDG_STATE_HOME: state, FLK_FIXTURE_NIXPKGS: release };
        const printed = await flk(["iso", host, "--print-module"], { cwd: site, env });
        expect(printed.code).toBe(0);
        const module = join(state, `${host}-${release}.nix`);
        writeFileSync(module, printed.stdout);
        const expr = `map (p: p.name) ((builtins.getFlake "git+file://${site}").nixosConfigurations.${host}.extendModules { modules = [ ${module} ]; }).config.environment.systemPackages`;
        const r = await sh(["env", ...Object.entries(env).map(([k, v]) => `${k}=${v}`), "nix", "--extra-experimental-features", "nix-command flakes", "eval", "--impure", "--json", "--expr", expr]);
        expect(r.stderr.split("\n").filter((l) => l.startsWith("error")).join("\n")).toBe("");
        return JSON.parse(r.stdout) as string[];
      };
      expect(await packages("NixOS")).toContain("nixos-facter-fixture");
      expect(await packages("Other")).not.toContain("nixos-facter-fixture");
      expect(await packages("Other", "24.05")).not.toContain("nixos-facter-fixture");
    } finally {
      rmSync(site, { recursive: true, force: true });
      rmSync(state, { recursive: true, force: true });
    }
  }, 120_000);
});
