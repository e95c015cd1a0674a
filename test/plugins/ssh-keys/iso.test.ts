/**
 * The isoModule contribution (authorized keys per user, the pinned host key)
 * and the sshOptions tap, through the real hooks of an flk instance.
 */
import { afterEach, beforeEach, expect } from "bun:test";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { systemTest } from "../../helpers/require.ts";
import { collectPaths, renderNix, type IsoModule } from "../../../core/index.ts";
import { captureOutput, keygen, makeFlk, makeSite, sshKeygenList } from "./helpers.ts";

const it = systemTest(["ssh-keygen"], { root: false });

let site: ReturnType<typeof makeSite>;
beforeEach(() => {
  site = makeSite();
});
afterEach(() => site.cleanup());

const empty = (): IsoModule => ({ imports: [], settings: {}, files: ["hosts/NixOS.nix"], notes: ["from an earlier tap"] });

function storeKey(name: string): string {
  mkdirSync(join(site.root, "secrets/keys"), { recursive: true });
  mkdirSync(join(site.root, "input"), { recursive: true });
  const key = keygen(join(site.root, "input"), name, "ed25519", undefined, name);
  writeFileSync(join(site.root, `secrets/keys/${name}.pub`), readFileSync(`${key}.pub`));
  return `secrets/keys/${name}.pub`;
}

async function iso(options: Parameters<typeof makeFlk>[1], host = "NixOS") {
  const flk = makeFlk(site.root, options);
  return captureOutput(() => flk.hooks.isoModule.promise(empty(), { host, siteRoot: site.root }));
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

it("warns that nobody can log in remotely when there are no keys at all", async () => {
  const { value: module, output } = await iso({ pinHostKey: false });
  expect(output).toContain("nobody will be able to log in");
  expect(module!.notes.some((n) => n.includes("nobody will be able to log in"))).toBe(true);
  expect(collectPaths((module!.settings.users as any).users.nixos.openssh.authorizedKeys.keyFiles)).toEqual([]);
});

it("generates the pinned host key on the first build, keeps it on the next, and puts both halves into /etc/ssh", async () => {
  storeKey("alice");
  const first = await iso({});
  expect(first.error).toBeUndefined();
  const priv = join(site.root, "secrets/hosts/NixOS/ssh_host_ed25519_key");
  expect(statSync(priv).mode & 0o777).toBe(0o600);
  const [oracle] = sshKeygenList(`${priv}.pub`).lines;
  expect(oracle).toMatch(/^256 SHA256:\S+ flk live installer NixOS \(ED25519\)$/);
  const etc = (first.value!.settings.environment as any).etc;
  expect(renderNix(etc, { indent: "" })).toBe(
    '{ "ssh/ssh_host_ed25519_key" = { source = (./. + "/secrets/hosts/NixOS/ssh_host_ed25519_key"); mode = "0600"; }; ' +
      '"ssh/ssh_host_ed25519_key.pub" = { source = (./. + "/secrets/hosts/NixOS/ssh_host_ed25519_key.pub"); mode = "0644"; }; }',
  );
  expect(first.value!.files).toContain("secrets/hosts/NixOS/ssh_host_ed25519_key");
  expect(first.value!.files).toContain("secrets/hosts/NixOS/ssh_host_ed25519_key.pub");
  expect(first.value!.notes.join("\n")).toContain("private half is on the stick and in the Nix store");
  await iso({});
  expect(sshKeygenList(`${priv}.pub`).lines[0]).toBe(oracle!);
});

it("records the pinned key in known_hosts under the alias, HOST.local and fe80::47", async () => {
  await iso({});
  const pub = readFileSync(join(site.root, "secrets/hosts/NixOS/ssh_host_ed25519_key.pub"), "utf8").split(" ").slice(0, 2).join(" ");
  const known = readFileSync(join(site.root, "secrets/hosts/NixOS/known_hosts"), "utf8");
  const entries = known.split("\n").filter((l) => l && !l.startsWith("#"));
  expect(entries).toEqual([`flk-live-nixos ${pub}`, `nixos.local ${pub}`, `fe80::47 ${pub}`]);
  // ssh-keygen -F finds the host in the file: the format is one ssh reads.
  const found = Bun.spawnSync(["ssh-keygen", "-F", "flk-live-nixos", "-f", join(site.root, "secrets/hosts/NixOS/known_hosts")]);
  expect(found.exitCode).toBe(0);
});

it("pinHostKey = false generates nothing and adds no host key settings", async () => {
  const { value: module } = await iso({ pinHostKey: false });
  expect(module!.settings.environment).toBeUndefined();
  expect(() => statSync(join(site.root, "secrets/hosts"))).toThrow();
});

it("sshOptions adds the pinned known_hosts, strict checking and the alias only when a pinned key exists", async () => {
  const flk = makeFlk(site.root);
  const target = { host: "NixOS", user: "nixos", endpoint: { address: "fe80::47", scope: "eth0", family: 6 as const, source: "static" } };
  expect(await flk.hooks.sshOptions.promise(["-v"], target)).toEqual(["-v"]);
  await captureOutput(() => flk.hooks.isoModule.promise(empty(), { host: "NixOS", siteRoot: site.root }));
  const options = await flk.hooks.sshOptions.promise(["-v"], target);
  expect(options).toEqual([
    "-v",
    "-o", `UserKnownHostsFile=${join(site.root, "secrets/hosts/NixOS/known_hosts")}`,
    "-o", "GlobalKnownHostsFile=/dev/null",
    "-o", "StrictHostKeyChecking=yes",
    "-o", "HostKeyAlias=flk-live-nixos",
    "-o", "HostKeyAlgorithms=ssh-ed25519",
    "-o", "UpdateHostKeys=no",
  ]);
  const unpinned = makeFlk(site.root, { pinHostKey: false });
  expect(await unpinned.hooks.sshOptions.promise([], target)).toEqual([]);
});
