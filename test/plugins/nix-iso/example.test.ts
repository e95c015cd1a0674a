/**
 * examples/devos: a real devos-style site. Building it needs the network
 * (nixpkgs is fetched), so here: every .nix parses, the flake pins nixpkgs,
 * its flk.toml is valid and `flk hosts` finds NixOS.
 */
import { describe, expect, test } from "bun:test";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { configOf, createFlk } from "../../../core/context.ts";
import { ALL_PLUGINS } from "../../helpers/iso.ts";
import { siteHosts } from "../../../plugins/nix-iso/hosts.ts";
import { systemTest } from "../../helpers/require.ts";

const EXAMPLE = resolve(import.meta.dir, "..", "..", "..", "examples", "devos");

function nixFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? nixFiles(path) : name.endsWith(".nix") ? [path] : [];
  });
}

describe("examples/devos", () => {
  systemTest(["nix-instantiate"], { root: false })("every .nix file parses (nix-instantiate --parse)", async () => {
    const files = nixFiles(EXAMPLE);
    expect(files.map((f) => relative(EXAMPLE, f)).sort()).toEqual(["flake.nix", "hosts/NixOS.nix", "hosts/default.nix"]);
    for (const file of files) {
      const child = Bun.spawn(["nix-instantiate", "--parse", file], { stdout: "ignore", stderr: "pipe" });
      expect({ file, code: await child.exited, stderr: await new Response(child.stderr).text() }).toEqual({ file, code: 0, stderr: "" });
    }
  });

  test("pins a nixpkgs release branch as its input", () => {
    expect(readFileSync(join(EXAMPLE, "flake.nix"), "utf8")).toMatch(/inputs\.nixpkgs\.url = "github:NixOS\/nixpkgs\/nixos-\d\d\.\d\d";/);
  });

  test("has a valid flk.toml with every plugin on, and NixOS as its host", () => {
    const flk = createFlk({ plugins: ALL_PLUGINS, cwd: EXAMPLE });
    expect(flk.configFile).toBe(join(EXAMPLE, "flk.toml"));
    expect(configOf(flk).enabled).toEqual(["nix-iso", "dd-writer", "mdns", "ipv6-lla", "ssh-keys", "installer"]);
    expect(siteHosts(flk)).toEqual([{ name: "NixOS", file: "hosts/NixOS.nix" }]);
  });

  test("keeps secrets/keys/ in git for `flk keys add`", () => {
    expect(statSync(join(EXAMPLE, "secrets", "keys", ".gitkeep")).isFile()).toBe(true);
  });
});
