/**
 * Who may own what flk trusts (core/owner.ts: you, root, or $SUDO_UID under
 * sudo; nothing group- or world-writable), through dist/flk:
 * - the state directory's host key (B): a key someone else owns, or a key
 *   directory anyone may write, is exit 2 E_STATE_DIR before anything is
 *   pinned or built — never used, never silently chmodded;
 * - the state directory inside the site (C): exit 2, git site or `path:` copy;
 * - the site itself (D): a planted site (directory or flake.nix owned by
 *   another user) is exit 2 E_SITE_OWNER for every command.
 * Each refusal proves nothing changed: known_hosts absent, no result link,
 * modes and `git status` as they were.
 */
import { afterAll, beforeAll, describe, expect } from "bun:test";
import { chmodSync, chownSync, cpSync, existsSync, lstatSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { flk } from "../helpers/binary.ts";
import { copyFixtureSite, fixtureNixEnv } from "../helpers/iso.ts";
import { systemTest } from "../helpers/require.ts";
import { must } from "../helpers/sh.ts";
import { ensureHostKey } from "../../plugins/ssh-keys/hostkey.ts";
import { keygen } from "../plugins/ssh-keys/helpers.ts";

const it = systemTest(["nix", "git", "ssh-keygen"]);
const NOBODY = 65534;
const KNOWN_HOSTS = "secrets/hosts/NixOS/known_hosts";

let dir: string;
let site: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "flk-owners-"));
  site = await copyFixtureSite({ toml: 'plugins = ["nix-iso", "ssh-keys"]\n' });
}, 120_000);
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(site, { recursive: true, force: true });
});

const gitStatus = (root: string) => must(["git", "-C", root, "status", "--porcelain", "--ignored"]);
const iso = (root: string, state: string) => flk(["iso", "NixOS"], { cwd: root, env: { ...fixtureNixEnv(), XDG_STATE_HOME: state } });

describe("B: the installer host key in the state directory", () => {
  it("an attacker's key pair owned by another user (mode 600) is refused (E_STATE_DIR): not pinned, not built", async () => {
    const state = mkdtempSync(join(dir, "state-"));
    const paths = (await ensureHostKey({ XDG_STATE_HOME: state }, site, "NixOS")).paths;
    // Swap in someone else's pair, as they would: their key, their file.
    const attacker = keygen(dir, "attacker", "ed25519", undefined, "attacker");
    renameSync(attacker, paths.privateKey);
    renameSync(`${attacker}.pub`, paths.publicKey);
    chownSync(paths.privateKey, NOBODY, NOBODY);
    chownSync(paths.publicKey, NOBODY, NOBODY);
    chmodSync(paths.privateKey, 0o600);
    const before = await gitStatus(site);
    const ran = await iso(site, state);
    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain(`${paths.privateKey} belongs to user id ${NOBODY}, not to you (root)`);
    expect(ran.stderr).toContain("so flk will not use it. Nothing was written.");
    expect(existsSync(join(site, KNOWN_HOSTS))).toBe(false);
    expect(existsSync(join(site, "result"))).toBe(false);
    expect(await gitStatus(site)).toBe(before);
    // Under sudo, the user who ran it is trusted (same rule as flk.toml): the key is theirs, so it is used.
    const sudo = await ensureHostKey({ XDG_STATE_HOME: state, SUDO_UID: String(NOBODY) }, site, "NixOS");
    expect(sudo.publicLine).toStartWith(readFileSync(paths.publicKey, "utf8").split(" ").slice(0, 2).join(" "));
  }, 120_000);

  it("a key directory anyone may write (0777) is refused, not chmodded: the key may already have been swapped", async () => {
    const state = mkdtempSync(join(dir, "state-"));
    const paths = (await ensureHostKey({ XDG_STATE_HOME: state }, site, "NixOS")).paths;
    const key = readFileSync(paths.privateKey);
    chmodSync(paths.dir, 0o777);
    const ran = await iso(site, state);
    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain(`${paths.dir} may be written by its group and every user (mode 0777)`);
    expect(ran.stderr).toContain(`chmod 700 ${paths.dir}`);
    expect(statSync(paths.dir).mode & 0o777).toBe(0o777);
    expect(readFileSync(paths.privateKey)).toEqual(key);
    expect(existsSync(join(site, KNOWN_HOSTS))).toBe(false);
    expect(existsSync(join(site, "result"))).toBe(false);
  }, 120_000);
});

describe("C: a state directory inside the site", () => {
  for (const kind of ["git", "path: (no .git)"] as const) {
    it(`is refused before a key is made (${kind} site): the private key would be copied onto the stick`, async () => {
      const root = mkdtempSync(join(dir, "site-"));
      cpSync(site, root, { recursive: true });
      if (kind !== "git") rmSync(join(root, ".git"), { recursive: true });
      const state = join(root, ".state");
      const before = kind === "git" ? await gitStatus(root) : "";
      const ran = await iso(root, state);
      expect(ran.code).toBe(2);
      expect(ran.stderr).toContain(`flk's state directory ${state}/flk is inside the site ${root}`);
      expect(ran.stderr).toContain("set XDG_STATE_HOME to a directory of your own elsewhere");
      expect(existsSync(state)).toBe(false);
      expect(existsSync(join(root, KNOWN_HOSTS))).toBe(false);
      expect(existsSync(join(root, "result"))).toBe(false);
      if (kind === "git") expect(await gitStatus(root)).toBe(before);
      // Planning refuses too: --dry-run would name a key inside the site.
      expect((await flk(["iso", "NixOS", "--dry-run"], { cwd: root, env: { ...fixtureNixEnv(), XDG_STATE_HOME: state } })).code).toBe(2);
    }, 120_000);
  }
});

describe("D: a site another user owns", () => {
  it("a planted site (directory and flake.nix owned by nobody) is exit 2 for flk ssh and flk iso, naming the owner and the fix", async () => {
    const planted = mkdtempSync(join(dir, "planted-"));
    cpSync(site, planted, { recursive: true });
    // As found in the wild: no flk.toml (whose own owner check would have caught it), just a flake, hosts and a pin.
    rmSync(join(planted, "flk.toml"));
    await must(["chown", "-R", `${NOBODY}:${NOBODY}`, planted]);
    const below = join(planted, "hosts");
    for (const args of [["ssh", "NixOS", "--timeout", "300"], ["iso", "NixOS"], ["hosts"]]) {
      const ran = await flk(args, { cwd: below, env: fixtureNixEnv() });
      expect([args[0], ran.code]).toEqual([args[0], 2]);
      expect(ran.stderr).toContain(`${planted} belongs to user id ${NOBODY}, not to you (root)`);
      expect(ran.stderr).toContain("pass --site DIR (a directory you own");
      expect(ran.stderr).not.toContain("could not find the live installer");
    }
    expect(existsSync(join(planted, KNOWN_HOSTS))).toBe(false);
    expect(existsSync(join(planted, "result"))).toBe(false);
    // Only flake.nix is someone else's: still refused.
    const mixed = mkdtempSync(join(dir, "mixed-"));
    cpSync(site, mixed, { recursive: true });
    rmSync(join(mixed, "flk.toml"));
    chownSync(join(mixed, "flake.nix"), NOBODY, NOBODY);
    const flake = await flk(["hosts"], { cwd: mixed });
    expect(flake.code).toBe(2);
    expect(flake.stderr).toContain(`${join(mixed, "flake.nix")} belongs to user id ${NOBODY}`);
    // The same rule as flk.toml: group-writable is refused with chmod go-w; under sudo the invoking user's site is theirs.
    chownSync(join(mixed, "flake.nix"), 0, 0);
    chmodSync(mixed, 0o775);
    const writable = await flk(["hosts"], { cwd: mixed });
    expect(writable.code).toBe(2);
    expect(writable.stderr).toContain(`may be written by its group (mode 0775)`);
    expect(writable.stderr).toContain(`chmod go-w ${mixed}`);
    expect(lstatSync(mixed).mode & 0o777).toBe(0o775);
    // A /tmp-style directory (1777): anyone could add hosts/ or secrets/ to it.
    chmodSync(mixed, 0o1777);
    const sticky = await flk(["hosts"], { cwd: mixed });
    expect(sticky.code).toBe(2);
    expect(sticky.stderr).toContain(`may be written by its group and every user (mode 1777)`);
    const sudo = await flk(["hosts"], { cwd: below, env: { SUDO_UID: String(NOBODY) } });
    expect(sudo.stderr).not.toContain("belongs to user id");
    expect(sudo.code).toBe(0);
  }, 120_000);
});
