import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmodSync, mkdirSync, mkdtempSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findConfigFile, loadConfig, MAX_CONFIG_BYTES } from "../../core/config.ts";
import { definePlugin, PluginRegistry } from "../../core/plugin.ts";
import { FlkError } from "../../core/errors.ts";
import { findSiteRoot, listHosts, requireSiteRoot } from "../../core/site.ts";
import { refusal as refuse } from "../helpers/refusal.ts";

const registry = () =>
  new PluginRegistry([
    definePlugin({ name: "mdns", description: "", options: { backend: { type: "string", default: "resolved", enum: ["resolved", "avahi"], description: "" } }, apply() {} }),
    definePlugin({ name: "ssh-keys", description: "", options: { users: { type: "string[]", default: ["nixos"], description: "" } }, apply() {} }),
  ]);

let dir: string;
beforeEach(() => (dir = realpathSync(mkdtempSync(join(tmpdir(), "flk-config-")))));
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A refusal: exit 2. */
function refusal(fn: () => unknown): FlkError {
  const error = refuse(fn);
  expect(error.exitCode).toBe(2);
  return error;
}

describe("flk.toml discovery", () => {
  test("--config wins over $FLK_CONFIG, which wins over the site root's flk.toml", () => {
    mkdirSync(join(dir, "a/b/c"), { recursive: true });
    writeFileSync(join(dir, "a/flk.toml"), "");
    writeFileSync(join(dir, "env.toml"), "");
    writeFileSync(join(dir, "explicit.toml"), "");
    const cwd = join(dir, "a/b/c");
    const site = join(dir, "a");
    expect(findConfigFile({ cwd, site })).toBe(join(dir, "a/flk.toml"));
    expect(findConfigFile({ cwd, site, env: join(dir, "env.toml") })).toBe(join(dir, "env.toml"));
    expect(findConfigFile({ cwd, site, env: join(dir, "env.toml"), explicit: "../../../explicit.toml" })).toBe(join(dir, "explicit.toml"));
  });
  test("never a flk.toml from above the site, nor one found by walking up without a site", () => {
    mkdirSync(join(dir, "site/sub"), { recursive: true });
    writeFileSync(join(dir, "flk.toml"), "");
    writeFileSync(join(dir, "flake.nix"), "{}");
    writeFileSync(join(dir, "site/flake.nix"), "{}");
    expect(findConfigFile({ cwd: join(dir, "site/sub"), site: join(dir, "site") })).toBeUndefined();
    expect(findConfigFile({ cwd: join(dir, "site/sub") })).toBeUndefined();
  });
  test("refuses a config that its group or others may write, naming the chmod fix", () => {
    writeFileSync(join(dir, "flk.toml"), "");
    for (const [mode, who] of [[0o664, "its group"], [0o646, "every user"], [0o666, "its group and every user"]] as const) {
      chmodSync(join(dir, "flk.toml"), mode);
      const e = refusal(() => loadConfig(registry(), { cwd: dir, site: dir }));
      expect(e.code).toBe("E_CONFIG_PERMISSIONS");
      expect(e.message).toBe(
        `${dir}/flk.toml may be written by ${who} (mode 0${mode.toString(8)}), so someone else could change what flk builds and installs. Nothing was done. Fix: chmod go-w ${dir}/flk.toml`,
      );
    }
  });
  test("refuses a config over 1 MiB before parsing it", () => {
    writeFileSync(join(dir, "flk.toml"), "x".repeat(MAX_CONFIG_BYTES + 1));
    const e = refusal(() => loadConfig(registry(), { cwd: dir, site: dir }));
    expect(e.code).toBe("E_CONFIG_SIZE");
    writeFileSync(join(dir, "flk.toml"), "#".repeat(MAX_CONFIG_BYTES - 1) + "\n");
    expect(loadConfig(registry(), { cwd: dir, site: dir }).file).toBe(join(dir, "flk.toml"));
  });
  test("no file anywhere: built-in defaults, every plugin on", () => {
    const config = loadConfig(registry(), { cwd: dir });
    expect(config.file).toBeUndefined();
    expect(config.enabled).toEqual(["mdns", "ssh-keys"]);
    expect(config.options).toEqual({ mdns: { backend: "resolved" }, "ssh-keys": { users: ["nixos"] } });
  });
  test("a --config that does not exist is refused, naming it", () => {
    expect(refusal(() => findConfigFile({ cwd: dir, explicit: "nope.toml" })).message).toContain(`--config names ${dir}/nope.toml, which does not exist`);
  });
  test("plugins selects and orders the enabled plugins; tables set options", () => {
    writeFileSync(join(dir, "flk.toml"), 'plugins = ["ssh-keys"]\n[mdns]\nbackend = "avahi"\n');
    const config = loadConfig(registry(), { cwd: dir, site: dir });
    expect(config.enabled).toEqual(["ssh-keys"]);
    expect(config.options.mdns).toEqual({ backend: "avahi" });
  });
});

describe("flk.toml errors (exit 2)", () => {
  const load = (text: string) => {
    writeFileSync(join(dir, "flk.toml"), text);
    return () => loadConfig(registry(), { cwd: dir, site: dir });
  };
  test("bad TOML names the file, line and the parser's message", () => {
    const e = refusal(load('plugins = ["mdns"]\n\n[mdns\nbackend = "avahi"\n'));
    // The mistake is the unclosed [mdns on line 3, and that is the line named.
    expect(e.message).toBe(`${dir}/flk.toml:3:6: invalid TOML: illegal character in key`);
    expect(refusal(load("a = 1\na = 2\n")).message).toBe(`${dir}/flk.toml:2:1: invalid TOML: trying to redefine an already defined table or value`);
  });
  test("a TOML error never echoes the file's lines", () => {
    const e = refusal(load('secret = "hunter2" oops\n'));
    expect(e.message).toBe(`${dir}/flk.toml:1:20: invalid TOML: each key-value declaration must be followed by an end-of-line`);
    expect(e.message).not.toContain("hunter2");
  });
  test("an unknown plugin in plugins gets a did-you-mean", () => {
    expect(refusal(load('plugins = ["mdsn"]')).message).toContain("unknown plugin 'mdsn'. Did you mean `mdns`?");
  });
  test("an unknown top-level table gets a did-you-mean", () => {
    expect(refusal(load("[ssh-key]\nusers = []")).message).toContain("unknown key or plugin table 'ssh-key'. Did you mean `ssh-keys`?");
  });
  test("a wrong type names key, expected and actual type", () => {
    expect(refusal(load('[ssh-keys]\nusers = "root"')).message).toContain('[ssh-keys].users: expected a list of strings, got a string ("root")');
    expect(refusal(load("plugins = 3")).message).toContain("plugins: expected a list of plugin names, got a number (3)");
    expect(refusal(load("mdns = 3")).message).toContain("mdns: expected a table [mdns], got a number (3)");
  });
});

describe("site and hosts", () => {
  test("the site root is the nearest directory with flake.nix", () => {
    mkdirSync(join(dir, "site/hosts/sub"), { recursive: true });
    writeFileSync(join(dir, "site/flake.nix"), "{}");
    expect(findSiteRoot(join(dir, "site/hosts/sub"))).toBe(join(dir, "site"));
    expect(findSiteRoot(dir)).toBeUndefined();
    expect(refusal(() => requireSiteRoot(dir)).message).toContain("no flake.nix in");
    expect(refusal(() => requireSiteRoot(dir, dir)).message).toContain(`--site ${dir}: there is no flake.nix`);
  });
  test("hosts are hosts/*.nix and hosts/NAME/default.nix, minus default.nix, sorted", () => {
    mkdirSync(join(dir, "hosts/Zeta"), { recursive: true });
    mkdirSync(join(dir, "hosts/empty"), { recursive: true });
    for (const f of ["NixOS.nix", "default.nix", "alpha.nix", "notes.txt", "Zeta/default.nix", ".hidden.nix"]) writeFileSync(join(dir, "hosts", f), "{}");
    expect(listHosts(dir)).toEqual([
      { name: "NixOS", file: "hosts/NixOS.nix" },
      { name: "Zeta", file: "hosts/Zeta/default.nix" },
      { name: "alpha", file: "hosts/alpha.nix" },
    ]);
    expect(listHosts(dir, "machines")).toEqual([]);
  });
});
