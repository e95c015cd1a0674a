/**
 * Where a host's facter reportPath lands in the site (plugins/installer/facter.ts
 * reportFile): a path in the flake's store copy maps back to the same place in
 * the site; anything else is refused before anything runs. And the names
 * --hardware-backend accepts (nixos-anywhere's).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseBackend, reportFile } from "../../../plugins/installer/facter.ts";

const site = mkdtempSync(join(tmpdir(), "flk-facter-site-"));
afterAll(() => rmSync(site, { recursive: true, force: true }));
const source = "/nix/store/0vflvbjlg11nprj9spl44nzxcpxplbsq-source";
const at = (value: string, option: "hardware.facter.reportPath" | "facter.reportPath" = "hardware.facter.reportPath") => {
  try {
    return reportFile(site, source, "NixOS", { option, value });
  } catch (error) {
    const e = error as { code: string; exitCode: number; message: string };
    return `${e.code} ${e.exitCode}: ${e.message.split(":")[0]}`;
  }
};

describe("reportFile", () => {
  test("a path in the flake's store copy is the same path in the site", () => {
    expect(at(`${source}/hosts/NixOS/facter.json`)).toBe(join(site, "hosts", "NixOS", "facter.json"));
    expect(at(`${source}/facter.json`, "facter.reportPath")).toBe(join(site, "facter.json"));
  });

  test("an absolute path in the site itself (a string reportPath) is accepted", () => {
    expect(at(join(site, "hosts", "x.json"))).toBe(join(site, "hosts", "x.json"));
    expect(at(`${source}/..facter.json`)).toBe(join(site, "..facter.json"));
  });

  test("refused, exit 2: outside the site, another store path, the site itself, .git, a relative string", () => {
    expect(at("/etc/facter.json")).toBe("E_FACTER_PATH 2: NixOS's hardware.facter.reportPath is /etc/facter.json, outside the site");
    expect(at("/nix/store/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa-facter.json")).toMatch(/^E_FACTER_PATH 2: .*, outside the site$/);
    expect(at(`${source}-other/facter.json`)).toMatch(/^E_FACTER_PATH 2: .*, outside the site$/);
    expect(at(`${source}/hosts/../../escape.json`)).toMatch(/^E_FACTER_PATH 2: .*, outside the site$/);
    expect(at(source)).toMatch(/^E_FACTER_PATH 2: .*, the site itself, not a file in it$/);
    expect(at(`${source}/.git/facter.json`)).toMatch(/^E_FACTER_PATH 2: .*, inside the site's \.git directory$/);
    expect(at("facter.json")).toMatch(/^E_FACTER_PATH 2: .*, outside the site$/);
  });
});

describe("--hardware-backend", () => {
  test("takes nixos-anywhere's two names and nothing else", () => {
    expect(parseBackend("nixos-facter")).toBe("nixos-facter");
    expect(parseBackend("nixos-generate-config")).toBe("nixos-generate-config");
    expect(parseBackend(undefined)).toBeUndefined();
    expect(() => parseBackend("facter")).toThrow("expected --hardware-backend nixos-facter or nixos-generate-config, got 'facter'");
  });
});
