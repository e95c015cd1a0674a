/**
 * The authorized keys and the pinned host key read back from a real ISO
 * built from the fixture site (nix-iso's stand-in module system renders
 * /etc/ssh/authorized_keys.d/<user> and environment.etc like NixOS).
 * ssh-keygen is the oracle for what the image's authorized_keys hold.
 *
 * The host key's private half lives only in the operator's state dir
 * (XDG_STATE_HOME) and in the ISO's /etc/ssh: never in the site, tracked or
 * not, and never in the ISO's copy of the flake.
 */
import { afterAll, beforeAll, expect } from "bun:test";
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildFixtureIso, type FixtureIso } from "../helpers/iso.ts";
import { systemTest } from "../helpers/require.ts";
import { addKeys } from "../../plugins/ssh-keys/add.ts";
import { ensureHostKey, hostKeyPaths } from "../../plugins/ssh-keys/hostkey.ts";
import { privateKeyKind } from "../../plugins/ssh-keys/text.ts";
import { captureOutput, keygen, makeFlk, sh, sshKeygenList } from "../plugins/ssh-keys/helpers.ts";

const it = systemTest(["nix", "xorriso", "git", "ssh-keygen"], { root: false });
const TOML = `plugins = ["nix-iso", "ssh-keys"]\n\n[ssh-keys]\nusers = ["nixos", "root"]\nkeyFiles = ["extra/ci.pub"]\n`;

let keys: string;
let state: string;
let built: FixtureIso | undefined;
let otherKey: string;
beforeAll(async () => {
  keys = mkdtempSync(join(tmpdir(), "flk-iso-keys-"));
  state = mkdtempSync(join(tmpdir(), "flk-state-"));
  const alice = keygen(keys, "alice", "ed25519", undefined, "alice@laptop");
  const bob = keygen(keys, "bob", "ecdsa", 384, "bob@desk");
  const ci = keygen(keys, "ci", "rsa", 3072, "ci@runner");
  built = await buildFixtureIso({
    toml: TOML,
    env: { XDG_STATE_HOME: state },
    prepare: async (site) => {
      // What `flk keys add` does, committed by the helper so Nix sees it.
      const flk = makeFlk(site, { users: ["nixos", "root"], keyFiles: ["extra/ci.pub"] });
      await captureOutput(() => addKeys(flk, { text: readFileSync(`${alice}.pub`, "utf8") + readFileSync(`${bob}.pub`, "utf8"), source: "team.pub" }));
      mkdirSync(join(site, "extra"));
      writeFileSync(join(site, "extra/ci.pub"), readFileSync(`${ci}.pub`));
      // Another host of the same site already has a key in this operator's state dir: it must not reach NixOS's stick.
      otherKey = readFileSync((await ensureHostKey({ XDG_STATE_HOME: state }, site, "Other")).paths.privateKey, "utf8");
    },
  });
}, 300_000);
afterAll(() => {
  built?.cleanup();
  rmSync(keys, { recursive: true, force: true });
  rmSync(state, { recursive: true, force: true });
});

/** Every regular file under `dir` (not following links), skipping `.git` (zlib-compressed objects) and the `result` out-link. */
function files(dir: string, at = ""): string[] {
  return readdirSync(join(dir, at)).flatMap((name) => {
    const rel = at ? `${at}/${name}` : name;
    if (rel === ".git" || rel === "result") return [];
    const stat = lstatSync(join(dir, rel));
    return stat.isDirectory() ? files(dir, rel) : stat.isFile() ? [rel] : [];
  });
}

/** The base64 body lines of a private key that are its own (the first is the same header in every unencrypted ed25519 key). */
const bodyOf = (key: string) => key.split("\n").filter((l) => l && !l.startsWith("-----")).slice(1);

it("the ISO's /etc/ssh/authorized_keys.d/<user> holds exactly the stored keys and keyFiles, for nixos and root", async () => {
  const expected = ["alice", "bob", "ci"].map((k) => sshKeygenList(join(keys, `${k}.pub`)).lines[0]!.split(" ")[1]);
  for (const user of ["nixos", "root"]) {
    const text = await built!.read(`/etc/ssh/authorized_keys.d/${user}`);
    for (const k of ["alice", "bob", "ci"]) expect(text).toContain(readFileSync(join(keys, `${k}.pub`), "utf8").split(" ").slice(0, 2).join(" "));
    const file = join(keys, `image-${user}`);
    writeFileSync(file, text!);
    expect(sshKeygenList(file).lines.map((l) => l.split(" ")[1]).sort()).toEqual([...expected].sort());
  }
  expect(await built!.read("/etc/ssh/authorized_keys.d/nobody")).toBeUndefined();
});

it("the ISO's sshd host key is this operator's key for this host from the state dir, 0600, with its .pub 0644", async () => {
  const paths = hostKeyPaths({ XDG_STATE_HOME: state }, built!.site, "NixOS");
  expect(paths.dir.startsWith(join(state, "flk"))).toBe(true);
  expect(lstatSync(paths.privateKey).mode & 0o777).toBe(0o600);
  expect(await built!.read("/etc/ssh/ssh_host_ed25519_key")).toBe(readFileSync(paths.privateKey, "utf8"));
  expect(await built!.read("/etc/ssh/ssh_host_ed25519_key.pub")).toBe(readFileSync(paths.publicKey, "utf8"));
  expect(built!.mode("/etc/ssh/ssh_host_ed25519_key")).toBe(0o600);
  expect(built!.mode("/etc/ssh/ssh_host_ed25519_key.pub")).toBe(0o644);
  // The site's known_hosts (what flk ssh verifies against) names that key.
  const known = readFileSync(join(built!.site, "secrets/hosts/NixOS/known_hosts"), "utf8");
  // ipv6-lla is off in this site, so there is no static address to list beside the alias and HOST.local.
  expect(known).toContain(`flk-live-nixos,nixos.local ${readFileSync(paths.publicKey, "utf8").split(" ").slice(0, 2).join(" ")} `);
});

it("no file of the site (tracked or not) holds a private key, and the first build needed no git add", async () => {
  const site = built!.site;
  const hostKey = readFileSync(hostKeyPaths({ XDG_STATE_HOME: state }, site, "NixOS").privateKey, "utf8");
  for (const file of files(site)) {
    const text = readFileSync(join(site, file), "utf8");
    expect([file, privateKeyKind(text)]).toEqual([file, undefined]);
    for (const line of [...bodyOf(hostKey), ...bodyOf(otherKey)]) expect(text.includes(line)).toBe(false);
  }
  // The build wrote only known_hosts (untracked: a note says to commit it), and the out-link.
  expect(sh(["git", "-C", site, "status", "--porcelain", "--untracked-files=all"]).split("\n").filter(Boolean).sort()).toEqual(["?? result", "?? secrets/hosts/NixOS/known_hosts"]);
});

it("the stick holds its own host's key only, and nothing in its flake copy holds a private key", async () => {
  const hostKey = readFileSync(hostKeyPaths({ XDG_STATE_HOME: state }, built!.site, "NixOS").privateKey, "utf8");
  const holders: string[] = [];
  for (const path of await built!.list()) {
    const text = await built!.read(path).catch(() => undefined);
    if (text === undefined) continue;
    if (bodyOf(otherKey).some((line) => text.includes(line))) holders.push(`${path}: Other's key`);
    if (bodyOf(hostKey).some((line) => text.includes(line))) holders.push(`${path}: NixOS's key`);
    if (path.startsWith("/iso/") || path.startsWith("/devos/")) expect([path, privateKeyKind(text)]).toEqual([path, undefined]);
  }
  expect(holders).toEqual(["/etc/ssh/ssh_host_ed25519_key: NixOS's key"]);
  // The flake copy is on the stick at all (so the check above looked at something).
  expect((await built!.list()).some((p) => /\/secrets\/keys\/alice@laptop\.pub$/.test(p))).toBe(true);
});

it("a site that tracks a legacy private host key still builds, with a leaked-key warning naming git rm --cached", async () => {
  const legacyState = mkdtempSync(join(tmpdir(), "flk-state-"));
  let iso: FixtureIso | undefined;
  try {
    const { value, error, output } = await captureOutput(() =>
      buildFixtureIso({
        toml: 'plugins = ["nix-iso", "ssh-keys"]\n',
        env: { XDG_STATE_HOME: legacyState },
        prepare: (site) => {
          mkdirSync(join(site, "secrets/hosts/NixOS"), { recursive: true });
          keygen(join(site, "secrets/hosts/NixOS"), "ssh_host_ed25519_key", "ed25519");
        },
      }),
    );
    iso = value;
    expect(error).toBeUndefined();
    expect(output).toContain("secrets/hosts/NixOS/ssh_host_ed25519_key holds an OpenSSH private key and is tracked by git: consider that key leaked");
    expect(output).toContain("`git rm --cached -- secrets/hosts/NixOS/ssh_host_ed25519_key`");
    // The stick got a fresh key from the state dir, not the leaked one.
    const leaked = readFileSync(join(iso!.site, "secrets/hosts/NixOS/ssh_host_ed25519_key"), "utf8");
    expect(await iso!.read("/etc/ssh/ssh_host_ed25519_key")).not.toBe(leaked);
    expect(await iso!.read("/etc/ssh/ssh_host_ed25519_key")).toBe(readFileSync(hostKeyPaths({ XDG_STATE_HOME: legacyState }, iso!.site, "NixOS").privateKey, "utf8"));
  } finally {
    iso?.cleanup();
    rmSync(legacyState, { recursive: true, force: true });
  }
}, 300_000);
