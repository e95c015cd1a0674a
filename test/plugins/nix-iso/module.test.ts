/** nix-iso's own module contribution and the rendering of the module file. */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mergeSettings, nix, renderNix } from "../../../core/nix.ts";
import { ownContribution, referencedFiles, renderModule, volumeId } from "../../../plugins/nix-iso/module.ts";
import { systemTest } from "../../helpers/require.ts";

const facts = { inputs: ["nixpkgs", "home-manager"], system: "x86_64-linux", devShell: "devShells" as const };
const gitFlake = { root: "/srv/site", ref: "git+file:///srv/site", gitTop: "/srv/site", subdir: "" };

describe("ownContribution", () => {
  const module = ownContribution("NixOS", "/iso/devos", facts);
  const settings = module.settings as any;

  test("imports the minimal installation CD through modulesPath", () => {
    expect(module.imports.map((i) => renderNix(i))).toEqual(['("${modulesPath}/installer/cd-dvd/installation-cd-minimal.nix")']);
  });

  test("forces the host name so the live system announces HOST.local", () => {
    expect(renderNix(settings.networking.hostName)).toBe('(lib.mkForce "NixOS")');
  });

  test("copies the site flake to copyTo", () => {
    expect(renderNix(settings.isoImage.contents, { indent: "" })).toBe('[ { source = (site); target = "/iso/devos"; } ]');
  });

  test("stores the flake inputs, the dev shell and the full host's toplevel on the stick", () => {
    expect(settings.isoImage.storeContents.map((v: any) => renderNix(v))).toEqual([
      "(flake.inputs.nixpkgs.outPath)",
      "(flake.inputs.home-manager.outPath)",
      "(flake.devShells.x86_64-linux.default)",
      "(flake.nixosConfigurations.NixOS.config.system.build.toplevel)",
    ]);
  });

  test("without a dev shell stores only inputs and the toplevel; a legacy devShell is used", () => {
    const none = ownContribution("A", "/iso/devos", { inputs: [], system: "aarch64-linux" }).settings as any;
    expect(none.isoImage.storeContents.map((v: any) => renderNix(v))).toEqual(["(flake.nixosConfigurations.A.config.system.build.toplevel)"]);
    const legacy = ownContribution("A", "/iso/devos", { inputs: [], system: "aarch64-linux", devShell: "devShell" }).settings as any;
    expect(renderNix(legacy.isoImage.storeContents[0])).toBe("(flake.devShell.aarch64-linux)");
  });

  test("other plugins' store contents and networkd settings merge into it", () => {
    const merged = mergeSettings(module.settings, { isoImage: { storeContents: [nix.raw("extra")] }, networking: { useNetworkd: true } }) as any;
    expect(merged.isoImage.storeContents).toHaveLength(5);
    expect(merged.networking.useNetworkd).toBe(true);
  });
});

describe("volumeId", () => {
  test("is at most 32 characters of A-Z 0-9 - _ (ISO9660, root=LABEL=)", () => {
    for (const host of ["NixOS", "a.very-long.host-name.example.org.with.more", "weird host/ü", "-"]) {
      const id = volumeId(host);
      expect(id.length).toBeLessThanOrEqual(32);
      expect(id).toMatch(/^[A-Z0-9_-]+$/);
    }
    expect(volumeId("NixOS")).toBe("FLK-NIXOS");
  });
});

describe("referencedFiles", () => {
  test("collects declared files and every nix.path in imports and settings, once each", () => {
    const module = {
      imports: [nix.path("modules/live.nix")],
      settings: { users: { users: { nixos: { openssh: { authorizedKeys: { keyFiles: [nix.path("secrets/keys/a.pub"), nix.path("secrets/keys/b.pub")] } } } } } },
      files: ["secrets/keys/a.pub", "secrets/host_key"],
      notes: [],
    };
    expect(referencedFiles(module).sort()).toEqual(["modules/live.nix", "secrets/host_key", "secrets/keys/a.pub", "secrets/keys/b.pub"]);
  });
});

describe("renderModule", () => {
  const module = ownContribution("NixOS", "/iso/devos", facts);
  module.settings = mergeSettings(module.settings, { users: { users: { nixos: { openssh: { authorizedKeys: { keyFiles: [nix.path("secrets/keys/alice.pub")] } } } } } });

  test("is a plain NixOS module that reaches the site flake by itself", () => {
    const text = renderModule(module, "NixOS", gitFlake);
    expect(text).toContain("{ config, lib, options, modulesPath, ... }:");
    expect(text).toContain('flake = builtins.getFlake "git+file:///srv/site";');
    expect(text).toContain("site = flake.outPath;");
  });

  test("renders site paths inside the flake's store copy (site + \"/file\")", () => {
    expect(renderModule(module, "NixOS", gitFlake)).toContain('(site + "/secrets/keys/alice.pub")');
  });

  test("a site in a subdirectory of its git repo points inside the repo's source", () => {
    const text = renderModule(module, "NixOS", { ...gitFlake, ref: "git+file:///repo?dir=sites/a", gitTop: "/repo", subdir: "sites/a" });
    expect(text).toContain('site = flake.outPath + "/sites/a";');
  });

  systemTest(["nix-instantiate"], { root: false })("parses as a Nix function of the NixOS module arguments (nix-instantiate --parse)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "flk-module-"));
    try {
      const file = join(dir, "m.nix");
      writeFileSync(file, renderModule(module, "NixOS", gitFlake));
      const child = Bun.spawn(["nix-instantiate", "--parse", file], { stdout: "pipe", stderr: "pipe" });
      const [out, err] = [await new Response(child.stdout).text(), await new Response(child.stderr).text()];
      expect({ code: await child.exited, err }).toEqual({ code: 0, err: "" });
      expect(out).toStartWith("({ config, lib, options, modulesPath, ... }: (let");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
