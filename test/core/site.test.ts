/** resolveHost: exact names, did-you-mean, and the hint for hosts kept outside hosts/. */
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { resolveHost } from "../../core/site.ts";
import { refusal } from "../helpers/refusal.ts";

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "flk-site-test-"));
  writeFileSync(join(root, "flake.nix"), "{ outputs = _: { }; }\n");
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function put(file: string) {
  mkdirSync(join(root, file, ".."), { recursive: true });
  writeFileSync(join(root, file), "{ }\n");
}

/** The FlkError resolveHost refuses `name` with. */
const refused = (name: string) => refusal(() => resolveHost(root, name));

test("finds hosts/NAME.nix and hosts/NAME/default.nix by their exact name", () => {
  put("hosts/NixOS.nix");
  put("hosts/box/default.nix");
  put("hosts/default.nix");
  expect(resolveHost(root, "NixOS")).toEqual({ name: "NixOS", file: "hosts/NixOS.nix" });
  expect(resolveHost(root, "box")).toEqual({ name: "box", file: "hosts/box/default.nix" });
});

test("a wrong-case name is refused (exit 2) with the right spelling", () => {
  put("hosts/NixOS.nix");
  const error = refused("Nixos");
  expect(error.exitCode).toBe(2);
  expect(error.code).toBe("E_UNKNOWN_HOST");
  expect(error.message).toContain("Did you mean `NixOS`?");
  expect(error.message).toContain("case-sensitive");
});

test("a typo gets the closest host; default.nix is not a host", () => {
  put("hosts/NixOS.nix");
  put("hosts/laptop.nix");
  expect(refused("lptop").message).toContain("Did you mean `laptop`?");
  expect(refused("default").message).toContain("Hosts: NixOS, laptop.");
});

test("hosts kept in machines/ get a hint about [nix-iso] hosts", () => {
  put("machines/NixOS.nix");
  const error = refused("NixOS");
  expect(error.message).toContain("machines/NixOS.nix exists");
  expect(error.message).toContain('[nix-iso] hosts = "machines"');
  // Once configured, the same name resolves.
  expect(resolveHost(root, "NixOS", { hostsDir: "machines" }).file).toBe("machines/NixOS.nix");
});

test("an empty hosts/ with hosts under machines/ hints even for another name", () => {
  put("machines/box/default.nix");
  expect(refused("NixOS").message).toContain('[nix-iso] hosts = "machines"');
});
