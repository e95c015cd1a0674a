/**
 * The isoModule contribution (authorized keys per user, the pinned host key
 * by its state-dir path), the prepareIso tap (the key generated in the
 * operator's state dir, its public half recorded in the site) and the
 * sshOptions tap, through the real hooks of an flk instance.
 */
import { afterEach, beforeEach, expect } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { systemTest } from "../../helpers/require.ts";
import { collectPaths, renderNix, type IsoModule } from "../../../core/index.ts";
import { hostKeyPaths, pinnedKeys } from "../../../plugins/ssh-keys/hostkey.ts";
import { captureOutput, keygen, makeFlk, makeSite, makeState, sh, sshKeygenList } from "./helpers.ts";
import sshKeys from "../../../plugins/ssh-keys/index.ts";
import ipv6Lla from "../../../plugins/ipv6-lla/index.ts";
import { testFlk } from "../../helpers/flk.ts";

const it = systemTest(["ssh-keygen", "git"], { root: false });

let site: ReturnType<typeof makeSite>;
let state: ReturnType<typeof makeState>;
beforeEach(() => {
  site = makeSite();
  state = makeState();
});
afterEach(() => {
  site.cleanup();
  state.cleanup();
});

const empty = (): IsoModule => ({ imports: [], settings: {}, files: ["hosts/NixOS.nix"], notes: ["from an earlier tap"] });

function storeKey(name: string): string {
  mkdirSync(join(site.root, "secrets/keys"), { recursive: true });
  mkdirSync(join(site.root, "input"), { recursive: true });
  const key = keygen(join(site.root, "input"), name, "ed25519", undefined, name);
  writeFileSync(join(site.root, `secrets/keys/${name}.pub`), readFileSync(`${key}.pub`));
  return `secrets/keys/${name}.pub`;
}

const flkOf = (options: Parameters<typeof makeFlk>[1] = {}, env = state.env) => makeFlk(site.root, options, [], env);

async function iso(options: Parameters<typeof makeFlk>[1], host = "NixOS") {
  const flk = flkOf(options);
  return captureOutput(() => flk.hooks.isoModule.promise(empty(), { host, siteRoot: site.root }));
}

async function prepare(options: Parameters<typeof makeFlk>[1] = {}, env = state.env, host = "NixOS") {
  const flk = flkOf(options, env);
  return captureOutput(() => flk.hooks.prepareIso.promise({ host, siteRoot: site.root }));
}

/** Every file under `dir` (relative), sorted: the "nothing changed" oracle. */
function tree(dir: string, at = ""): string[] {
  if (!existsSync(join(dir, at))) return [];
  return readdirSync(join(dir, at), { withFileTypes: true }).flatMap((e) => {
    const path = at ? `${at}/${e.name}` : e.name;
    return e.isDirectory() ? [path + "/", ...tree(dir, path)] : [`${path} ${readFileSync(join(dir, path)).toString("base64")}`];
  }).sort();
}

it("gives every configured user the store's key files plus keyFiles, as site paths", async () => {
  const alice = storeKey("alice");
  mkdirSync(join(site.root, "extra"));
  writeFileSync(join(site.root, "extra/ci.pub"), readFileSync(join(site.root, alice)));
  const { value: module, error } = await iso({ users: ["nixos", "root"], keyFiles: ["extra/ci.pub"], pinHostKey: false });
  expect(error).toBeUndefined();
  const users = (module!.settings.users as any).users;
  for (const user of ["nixos", "root"]) expect(collectPaths(users[user].openssh.authorizedKeys.keyFiles)).toEqual([alice, "extra/ci.pub"]);
  expect(renderNix(module!.settings, { indent: "" })).toContain(`keyFiles = [ (./. + "/${alice}") (./. + "/extra/ci.pub") ]`);
  expect(module!.files).toEqual(["hosts/NixOS.nix", alice, "extra/ci.pub"]);
  expect(module!.notes).toEqual(["from an earlier tap"]);
});

it("refuses the ISO when a keyFiles entry does not exist or a key file is broken", async () => {
  storeKey("alice");
  const missing = await iso({ keyFiles: ["nope.pub"], pinHostKey: false });
  expect((missing.error as Error).message).toContain("nope.pub does not exist");
  writeFileSync(join(site.root, "secrets/keys/bad.pub"), "ssh-ed25519 AAAA\n");
  const broken = await iso({ pinHostKey: false });
  expect((broken.error as Error).message).toContain("secrets/keys/bad.pub:1:");
});

it("warns once per flk run (not per host, not again after the build) that nobody can log in when there are no keys", async () => {
  const flk = flkOf({ pinHostKey: false });
  const { value: modules, output } = await captureOutput(async () => [
    await flk.hooks.isoModule.promise(empty(), { host: "NixOS", siteRoot: site.root }),
    await flk.hooks.isoModule.promise(empty(), { host: "Other", siteRoot: site.root }),
  ]);
  expect(output.split("nobody will be able to log in").length - 1).toBe(1);
  for (const module of modules!) {
    expect(module.notes).toEqual(["from an earlier tap"]);
    expect(collectPaths((module.settings.users as any).users.nixos.openssh.authorizedKeys.keyFiles)).toEqual([]);
  }
});

it("planning names the host key by its state-dir path and writes nothing: no key, no state dir, no site file", async () => {
  storeKey("alice");
  const before = tree(site.root);
  const { value: module, error } = await iso({});
  expect(error).toBeUndefined();
  const paths = hostKeyPaths(state.env, site.root, "NixOS");
  expect(paths.privateKey.startsWith(join(state.dir, "flk", "sites"))).toBe(true);
  expect(renderNix((module!.settings.environment as any).etc, { indent: "" })).toBe(
    `{ "ssh/ssh_host_ed25519_key" = { source = (builtins.path { path = /. + "${paths.privateKey}"; name = "flk-NixOS-ssh_host_ed25519_key"; }); mode = "0600"; }; ` +
      `"ssh/ssh_host_ed25519_key.pub" = { source = (builtins.path { path = /. + "${paths.publicKey}"; name = "flk-NixOS-ssh_host_ed25519_key.pub"; }); mode = "0644"; }; }`,
  );
  // No site file for the host key: the first build needs no `git add`.
  expect(module!.files).toEqual(["hosts/NixOS.nix", "secrets/keys/alice.pub"]);
  expect(tree(site.root)).toEqual(before);
  expect(readdirSync(state.dir)).toEqual([]);
});

it("prepareIso generates the key in the state dir (0700/0600), records only its public half in the site, and keeps it next time", async () => {
  const first = await prepare();
  expect(first.error).toBeUndefined();
  const paths = hostKeyPaths(state.env, site.root, "NixOS");
  expect(statSync(paths.privateKey).mode & 0o777).toBe(0o600);
  for (let dir = paths.dir; dir.length >= join(state.dir, "flk").length; dir = join(dir, "..")) expect([dir, statSync(dir).mode & 0o777]).toEqual([dir, 0o700]);
  const [oracle] = sshKeygenList(paths.publicKey).lines;
  expect(oracle).toMatch(/^256 SHA256:\S+ flk live installer NixOS \(ED25519\)$/);
  expect(first.output).toContain(`generated the live installer's sshd host key ${paths.privateKey}`);
  expect(first.output).toContain("git add -- secrets/hosts/NixOS/known_hosts");
  // The site holds the public half only, as a known_hosts ssh itself reads (no static address: ipv6-lla is off here).
  expect(tree(site.root).map((l) => l.split(" ")[0])).toEqual(["flake.nix", "secrets/", "secrets/hosts/", "secrets/hosts/NixOS/", "secrets/hosts/NixOS/known_hosts"]);
  const known = readFileSync(join(site.root, "secrets/hosts/NixOS/known_hosts"), "utf8");
  expect(known).not.toContain("PRIVATE KEY");
  const pub = readFileSync(paths.publicKey, "utf8").split(" ").slice(0, 2).join(" ");
  expect(known.split("\n").filter((l) => l && !l.startsWith("#"))).toEqual([expect.stringMatching(new RegExp(`^flk-live-nixos,nixos\\.local ${pub.replace(/[+/]/g, "\\$&")} flk live installer NixOS, built by \\S+@\\S+$`))]);
  expect(Bun.spawnSync(["ssh-keygen", "-F", "flk-live-nixos", "-f", join(site.root, "secrets/hosts/NixOS/known_hosts")]).exitCode).toBe(0);
  const again = await prepare();
  expect(again.output).toContain("using the live installer's sshd host key");
  expect(again.output).not.toContain("recorded its public half");
  expect(sshKeygenList(paths.publicKey).lines[0]).toBe(oracle!);
  expect(readFileSync(join(site.root, "secrets/hosts/NixOS/known_hosts"), "utf8")).toBe(known);
});

it("a second operator's build adds their key as a second line; both are pinned, and each stick has its own host's key", async () => {
  await prepare();
  const other = makeState();
  try {
    await prepare({}, other.env);
    await prepare({}, other.env, "Other");
    const mine = readFileSync(hostKeyPaths(state.env, site.root, "NixOS").publicKey, "utf8").split(" ").slice(0, 2).join(" ");
    const theirs = readFileSync(hostKeyPaths(other.env, site.root, "NixOS").publicKey, "utf8").split(" ").slice(0, 2).join(" ");
    const theirOther = readFileSync(hostKeyPaths(other.env, site.root, "Other").publicKey, "utf8").split(" ").slice(0, 2).join(" ");
    expect(new Set([mine, theirs, theirOther]).size).toBe(3);
    expect(pinnedKeys(site.root, "NixOS", "flk-live-nixos")!.map((p) => p.key)).toEqual([mine, theirs]);
    expect(pinnedKeys(site.root, "Other", "flk-live-other")!.map((p) => p.key)).toEqual([theirOther]);
  } finally {
    other.cleanup();
  }
});

it("warns that a private key the site tracks is leaked, with the exact git rm --cached command", async () => {
  sh(["git", "-C", site.root, "init", "-q"]);
  mkdirSync(join(site.root, "secrets/hosts/NixOS"), { recursive: true });
  const legacy = keygen(join(site.root, "secrets/hosts/NixOS"), "ssh_host_ed25519_key", "ed25519");
  sh(["git", "-C", site.root, "add", "-A"]);
  const { output } = await prepare();
  expect(output).toContain("secrets/hosts/NixOS/ssh_host_ed25519_key holds an OpenSSH private key and is tracked by git: consider that key leaked");
  expect(output).toContain("`git rm --cached -- secrets/hosts/NixOS/ssh_host_ed25519_key`");
  // The new key is not the leaked one.
  expect(readFileSync(hostKeyPaths(state.env, site.root, "NixOS").privateKey, "utf8")).not.toBe(readFileSync(legacy, "utf8"));
});

it("pinHostKey = false: no host key settings, and prepareIso generates nothing", async () => {
  const { value: module } = await iso({ pinHostKey: false });
  expect(module!.settings.environment).toBeUndefined();
  await prepare({ pinHostKey: false });
  expect(existsSync(join(site.root, "secrets/hosts"))).toBe(false);
  expect(readdirSync(state.dir)).toEqual([]);
});

it("sshOptions pins the site's known_hosts (read only) with strict checking and the alias, and refuses (exit 2) when it is missing", async () => {
  const flk = flkOf();
  const target = { host: "NixOS", user: "nixos", endpoint: { address: "fe80::47", scope: "eth0", family: 6 as const, source: "static" } };
  const missing = await flk.hooks.sshOptions.promise(["-v"], target).catch((e) => e);
  expect([missing.code, missing.exitCode]).toEqual(["E_NO_PINNED_KEY", 2]);
  expect(missing.message).toContain("secrets/hosts/NixOS/known_hosts is missing");
  expect(existsSync(join(site.root, "secrets"))).toBe(false);
  await prepare();
  const options = await flk.hooks.sshOptions.promise(["-v"], target);
  expect(options).toEqual([
    "-v",
    "-o", `UserKnownHostsFile=${join(site.root, "secrets/hosts/NixOS/known_hosts")}`,
    "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", "StrictHostKeyChecking=yes",
    "-o", "KnownHostsCommand=none",
    "-o", "VerifyHostKeyDNS=no",
    "-o", "HostKeyAlias=flk-live-nixos",
    "-o", "HostKeyAlgorithms=ssh-ed25519",
    "-o", "UpdateHostKeys=no",
  ]);
  const unpinned = flkOf({ pinHostKey: false });
  expect(await unpinned.hooks.sshOptions.promise([], target)).toEqual([]);
});

it("sshOptions refuses a known_hosts line that could trust more than the pinned keys (a @cert-authority marker)", async () => {
  await prepare();
  const file = join(site.root, "secrets/hosts/NixOS/known_hosts");
  writeFileSync(file, readFileSync(file, "utf8") + `@cert-authority * ${readFileSync(hostKeyPaths(state.env, site.root, "NixOS").publicKey, "utf8")}`);
  const target = { host: "NixOS", user: "nixos", endpoint: { address: "fe80::47", scope: "eth0", family: 6 as const, source: "static" } };
  await expect(flkOf().hooks.sshOptions.promise([], target)).rejects.toThrow("markers (@cert-authority, @revoked) and hashed names are not allowed");
});

it("known_hosts names the live installer's static address canonically, as ipv6-lla configures it: FE80:0::47 is written fe80::47 and ssh finds it", async () => {
  const flk = testFlk({ plugins: [sshKeys, ipv6Lla], options: { "ipv6-lla": { address: "FE80:0::47" } }, cwd: site.root, env: state.env, flags: { yes: false } });
  const { error } = await captureOutput(() => flk.hooks.prepareIso.promise({ host: "NixOS", siteRoot: site.root }));
  expect(error).toBeUndefined();
  const file = join(site.root, "secrets/hosts/NixOS/known_hosts");
  expect(readFileSync(file, "utf8")).toMatch(/^flk-live-nixos,nixos\.local,fe80::47 ssh-ed25519 /m);
  expect(Bun.spawnSync(["ssh-keygen", "-F", "fe80::47", "-f", file]).exitCode).toBe(0);
});
