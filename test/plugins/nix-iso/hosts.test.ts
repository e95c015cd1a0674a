/** flk hosts: the listing and picking hosts by name, on real directories. */
import { afterEach, describe, expect, test } from "bun:test";
import { refusal as refuse } from "../../helpers/refusal.ts";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFlk } from "../../../core/context.ts";
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

/** The FlkError `promise` rejects with. */
function refusal(promise: Promise<unknown>) {
  return refuse(() => promise);
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

describe("siteHosts: a dangling symlink", () => {
  test("is skipped with a warning naming it", () => {
    const dir = site({ "hosts/NixOS.nix": "{}" });
    symlinkSync(join(dir, "hosts", "gone.nix.orig"), join(dir, "hosts", "Gone.nix"));
    const warnings: string[] = [];
    const flk = createFlk({ plugins: [nixIso], cwd: dir });
    flk.logger = (() => ({ warn: (m: string) => warnings.push(m) })) as any;
    expect(siteHosts(flk).map((h) => h.name)).toEqual(["NixOS"]);
    expect(warnings.join("\n")).toContain("skipping hosts/Gone.nix: a symlink to nothing");
  });
});

describe("pickHosts (fast path: every name in hosts/, no evaluation)", () => {
  const flake = { root: "/nowhere", ref: "path:/nowhere", subdir: "" };
  const pick = (dir: string, names: string[], all = false) => pickHosts(flkAt(dir), flake, names, all);

  test("names found in hosts/ are taken without running nix, once each, in the order given", async () => {
    const dir = site({ "hosts/NixOS.nix": "{}", "hosts/Other/default.nix": "{}" });
    expect(await pick(dir, ["Other", "NixOS", "Other"])).toEqual(["Other", "NixOS"]);
  });

  test("asks for a host when none is named, listing them; names and --all together are refused", async () => {
    const dir = site({ "hosts/NixOS.nix": "{}", "hosts/Other/default.nix": "{}" });
    const none = await refusal(pick(dir, []));
    expect(none.code).toBe("E_USAGE");
    expect(none.message).toContain("NixOS, Other");
    expect((await refusal(pick(dir, ["NixOS"], true))).code).toBe("E_USAGE");
  });
});
