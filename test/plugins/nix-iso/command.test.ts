/** The nix command line of `flk iso`, built as argv. */
import { describe, expect, test } from "bun:test";
import { attrsExprText, attrsFileText, nixBuildArgv, nixBuildExprArgv, outLinkOf, shellQuote } from "../../../plugins/nix-iso/command.ts";
import { evalNix } from "../../helpers/nix.ts";
import { systemTest } from "../../helpers/require.ts";

const plan = {
  ref: "git+file:///srv/site",
  hosts: [
    { host: "NixOS", moduleFile: "/tmp/flk-iso-x/0.nix" },
    { host: "web.example", moduleFile: "/tmp/flk-iso-x/1.nix" },
  ],
  attrsFile: "/tmp/flk-iso-x/isos.nix",
  outLink: "/srv/site/result",
  extraArgs: ["--builders", "ssh://big x86_64-linux", "--max-jobs", "0"],
};

describe("nixBuildArgv", () => {
  test("one nix build of every host's attribute, impure, -L, --keep-going, with the out-link", () => {
    const argv = nixBuildArgv(plan, { flags: [] });
    expect(argv.slice(0, 11)).toEqual(["nix", "build", "--impure", "-L", "--keep-going", "--out-link", "/srv/site/result", "-f", "/tmp/flk-iso-x/isos.nix", "NixOS", '"web.example"']);
  });

  test("adds the experimental-features flags only when nixInfo says they are needed", () => {
    const flags = ["--extra-experimental-features", "nix-command flakes"];
    expect(nixBuildArgv(plan, { flags })).toEqual(["nix", ...flags, ...nixBuildArgv(plan, { flags: [] }).slice(1)]);
  });

  test("passes the arguments after -- to nix unchanged, last", () => {
    expect(nixBuildArgv(plan, { flags: [] }).slice(-4)).toEqual(plan.extraArgs);
  });

  test("nix numbers the out-links after the first: OUT, OUT-1, OUT-2", () => {
    expect([0, 1, 2].map((i) => outLinkOf("/s/result", i))).toEqual(["/s/result", "/s/result-1", "/s/result-2"]);
  });
});

describe("attrsFileText", () => {
  const text = attrsFileText(plan.ref, plan.hosts);

  test("has one attribute per host: the host extended with its module, its isoImage", () => {
    expect(text).toContain('flake = builtins.getFlake "git+file:///srv/site";');
    expect(text).toContain('NixOS = iso "NixOS" (import "/tmp/flk-iso-x/0.nix");');
    expect(text).toContain('"web.example" = iso "web.example" (import "/tmp/flk-iso-x/1.nix");');
    expect(text).toContain("extendModules { modules = [ module ]; }).config.system.build.isoImage");
  });

  systemTest(["nix-instantiate"], { root: false })("names the host when the flake has no such configuration (real nix)", async () => {
    const stub = text.replace('builtins.getFlake "git+file:///srv/site"', "{ nixosConfigurations.NixOS = { }; }");
    await expect(evalNix(`(${stub}).\"web.example\"`)).rejects.toThrow("flk: the flake has no nixosConfigurations.web.example: add it to flake.nix");
  });
});

describe("attrsExprText (what --dry-run prints: no file behind it)", () => {
  const module = "# a module\n{ lib, ... }: { networking.hostName = lib.mkForce \"live\"; }\n";
  const expr = attrsExprText(plan.ref, [{ host: "NixOS", text: module }]);

  test("inlines each module's text where the file form imports it, and --expr takes the place of -f FILE", () => {
    expect(expr).toContain('NixOS = iso "NixOS" (\n# a module\n{ lib, ... }: { networking.hostName = lib.mkForce "live"; }\n);');
    expect(expr).not.toContain("/tmp/");
    const argv = nixBuildExprArgv(plan, { flags: [] }, expr);
    expect(argv.slice(0, 9)).toEqual(["nix", "build", "--impure", "-L", "--keep-going", "--out-link", "/srv/site/result", "--expr", expr]);
    expect(argv.slice(9)).toEqual(nixBuildArgv(plan, { flags: [] }).slice(9));
  });

  systemTest(["nix-instantiate"], { root: false })("evaluates to the module the host is extended with (real nix)", async () => {
    const stub = expr.replace('builtins.getFlake "git+file:///srv/site"', '{ nixosConfigurations.NixOS.extendModules = { modules }: { config.system.build.isoImage = (builtins.head modules) { lib.mkForce = x: x; }; }; }');
    expect(await evalNix(`(${stub}).NixOS.networking.hostName`)).toBe("live");
  });
});

describe("shellQuote", () => {
  test("leaves plain words alone and single-quotes the rest", () => {
    expect(shellQuote(["nix", "build", "--expr", `f "x" 'y'`, "a b"])).toBe(`nix build --expr 'f "x" '\\''y'\\''' 'a b'`);
  });

  test("round-trips through a real shell", async () => {
    const words = ["a b", "it's", '"q"', "$HOME", "`x`", "\\n", "ü"];
    const child = Bun.spawn(["sh", "-c", `printf '%s\\0' ${shellQuote(words)}`], { stdout: "pipe" });
    expect((await new Response(child.stdout).text()).split("\0").slice(0, -1)).toEqual(words);
  });
});
