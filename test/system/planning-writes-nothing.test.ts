/**
 * Planning is pure (DESIGN.md "Trust rules", issue 14 item 7): `flk iso
 * --print-module`, `flk iso --dry-run` and `flk install --script`, run as a
 * user types them (dist/flk), leave the site, the temp dir and flk's state
 * dir exactly as they were — no host key, no module file, no temp dir. Each
 * run gets its own TMPDIR and XDG_STATE_HOME, listed before and after.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { copyFixtureSite, fixtureNixEnv } from "../helpers/iso.ts";
import { systemTest } from "../helpers/require.ts";
import { flk } from "../helpers/binary.ts";
import { sh } from "../plugins/ssh-keys/helpers.ts";

const it = systemTest(["nix", "git", "ssh-keygen"], { root: false });

let site: string;
let scratch: string;
beforeAll(async () => {
  site = await copyFixtureSite({ toml: 'plugins = ["nix-iso", "mdns", "ipv6-lla", "ssh-keys", "installer"]\n' });
  scratch = mkdtempSync(join(tmpdir(), "flk-planning-"));
}, 60_000);
afterAll(() => {
  rmSync(site, { recursive: true, force: true });
  rmSync(scratch, { recursive: true, force: true });
});

/** Every entry under `dir` with its type, mode and content hash (links by target): the "nothing changed" oracle. */
function listing(dir: string, at = ""): string[] {
  if (!existsSync(join(dir, at))) return ["(absent)"];
  return readdirSync(join(dir, at)).sort().flatMap((name) => {
    const rel = at ? `${at}/${name}` : name;
    const path = join(dir, rel);
    const stat = lstatSync(path);
    const mode = (stat.mode & 0o7777).toString(8);
    if (stat.isSymbolicLink()) return [`${rel} -> ${readlinkSync(path)}`];
    if (stat.isDirectory()) return [`${rel}/ ${mode}`, ...listing(dir, rel)];
    return [`${rel} ${mode} ${createHash("sha256").update(readFileSync(path)).digest("hex")}`];
  });
}

/**
 * [name, argv, exit codes that count as done]. `install --script` on a
 * machine without the labelled filesystems refuses (exit 2) today; either
 * way it must write nothing.
 */
const CASES: Array<[string, string[], number[]]> = [
  ["flk iso NixOS --print-module", ["iso", "NixOS", "--print-module"], [0]],
  ["flk iso --all --print-module", ["iso", "--all", "--print-module"], [0]],
  ["flk iso NixOS --dry-run", ["iso", "NixOS", "--dry-run"], [0]],
  ["flk iso --all --dry-run --json", ["iso", "--all", "--dry-run", "--json"], [0]],
  ["flk install NixOS --script", ["install", "NixOS", "--script"], [0, 2]],
];

for (const [name, args, codes] of CASES) {
  it(`${name} leaves the site, TMPDIR and the state dir unchanged`, async () => {
    const tmp = mkdtempSync(join(scratch, "tmp-"));
    const state = mkdtempSync(join(scratch, "state-"));
    const before = { site: listing(site), git: sh(["git", "-C", site, "status", "--porcelain", "--ignored", "--untracked-files=all"]), tmp: listing(tmp), state: listing(state) };
    const ran = await flk(args, { cwd: site, env: { ...fixtureNixEnv(), TMPDIR: tmp, XDG_STATE_HOME: state } });
    expect([name, codes.includes(ran.code) ? "expected exit" : `exit ${ran.code}: ${ran.stderr}`]).toEqual([name, "expected exit"]);
    const after = { site: listing(site), git: sh(["git", "-C", site, "status", "--porcelain", "--ignored", "--untracked-files=all"]), tmp: listing(tmp), state: listing(state) };
    expect(after).toEqual(before);
  }, 120_000);
}


it("--print-module names the host key by its state-dir path, which the plan did not create", async () => {
  const state = mkdtempSync(join(scratch, "state-"));
  const ran = await flk(["iso", "NixOS", "--print-module"], { cwd: site, env: { ...fixtureNixEnv(), XDG_STATE_HOME: state } });
  expect(ran.code).toBe(0);
  const path = /builtins\.path \{ path = \/\. \+ "([^"]+\/ssh_host_ed25519_key)"/.exec(ran.stdout)?.[1];
  expect(path?.startsWith(join(state, "flk", "sites"))).toBe(true);
  expect(existsSync(path!)).toBe(false);
  expect(ran.stdout).not.toContain("secrets/hosts/");
}, 120_000);
