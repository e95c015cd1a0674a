/**
 * flk on the stick (contract 6): the compiled flk builds the fixture's ISO,
 * and the flk that ISO carries runs where NixOS's stub sits at
 * /lib64/ld-linux-x86-64.so.2 (nixpkgs nixos/modules/config/stub-ld.nix).
 *
 * The "live system" is a mount namespace: the stick's store (the image's
 * /nix-store, the fixture's stand-in for /iso/nix-store.squashfs) bound over
 * /nix/store, as iso-image.nix mounts it, and a directory holding the stub
 * bound over /lib64. The wrapper on PATH must start flk through the store
 * glibc's loader (the fixture's stand-in: the host's loader by its full
 * path) and `flk --version` must print flk's version. Two controls show the
 * test can fail: flk started directly gets the stub (exit 127), and a flk
 * whose payload is damaged (what `strip` does to a Bun binary, oven-sh/bun
 * #20599) prints Bun's version, not flk's.
 */
import { afterAll, beforeAll, describe, expect } from "bun:test";
import { cpSync, existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { flk, FLK } from "../helpers/binary.ts";
import { copyFixtureSite, extractIso, fixtureNixEnv, removeExtracted } from "../helpers/iso.ts";
import { systemTest } from "../helpers/require.ts";
import { STUB_EXIT, stubLoaderDir } from "../helpers/stub-ld.ts";

const it = systemTest(["nix", "xorriso", "git", "unshare", "mount"], { root: true });
const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) removeExtracted(dir);
});

/** Overwrite the `.bun` ELF section (where `bun build --compile` keeps the program) with zeros. */
function zeroBunSection(file: string): void {
  const bytes = readFileSync(file);
  const shoff = Number(bytes.readBigUInt64LE(0x28));
  const shentsize = bytes.readUInt16LE(0x3a);
  const shnum = bytes.readUInt16LE(0x3c);
  const names = shoff + bytes.readUInt16LE(0x3e) * shentsize;
  const namesAt = Number(bytes.readBigUInt64LE(names + 0x18));
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * shentsize;
    const nameAt = namesAt + bytes.readUInt32LE(at);
    if (bytes.toString("latin1", nameAt, nameAt + 5) !== ".bun\0") continue;
    const offset = Number(bytes.readBigUInt64LE(at + 0x18));
    const size = Number(bytes.readBigUInt64LE(at + 0x20));
    bytes.fill(0, offset, offset + size);
    writeFileSync(file, bytes);
    return;
  }
  throw new Error(`${file} has no .bun section`);
}

/** Run argv in a new mount namespace where `store` is /nix/store and /lib64 holds only the stub. */
async function onLiveSystem(store: string, stubDir: string, argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  // The binds come last: after /lib64 is the stub, this Debian's own
  // binaries (mount included) no longer start; `exec` is the shell's builtin.
  const script = 'mount --bind "$1" /nix/store && mount --bind "$2" /lib64 && shift 2 && exec "$@"';
  const child = Bun.spawn(["unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script, "sh", store, stubDir, ...argv], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { code: await child.exited, stdout, stderr };
}

describe("flk on the stick runs where /lib64's loader is NixOS's stub", () => {
  let live: string;
  let wrapper: string;
  let binary: string;
  let stubDir: string;
  beforeAll(async () => {
    expect(existsSync(FLK)).toBe(true);
    const site = await copyFixtureSite({ toml: 'plugins = ["nix-iso"]\n' });
    dirs.push(site);
    const built = await flk(["iso", "NixOS", "--json"], { cwd: site, env: fixtureNixEnv() });
    expect(built.code).toBe(0);
    live = mkdtempSync(join(tmpdir(), "flk-live-"));
    dirs.push(live);
    await extractIso(JSON.parse(built.stdout).hosts[0].iso, join(live, "iso"));
    const config = JSON.parse(readFileSync(join(live, "iso", "flk", "config.json"), "utf8"));
    const flkPackage = (config.environment.systemPackages as string[]).find((p) => /^\/nix\/store\/[a-z0-9]{32}-flk$/.test(p))!;
    wrapper = `${flkPackage}/bin/flk`;
    binary = /exec \S+ (\/nix\/store\/[a-z0-9]{32}-flk-bin) "\$@"/.exec(readFileSync(join(live, "iso", "nix-store", wrapper.slice("/nix/store/".length)), "utf8"))![1]!;
    stubDir = stubLoaderDir();
    dirs.push(stubDir);
  }, 300_000);

  it("the ISO carries flk on PATH as a wrapper around the unmodified binary", () => {
    const onStick = join(live, "iso", "nix-store", binary.slice("/nix/store/".length));
    expect(readFileSync(onStick).equals(readFileSync(FLK))).toBe(true);
    expect(statSync(onStick).mode & 0o111).not.toBe(0);
  });

  it("`flk --version` through the wrapper prints flk's version", async () => {
    const ran = await onLiveSystem(join(live, "iso", "nix-store"), stubDir, [wrapper, "--version"]);
    expect(ran).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: "" });
  });

  it("control: the same binary started directly gets the stub (exit 127, NixOS's message)", async () => {
    const ran = await onLiveSystem(join(live, "iso", "nix-store"), stubDir, [binary, "--version"]);
    expect(ran.code).toBe(STUB_EXIT);
    expect(ran.stderr).toContain("Could not start dynamically linked executable");
  });

  it("control: a flk whose payload is damaged fails the test (it prints Bun's version): zeroed .bun section, and `strip` when present", async () => {
    const damages: Array<[string, (file: string) => void]> = [["zeroed .bun section", zeroBunSection]];
    if (Bun.which("strip")) damages.push(["strip", (file) => expect(Bun.spawnSync(["strip", file]).exitCode).toBe(0)]);
    for (const [what, damage] of damages) {
      const damaged = mkdtempSync(join(tmpdir(), "flk-damaged-store-"));
      dirs.push(damaged);
      cpSync(join(live, "iso", "nix-store"), damaged, { recursive: true });
      const copy = join(damaged, binary.slice("/nix/store/".length));
      Bun.spawnSync(["chmod", "u+w", copy]);
      damage(copy);
      const ran = await onLiveSystem(damaged, stubDir, [wrapper, "--version"]);
      expect({ what, stdout: ran.stdout }).not.toEqual({ what, stdout: `${pkg.version}\n` });
    }
  });
});
