/** nix-iso's own module contribution and the rendering of the module file. */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { mergeSettings, nix, renderNix } from "../../../core/nix.ts";
import { isoTarget, ownContribution, referencedFiles, renderModule, volumeId } from "../../../plugins/nix-iso/module.ts";
import { isFlkError } from "../../../core/errors.ts";
import { systemTest } from "../../helpers/require.ts";

const facts = { inputs: [["nixpkgs"], ["home-manager"], ["home-manager", "utils"]] };
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

  test("copies the site flake to copyTo, as a target relative to the ISO root the live system mounts at /iso", () => {
    expect(renderNix(settings.isoImage.contents, { indent: "" })).toBe('[ { source = (site); target = "/devos"; } ]');
  });

  test("stores every locked input (transitively), the full host's toplevel, the dev shell of the host's system and its disko script", () => {
    const text = renderNix(settings.isoImage.storeContents);
    expect(text).toContain("[ flake.inputs.nixpkgs.outPath flake.inputs.home-manager.outPath flake.inputs.home-manager.inputs.utils.outPath host.config.system.build.toplevel ]");
    expect(text).toContain("lib.optional (flake ? devShells.${system}.default) flake.devShells.${system}.default");
    expect(text).toContain("lib.optional (flake ? devShell.${system}) flake.devShell.${system}");
    expect(text).toContain("lib.optional (host.config.system.build ? diskoScript) host.config.system.build.diskoScript");
  });

  test("records the stick in /etc/flk/live.json (contract 5)", () => {
    expect(renderNix(settings.environment.etc["flk/live.json"].text, { indent: "" })).toBe(
      '(builtins.toJSON { version = 1; host = "NixOS"; toplevel = (host.config.system.build.toplevel); flake = "/iso/devos"; narHash = (narHash); diskoScript = (host.config.system.build.diskoScript or null); })',
    );
  });

  test("names the image after the host (isoImage.edition is in its file name on every release)", () => {
    expect(renderNix(settings.isoImage.edition)).toBe('(lib.mkForce "NixOS")');
  });

  test("other plugins' store contents and networkd settings merge into it", () => {
    const merged = mergeSettings(module.settings, { isoImage: { storeContents: [nix.raw("extra")] }, networking: { useNetworkd: true } }) as any;
    expect(renderNix(merged.isoImage.storeContents)).toEndWith("++ [\n  (extra)\n])");
    expect(merged.networking.useNetworkd).toBe(true);
  });

  test("puts flk on PATH only when it runs compiled, else says how to get it there", () => {
    expect(settings.environment.systemPackages).toBeUndefined();
    expect(module.notes.join(" ")).toContain("npm run build");
    const compiled = ownContribution("NixOS", "/iso/devos", { ...facts, flkBinary: "/opt/flk" });
    expect((compiled.settings as any).environment.systemPackages.map((v: any) => renderNix(v))).toEqual(["(flk)"]);
    expect(compiled.notes).toEqual([]);
  });
});

describe("isoTarget", () => {
  test("maps the live path under /iso to a target relative to the ISO root", () => {
    expect(isoTarget("/iso/devos")).toBe("/devos");
    expect(isoTarget("/iso/sites/lab/")).toBe("/sites/lab");
  });

  test("refuses a copyTo outside /iso/ (exit 2), saying why", () => {
    for (const bad of ["/devos", "/iso", "/iso/", "iso/devos", "/iso/../etc", "/isodevos"]) {
      let error: unknown;
      try {
        isoTarget(bad);
      } catch (e) {
        error = e;
      }
      expect(isFlkError(error) && error.exitCode === 2 && error.code === "E_CONFIG_VALUE").toBe(true);
      expect((error as Error).message).toContain("NixOS mounts the ISO's root at /iso");
    }
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
    expect(text).toContain("{ config, lib, options, modulesPath, pkgs, ... }:");
    expect(text).toContain("host = flake.nixosConfigurations.NixOS;");
    expect(text).toContain("system = pkgs.stdenv.hostPlatform.system;");
    expect(text).toContain("narHash = flake.narHash;");
    expect(text).toContain('flake = builtins.getFlake "git+file:///srv/site";');
    expect(text).toContain("site = flake.outPath;");
  });

  test("renders site paths inside the flake's store copy (site + \"/file\")", () => {
    expect(renderModule(module, "NixOS", gitFlake)).toContain('(site + "/secrets/keys/alice.pub")');
  });

  test("a site in a subdirectory of its git repo points inside the repo's source", () => {
    const text = renderModule(module, "NixOS", { ...gitFlake, ref: "git+file:///repo?dir=sites/a", gitTop: "/repo", subdir: "sites/a" });
    expect(text).toContain('site = flake.outPath + "/sites/a";');
    expect(text).toContain('narHash = (builtins.fetchTree { type = "path"; path = site; }).narHash;');
  });

  test("wraps a compiled flk to run through the store glibc's loader, the binary copied as it is", () => {
    const text = renderModule(module, "NixOS", gitFlake, "/opt/my flk/flk");
    expect(text).toContain('flk = pkgs.writeShellScriptBin "flk" \'\'');
    expect(text).toContain('exec ${pkgs.stdenv.cc.bintools.dynamicLinker} ${builtins.path { path = "/opt/my flk/flk"; name = "flk-bin"; }} "$@"');
  });

  systemTest(["nix-instantiate"], { root: false })("parses as a Nix function of the NixOS module arguments (nix-instantiate --parse)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "flk-module-"));
    try {
      const file = join(dir, "m.nix");
      writeFileSync(file, renderModule(module, "NixOS", gitFlake, "/opt/flk"));
      const child = Bun.spawn(["nix-instantiate", "--parse", file], { stdout: "pipe", stderr: "pipe" });
      const [out, err] = [await new Response(child.stdout).text(), await new Response(child.stderr).text()];
      expect({ code: await child.exited, err }).toEqual({ code: 0, err: "" });
      expect(out).toStartWith("({ config, lib, options, modulesPath, pkgs, ... }: (let");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
