/** flk hosts: the listing and picking hosts by name, on real directories. */
import { afterEach, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFlk } from "../../../core/context.ts";
import { isFlkError } from "../../../core/errors.ts";
import nixIso from "../../../plugins/nix-iso/index.ts";
import { pickHosts, siteHosts } from "../../../plugins/nix-iso/hosts.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function site(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), "flk-hosts-"));
  dirs.push(dir);
  writeFileSync(join(dir, "flake.nix"), "{ outputs = _: { }; }\n");
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(join(dir, path, ".."), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

function flkAt(dir: string) {
  return createFlk({ plugins: [nixIso], cwd: dir });
}

function refusal(fn: () => unknown): { message: string; exitCode: number; code: string } {
  try {
    fn();
  } catch (error) {
    if (isFlkError(error)) return error;
    throw error;
  }
  throw new Error("expected a FlkError");
}

describe("siteHosts", () => {
  test("lists hosts/*.nix and hosts/NAME/default.nix, sorted, without default.nix", () => {
    const dir = site({
      "hosts/zeta.nix": "{}",
      "hosts/NixOS.nix": "{}",
      "hosts/default.nix": "{}",
      "hosts/box/default.nix": "{}",
      "hosts/empty-dir/README": "not a host",
      "hosts/notes.txt": "not a host",
    });
    expect(siteHosts(flkAt(dir))).toEqual([
      { name: "NixOS", file: "hosts/NixOS.nix" },
      { name: "box", file: "hosts/box/default.nix" },
      { name: "zeta", file: "hosts/zeta.nix" },
    ]);
  });

  test("reads the hosts directory from flk.toml", () => {
    const dir = site({ "machines/a.nix": "{}", "hosts/b.nix": "{}", "flk.toml": '[nix-iso]\nhosts = "machines"\n' });
    expect(siteHosts(flkAt(dir)).map((h) => h.name)).toEqual(["a"]);
  });
});

describe("pickHosts", () => {
  const hosts = [
    { name: "NixOS", file: "hosts/NixOS.nix" },
    { name: "Other", file: "hosts/Other/default.nix" },
  ];

  test("refuses an unknown host with a did-you-mean and the host list", () => {
    const error = refusal(() => pickHosts(hosts, ["nixso"], false, "hosts"));
    expect(error.exitCode).toBe(2);
    expect(error.code).toBe("E_UNKNOWN_HOST");
    expect(error.message).toContain("unknown host 'nixso'");
    expect(error.message).toContain("Did you mean `NixOS`?");
    expect(error.message).toContain("Hosts: NixOS, Other.");
  });

  test("--all takes every host; names and --all together are refused", () => {
    expect(pickHosts(hosts, [], true, "hosts").map((h) => h.name)).toEqual(["NixOS", "Other"]);
    expect(refusal(() => pickHosts(hosts, ["NixOS"], true, "hosts")).code).toBe("E_USAGE");
  });

  test("asks for a host when none is named, listing them", () => {
    const error = refusal(() => pickHosts(hosts, [], false, "hosts"));
    expect(error.message).toContain("NixOS, Other");
  });

  test("a site without hosts is refused, naming the directory", () => {
    const error = refusal(() => pickHosts([], ["NixOS"], false, "machines"));
    expect(error.code).toBe("E_NO_HOSTS");
    expect(error.message).toContain("machines/*.nix");
  });

  test("a host named twice is built once, in the order given", () => {
    expect(pickHosts(hosts, ["Other", "NixOS", "Other"], false, "hosts").map((h) => h.name)).toEqual(["Other", "NixOS"]);
  });
});
