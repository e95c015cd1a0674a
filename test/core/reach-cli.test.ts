/**
 * `flk ssh HOST` as a user types it (dist/flk): the host name is checked
 * against the site's hosts before any locator sends a packet.
 */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { flk } from "../helpers/binary.ts";

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "flk-reach-cli-"));
  writeFileSync(join(root, "flake.nix"), "{ outputs = _: { }; }\n");
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function put(file: string) {
  mkdirSync(join(root, file, ".."), { recursive: true });
  writeFileSync(join(root, file), "{ }\n");
}

test("flk ssh Nixos (wrong case) exits 2 with a did-you-mean, before searching the network", async () => {
  put("hosts/NixOS.nix");
  const started = performance.now();
  const ran = await flk(["ssh", "Nixos", "--timeout", "5000"], { cwd: root });
  const ms = performance.now() - started;
  expect(ran.code).toBe(2);
  expect(ran.stderr).toContain("unknown host 'Nixos'");
  expect(ran.stderr).toContain("Did you mean `NixOS`?");
  expect(ran.stderr).not.toContain("pinHostKey");
  // A locator would have spent its 5 s budget; the refusal comes first.
  expect(ms).toBeLessThan(3000);
});

test("flk ssh on a site whose hosts live in machines/ names the [nix-iso] hosts setting", async () => {
  put("machines/NixOS.nix");
  const ran = await flk(["ssh", "NixOS"], { cwd: root });
  expect(ran.code).toBe(2);
  expect(ran.stderr).toContain('[nix-iso] hosts = "machines"');
});

test("flk ssh and flk install --target refuse a bad -p/-J before anything is sent (exit 2)", async () => {
  put("hosts/NixOS.nix");
  const ssh = await flk(["ssh", "NixOS", "-p", "70000"], { cwd: root });
  expect(ssh.code).toBe(2);
  expect(ssh.stderr).toContain("-p: expected a port from 1 to 65535");
  const install = await flk(["install", "NixOS", "--target", "root@192.0.2.1", "-J", "gw;touch x", "--dry-run"], { cwd: root });
  expect(install.code).toBe(2);
  expect(install.stderr).toContain("-J: expected a jump host");
});

test("flk install --target with a name that is not a host of the site is refused before any locator runs", async () => {
  put("hosts/NixOS.nix");
  const started = performance.now();
  const ran = await flk(["install", "NixOS", "--target", "root@Nixos", "--dry-run"], { cwd: root });
  expect(ran.code).toBe(2);
  expect(ran.stderr).toContain("Did you mean `NixOS`?");
  expect(performance.now() - started).toBeLessThan(3000);
});

test("flk ssh --user cannot smuggle an ssh option (exit 2, nothing run)", async () => {
  put("hosts/NixOS.nix");
  const marker = join(root, "pwned");
  const ran = await flk(["ssh", "NixOS", `--user=-oProxyCommand=touch ${marker}`, "--timeout", "300"], { cwd: root });
  expect(ran.code).toBe(2);
  expect(ran.stderr).toContain("--user: expected a user name like nixos or root");
  expect(existsSync(marker)).toBe(false);
});
