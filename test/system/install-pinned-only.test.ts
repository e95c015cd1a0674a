/**
 * `flk install --target` follows the same pinning rule as `flk ssh`, from
 * one place (ssh-keys' sshOptions tap, asked by core's reach() for every
 * login): with pinHostKey on, an address with no host names no pinned key
 * and is refused (exit 2) before ssh runs, even when the operator's own ssh
 * config says `StrictHostKeyChecking accept-new` — `flk install --undo
 * --target ADDRESS` included; with pinHostKey = false, install and ssh both
 * warn once, with the same words. dist/flk in a client namespace, a real
 * sshd in the peer; the operator's ssh config is a real ssh_config file,
 * given to the real ssh by a wrapper named ssh first on PATH (ssh reads
 * ~/.ssh/config from the passwd entry's home, which a test cannot move).
 */
import { afterAll, beforeAll, expect } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemTest } from "../helpers/require.ts";
import { createLink, linkLocal, type Link } from "../helpers/netns.ts";
import { startSshd, type Sshd } from "../helpers/sshd.ts";
import { keygen } from "../plugins/ssh-keys/helpers.ts";
import { FLK } from "../helpers/binary.ts";
import { hostKeyMismatch } from "../../plugins/ssh-keys/mismatch.ts";

const it = systemTest(["ip", "sshd", "ssh", "ssh-keygen"]);

let dir: string;
let site: string;
let link: Link | undefined;
let sshd: Sshd | undefined;
let user: string;
let operatorKnownHosts: string;
let wrap: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "flk-install-pin-"));
  site = join(dir, "site");
  mkdirSync(join(site, "hosts"), { recursive: true });
  mkdirSync(join(dir, "root"));
  writeFileSync(join(site, "flake.nix"), "{ outputs = _: { }; }\n");
  writeFileSync(join(site, "hosts", "NixOS.nix"), "{ }\n");
  user = keygen(dir, "operator", "ed25519");
  const hostKey = keygen(dir, "live_host_key", "ed25519");
  // The operator's own ssh config: trust a new host key silently (the reviewer's setting), its own known_hosts.
  operatorKnownHosts = join(dir, "operator_known_hosts");
  writeFileSync(operatorKnownHosts, "");
  writeFileSync(join(dir, "ssh_config"), `Host *\n  StrictHostKeyChecking accept-new\n  UserKnownHostsFile ${operatorKnownHosts}\n  GlobalKnownHostsFile /dev/null\n`);
  wrap = join(dir, "bin");
  mkdirSync(wrap);
  writeFileSync(join(wrap, "ssh"), `#!/bin/sh\n# test wrapper: the real ssh, reading the operator's ssh config file (test only)\nexec ${Bun.which("ssh")} -F '${dir}/ssh_config' "$@"\n`);
  chmodSync(join(wrap, "ssh"), 0o755);
  link = await createLink();
  await linkLocal(link.b);
  sshd = await startSshd(link.a, { hostKey, authorizedKeys: readFileSync(`${user}.pub`, "utf8") });
}, 60_000);
afterAll(async () => {
  await sshd?.stop();
  await link?.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

function config(pinHostKey: boolean): void {
  writeFileSync(join(site, "flk.toml"), `plugins = ["ssh-keys", "installer"]\n\n[ssh-keys]\npinHostKey = ${pinHostKey}\n\n[installer]\nroot = "${dir}/root"\n`);
}

function flkOnLink(args: string[]) {
  return link!.b.exec([FLK, "--site", site, ...args], { env: { NO_COLOR: "1", PATH: `${wrap}:${process.env.PATH}:/usr/sbin:/sbin`, NIX_CONFIG: "substituters =" } });
}

const address = () => `${sshd!.address}%${link!.b.iface}`;
const count = (text: string, part: string) => text.split(part).length - 1;

it("pinHostKey on: flk install --undo --target root@ADDRESS (no host) is exit 2 E_NO_PINNED_KEY naming `flk install HOST --undo --target …`; ssh never runs (the operator's accept-new known_hosts stays empty, sshd saw no connection); flk ssh ADDRESS likewise", async () => {
  config(true);
  const target = `root@${address()}`;
  const undo = await flkOnLink(["install", "--undo", "--target", target, "-i", user, "--dry-run"]);
  expect(undo.code).toBe(2);
  expect(undo.stderr).toContain(`${target} is an address, not a host of the site, so flk has no pinned host key to check it against ([ssh-keys] pinHostKey is on)`);
  expect(undo.stderr).toContain(`\`flk install HOST --undo --target ${target}\``);
  const json = await flkOnLink(["install", "--undo", "--target", target, "-i", user, "--dry-run", "--json"]);
  expect([json.code, JSON.parse(json.stdout).error?.code]).toEqual([2, "E_NO_PINNED_KEY"]);
  const ssh = await flkOnLink(["ssh", address(), "--user", "root", "--", "-i", user, "echo", "logged-in"]);
  expect(ssh.code).toBe(2);
  expect(ssh.stderr).toContain(`${target} is an address, not a host of the site`);
  expect(ssh.stdout).not.toContain("logged-in");
  expect(readFileSync(operatorKnownHosts, "utf8")).toBe("");
  expect(sshd!.log()).not.toMatch(/Connection from|Accepted publickey/);
}, 60_000);

it("pinHostKey = false: flk install --undo --target and flk ssh both warn once, with the same words, then trust on first use (the operator's accept-new records the key)", async () => {
  config(false);
  const target = `root@${address()}`;
  const words = `pinHostKey = false in flk.toml: flk checks no pinned key for ${target}`;
  const undo = await flkOnLink(["install", "--undo", "--target", target, "-i", user, "--dry-run"]);
  expect(undo.code).toBe(0);
  expect(count(undo.stderr, words)).toBe(1);
  const ssh = await flkOnLink(["ssh", address(), "--user", "root", "--", "-i", user, "echo", "logged-in"]);
  expect([ssh.code, ssh.stdout.trim()]).toEqual([0, "logged-in"]);
  expect(count(ssh.stderr, words)).toBe(1);
  expect(readFileSync(operatorKnownHosts, "utf8")).toContain(sshd!.address);
  expect(sshd!.log()).toMatch(/Accepted publickey/);
  expect(existsSync(join(site, "secrets"))).toBe(false);
}, 60_000);

it("a host key mismatch with no host named does not claim a pin that does not exist", () => {
  const none = hostKeyMismatch("", "root@fe80::1%eth0");
  expect(none.message).not.toContain("pinned for");
  expect(none.message).not.toContain("secrets/hosts/");
  expect(none.message).toContain("no host of the site was named, so flk checked no pinned key");
  expect(hostKeyMismatch("NixOS", "root@fe80::1%eth0").message).toContain("not the one pinned for NixOS (secrets/hosts/NixOS/known_hosts)");
});
