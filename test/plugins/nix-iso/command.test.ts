/** The nix command line of `flk iso`, built as argv. */
import { describe, expect, test } from "bun:test";
import { buildExpression, nixBuildArgv, shellQuote } from "../../../plugins/nix-iso/command.ts";

const plan = {
  host: "NixOS",
  ref: "git+file:///srv/site",
  moduleFile: "/tmp/flk-iso-x/NixOS.nix",
  outLink: "/srv/site/result",
  extraArgs: ["--builders", "ssh://big x86_64-linux", "--max-jobs", "0"],
};

describe("nixBuildArgv", () => {
  test("builds isoImage of the host extended with the generated module, impure, with -L and the out-link", () => {
    const argv = nixBuildArgv(plan, { flags: [] });
    expect(argv.slice(0, 6)).toEqual(["nix", "build", "--impure", "-L", "--out-link", "/srv/site/result"]);
    expect(argv[6]).toBe("--expr");
    expect(argv[7]).toBe(
      '((builtins.getFlake "git+file:///srv/site").nixosConfigurations.NixOS.extendModules { modules = [ (import "/tmp/flk-iso-x/NixOS.nix") ]; }).config.system.build.isoImage',
    );
  });

  test("adds the experimental-features flags only when nixInfo says they are needed", () => {
    const flags = ["--extra-experimental-features", "nix-command flakes"];
    expect(nixBuildArgv(plan, { flags })).toEqual(["nix", ...flags, ...nixBuildArgv(plan, { flags: [] }).slice(1)]);
  });

  test("passes the arguments after -- to nix unchanged, last", () => {
    expect(nixBuildArgv(plan, { flags: [] }).slice(-4)).toEqual(plan.extraArgs);
  });

  test("quotes host names that are not Nix identifiers", () => {
    expect(buildExpression("path:/s", "web.example", "/m.nix")).toContain('.nixosConfigurations."web.example".extendModules');
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
