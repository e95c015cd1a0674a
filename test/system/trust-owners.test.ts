/**
 * Who may own what flk trusts (core/owner.ts: you, root, or $SUDO_UID under
 * sudo; nothing group- or world-writable), through dist/flk:
 * - the state directory's host key (B): a key someone else owns, or a key
 *   directory anyone may write, is exit 2 E_STATE_DIR before anything is
 *   pinned or built — never used, never silently chmodded;
 * - the state directory inside the site (C): exit 2, git site or `path:` copy,
 *   also when only a bind mount joins them (site/.st bound elsewhere, or the
 *   state directory bound into the site; a private mount namespace each);
 * - the site itself (D): a planted site (directory or flake.nix owned by
 *   another user) is exit 2 E_SITE_OWNER for every command;
 * - what the site holds (E): secrets/ (known_hosts, keys) and hosts/, each
 *   directory on the way and each file, under the same rule.
 * Each refusal proves nothing changed: known_hosts absent, no result link,
 * modes and `git status` as they were.
 */
import { afterAll, beforeAll, describe, expect } from "bun:test";
import { chmodSync, chownSync, cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FLK, flk } from "../helpers/binary.ts";
import { copyFixtureSite, fixtureNixEnv } from "../helpers/iso.ts";
import { systemTest } from "../helpers/require.ts";
import { must } from "../helpers/sh.ts";
import { ensureHostKey } from "../../plugins/ssh-keys/hostkey.ts";
import { keygen } from "../plugins/ssh-keys/helpers.ts";

const it = systemTest(["nix", "git", "ssh-keygen", "unshare", "mount"]);
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

describe("C: a state directory reached through a bind mount (private mount namespace, unshare -m)", () => {
  /** dist/flk in a mount namespace of its own where `source` is bind-mounted at `target`; the mount dies with it. */
  const isoUnderBind = async (source: string, target: string, root: string, state: string) => {
    const child = Bun.spawn(["unshare", "-m", "--propagation", "private", "sh", "-c", 'src=$1 dst=$2; shift 2; mount --bind "$src" "$dst" && exec "$@"', "sh", source, target, FLK, "iso", "NixOS"], {
      cwd: root,
      env: { ...process.env, ...fixtureNixEnv(), NO_COLOR: "1", XDG_STATE_HOME: state },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
    return { code: await child.exited, stdout, stderr };
  };

  it("site/.st bound at another path and used as XDG_STATE_HOME is refused (exit 2): no key inside the site, nothing built", async () => {
    const root = mkdtempSync(join(dir, "bind-site-"));
    cpSync(site, root, { recursive: true });
    mkdirSync(join(root, ".st"));
    const elsewhere = mkdtempSync(join(dir, "bind-x-"));
    const before = await gitStatus(root);
    const ran = await isoUnderBind(join(root, ".st"), elsewhere, root, elsewhere);
    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain(`flk's state directory ${elsewhere}/flk is inside the site ${root} (through a bind mount)`);
    expect(readdirSync(join(root, ".st"))).toEqual([]);
    expect(existsSync(join(root, KNOWN_HOSTS))).toBe(false);
    expect(existsSync(join(root, "result"))).toBe(false);
    expect(await gitStatus(root)).toBe(before);
  }, 300_000);

  it("the state directory bound inside the site (site/.st) is refused too: the keys would show in the site's copy", async () => {
    const root = mkdtempSync(join(dir, "bind-site-"));
    cpSync(site, root, { recursive: true });
    mkdirSync(join(root, ".st"));
    const state = mkdtempSync(join(dir, "bind-state-"));
    const before = await gitStatus(root);
    const ran = await isoUnderBind(state, join(root, ".st"), root, state);
    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain(`flk's state directory ${state}/flk is inside the site ${root} (through a bind mount)`);
    expect(readdirSync(state)).toEqual([]);
    expect(existsSync(join(root, KNOWN_HOSTS))).toBe(false);
    expect(existsSync(join(root, "result"))).toBe(false);
    expect(await gitStatus(root)).toBe(before);
  }, 300_000);
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

describe("E: what the site's secrets/ and hosts/ hold", () => {
  /** A copy of the fixture site with hosts/NixOS.nix and a pinned known_hosts line for an attacker's host key. */
  const siteWithPin = () => {
    const root = mkdtempSync(join(dir, "secrets-"));
    cpSync(site, root, { recursive: true });
    const attacker = keygen(dir, `attacker-host-${Math.random().toString(16).slice(2)}`, "ed25519", undefined, "attacker");
    const line = readFileSync(`${attacker}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
    mkdirSync(join(root, "secrets/hosts/NixOS"), { recursive: true });
    writeFileSync(join(root, KNOWN_HOSTS), `flk-live-nixos,nixos.local,fe80::47 ${line} attacker\n`);
    return root;
  };
  /** Every file's mode, owner and bytes: a refusal leaves all of them as they were. */
  const snapshot = (root: string) => must(["sh", "-c", `cd ${root} && find . -path ./.git -prune -o -printf '%p %m %U\\n' | sort && find . -path ./.git -prune -o -type f -print0 | sort -z | xargs -0 sha256sum`]);

  it("flk ssh refuses a known_hosts anyone may write, in directories nobody-owned and 0777 (exit 2, E_SITE_OWNER): ssh never runs", async () => {
    const root = siteWithPin();
    for (const d of ["secrets/hosts", "secrets/hosts/NixOS"]) {
      chownSync(join(root, d), NOBODY, NOBODY);
      chmodSync(join(root, d), 0o777);
    }
    chownSync(join(root, KNOWN_HOSTS), NOBODY, NOBODY);
    chmodSync(join(root, KNOWN_HOSTS), 0o666);
    // A stand-in ssh first on PATH records whether flk ran it (flk ssh execs `ssh`; plugins/ssh-keys/ssh.ts).
    const bin = mkdtempSync(join(dir, "bin-"));
    writeFileSync(join(bin, "ssh"), `#!/bin/sh\necho ran > ${bin}/ran\nexit 0\n`, { mode: 0o755 });
    const before = await snapshot(root);
    const ran = await flk(["ssh", "NixOS", "--target", "root@127.0.0.1", "--", "id", "-u"], { cwd: root, env: { PATH: `${bin}:${process.env.PATH}` } });
    expect(ran.code).toBe(2);
    expect(ran.stderr).toContain(`${join(root, "secrets/hosts")} belongs to user id ${NOBODY}, not to you (root)`);
    expect(ran.stderr).toContain(`chown $(id -u) ${join(root, "secrets/hosts")}`);
    expect(existsSync(join(bin, "ran"))).toBe(false);
    expect(await snapshot(root)).toBe(before);
    // Owned by root again but still 0777, then only the file left 0666: each is refused in turn, naming itself and the fix.
    chownSync(join(root, "secrets/hosts"), 0, 0);
    chownSync(join(root, "secrets/hosts/NixOS"), 0, 0);
    chmodSync(join(root, "secrets/hosts"), 0o755);
    const dirRan = await flk(["ssh", "NixOS", "--target", "root@127.0.0.1"], { cwd: root, env: { PATH: `${bin}:${process.env.PATH}` } });
    expect(dirRan.code).toBe(2);
    expect(dirRan.stderr).toContain(`${join(root, "secrets/hosts/NixOS")} may be written by its group and every user (mode 0777)`);
    expect(dirRan.stderr).toContain(`chmod go-w ${join(root, "secrets/hosts/NixOS")}`);
    chmodSync(join(root, "secrets/hosts/NixOS"), 0o755);
    const fileRan = await flk(["ssh", "NixOS", "--target", "root@127.0.0.1"], { cwd: root, env: { PATH: `${bin}:${process.env.PATH}` } });
    expect(fileRan.code).toBe(2);
    expect(fileRan.stderr).toContain(`${join(root, KNOWN_HOSTS)} belongs to user id ${NOBODY}`);
    expect(existsSync(join(bin, "ran"))).toBe(false);
    chownSync(join(root, KNOWN_HOSTS), 0, 0);
    const modeRan = await flk(["ssh", "NixOS", "--target", "root@127.0.0.1"], { cwd: root, env: { PATH: `${bin}:${process.env.PATH}` } });
    expect(modeRan.code).toBe(2);
    expect(modeRan.stderr).toContain(`${join(root, KNOWN_HOSTS)} may be written by its group and every user (mode 0666)`);
    expect(existsSync(join(bin, "ran"))).toBe(false);
    // Taken back (umask-022 modes, root's): the pin is used and ssh runs — the rule refuses only what someone else could write.
    chmodSync(join(root, KNOWN_HOSTS), 0o644);
    const ok = await flk(["ssh", "NixOS", "--target", "root@127.0.0.1"], { cwd: root, env: { PATH: `${bin}:${process.env.PATH}` } });
    expect(ok.code).toBe(0);
    expect(existsSync(join(bin, "ran"))).toBe(true);
  }, 120_000);

  it("a world-writable secrets/keys/ with a nobody-owned mallory.pub: keys list and iso --dry-run are exit 2, nothing authorized or changed", async () => {
    const root = mkdtempSync(join(dir, "keys-"));
    cpSync(site, root, { recursive: true });
    const mallory = keygen(dir, `mallory-${Math.random().toString(16).slice(2)}`, "ed25519", undefined, "mallory");
    cpSync(`${mallory}.pub`, join(root, "secrets/keys/mallory.pub"));
    chownSync(join(root, "secrets/keys"), NOBODY, NOBODY);
    chmodSync(join(root, "secrets/keys"), 0o777);
    chownSync(join(root, "secrets/keys/mallory.pub"), NOBODY, NOBODY);
    chmodSync(join(root, "secrets/keys/mallory.pub"), 0o666);
    const before = await snapshot(root);
    const env = { ...fixtureNixEnv(), XDG_STATE_HOME: mkdtempSync(join(dir, "state-")) };
    for (const args of [["keys", "list"], ["iso", "NixOS", "--dry-run"], ["iso", "NixOS", "--print-module"]]) {
      const ran = await flk(args, { cwd: root, env });
      expect([args.join(" "), ran.code]).toEqual([args.join(" "), 2]);
      expect(ran.stderr).toContain(`${join(root, "secrets/keys")} belongs to user id ${NOBODY}`);
      expect(ran.stdout).not.toContain("mallory");
    }
    // The directory taken back but the key still nobody's and 0666: the key itself is refused.
    chownSync(join(root, "secrets/keys"), 0, 0);
    chmodSync(join(root, "secrets/keys"), 0o755);
    const file = await flk(["keys", "list", "--json"], { cwd: root, env });
    expect(file.code).toBe(2);
    expect(JSON.parse(file.stdout).error.code).toBe("E_SITE_OWNER");
    expect(file.stderr).toContain(`${join(root, "secrets/keys/mallory.pub")} belongs to user id ${NOBODY}`);
    expect(file.stdout).not.toContain("SHA256:");
    chownSync(join(root, "secrets/keys"), NOBODY, NOBODY);
    chmodSync(join(root, "secrets/keys"), 0o777);
    expect(await snapshot(root)).toBe(before);
  }, 120_000);

  it("a world-writable hosts/ or a host file others may write is exit 2 for flk hosts and flk iso; a umask-022 site passes", async () => {
    const root = mkdtempSync(join(dir, "hosts-"));
    cpSync(site, root, { recursive: true });
    const env = { ...fixtureNixEnv(), XDG_STATE_HOME: mkdtempSync(join(dir, "state-")) };
    expect((await flk(["hosts"], { cwd: root })).code).toBe(0);
    chmodSync(join(root, "hosts"), 0o777);
    writeFileSync(join(root, "hosts/planted.nix"), "{ }\n");
    chownSync(join(root, "hosts/planted.nix"), NOBODY, NOBODY);
    const before = await snapshot(root);
    for (const args of [["hosts"], ["iso", "NixOS", "--dry-run"]]) {
      const ran = await flk(args, { cwd: root, env });
      expect([args.join(" "), ran.code]).toEqual([args.join(" "), 2]);
      expect(ran.stderr).toContain(`${join(root, "hosts")} may be written by its group and every user (mode 0777)`);
      expect(ran.stderr).toContain(`chmod go-w ${join(root, "hosts")}`);
    }
    chmodSync(join(root, "hosts"), 0o755);
    const planted = await flk(["hosts"], { cwd: root });
    expect(planted.code).toBe(2);
    expect(planted.stderr).toContain(`${join(root, "hosts/planted.nix")} belongs to user id ${NOBODY}`);
    expect(planted.stdout).not.toContain("planted");
    chmodSync(join(root, "hosts"), 0o777);
    expect(await snapshot(root)).toBe(before);
  }, 120_000);
});
