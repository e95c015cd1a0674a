/**
 * The ISO module: nix-iso's own contribution to the `isoModule` waterfall,
 * and the one place the finished tree becomes a NixOS module file.
 */
import { FlkError, collectPaths, nix, renderKey, renderNix, renderString, type IsoModule } from "../../core/index.ts";
import type { SiteFlake } from "./flake.ts";

/** The generated module refers to the site, the full host and flk through these bindings (see renderModule). */
const FLAKE = "flake";
const SITE = "site";
const HOST = "host";
const FLK = "flk";

/** Where the live system mounts the ISO's root (nixpkgs iso-image.nix: `fileSystems."/iso"`, `device = "/dev/root"`). */
export const ISO_MOUNT = "/iso";

/** Where the ISO records what it carries (contract 5; read by `flk install` on the stick). */
export const LIVE_JSON = "/etc/flk/live.json";

/**
 * ISO9660 volume ids are at most 32 characters (nixpkgs iso-image.nix
 * asserts it) and NixOS boots with `root=LABEL=<volumeID>`: keep to
 * upper-case letters, digits, `-` and `_` so every firmware reads it alike.
 */
export function volumeId(host: string): string {
  const clean = host.toUpperCase().replace(/[^A-Z0-9_-]+/g, "-").replace(/^-+|-+$/g, "") || "HOST";
  return `FLK-${clean}`.slice(0, 32);
}

/**
 * The `isoImage.contents` target for `copyTo`. A contents target is relative
 * to the ISO's root, which the live system mounts at /iso (nixpkgs
 * iso-image.nix: the store squashfs is `target = "/nix-store.squashfs"` and
 * mounted from `device = "/iso/nix-store.squashfs"`). So the live path
 * `/iso/devos` is the target `/devos`; a copyTo outside /iso/ cannot exist.
 */
export function isoTarget(copyTo: string): string {
  const parts = copyTo.split("/");
  const ok = copyTo.startsWith(`${ISO_MOUNT}/`) && !parts.includes("..") && !parts.includes(".") && copyTo.length > ISO_MOUNT.length + 1;
  if (!ok)
    throw new FlkError(
      `flk.toml: [nix-iso] copyTo = '${copyTo}': the flake copy can only appear under ${ISO_MOUNT}/ on the live system, because NixOS mounts the ISO's root at ${ISO_MOUNT} (nixpkgs iso-image.nix) and the copy is a file on the ISO. Use a path like /iso/devos. Nothing was built.`,
      "E_CONFIG_VALUE",
    );
  return copyTo.slice(ISO_MOUNT.length).replace(/\/+$/, "");
}

/** What nix-iso needs to know to write its own part of the module. */
export interface OwnFacts {
  /**
   * Every input of the site flake, transitively, deduplicated: the access
   * path of each flake.lock node (`[["nixpkgs"], ["a", "b"]]`).
   */
  inputs: readonly (readonly string[])[];
  /** Absolute path of the running compiled flk, to put on the stick; undefined when flk runs from source. */
  flkBinary?: string;
}

/** What nix-iso itself sets (DESIGN.md "How `flk iso HOST` builds"). */
export function ownContribution(host: string, copyTo: string, facts: OwnFacts): IsoModule {
  const inputs = facts.inputs.map((path) => `${FLAKE}.${path.map((name) => `inputs.${renderKey(name)}`).join(".")}.outPath`);
  const build = `${HOST}.config.system.build`;
  // Inputs (an input's own inputs are needed to evaluate it offline), the
  // full host's toplevel (`nixos-install --system` copies it), the dev shell
  // of the host's own system, and the host's disko script when it has one.
  const storeContents = nix.raw(
    [
      `[ ${[...inputs, `${build}.toplevel`].join(" ")} ]`,
      `lib.optional (${FLAKE} ? devShells.\${system}.default) ${FLAKE}.devShells.\${system}.default`,
      `lib.optional (${FLAKE} ? devShell.\${system}) ${FLAKE}.devShell.\${system}`,
      `lib.optional (${build} ? diskoScript) ${build}.diskoScript`,
    ].join("\n    ++ "),
  );
  const live = {
    version: 1,
    host,
    toplevel: nix.raw(`${build}.toplevel`),
    flake: copyTo,
    narHash: nix.raw("narHash"),
    diskoScript: nix.raw(`${build}.diskoScript or null`),
  };
  return {
    imports: [nix.raw(`"\${modulesPath}/installer/cd-dvd/installation-cd-minimal.nix"`)],
    settings: {
      // mkForce: the host file may set its own hostName; the live system must
      // answer to HOST.local, the name `flk ssh HOST` asks for.
      networking: { hostName: nix.mkForce(host) },
      isoImage: {
        contents: [{ source: nix.raw(SITE), target: isoTarget(copyTo) }],
        storeContents,
        volumeID: volumeId(host),
        // The image's file name is nixos-EDITION-LABEL-SYSTEM.iso (nixpkgs
        // iso-image.nix `image.baseName`; installation-cd-base.nix
        // `isoImage.isoBaseName` before 25.05): the edition is the one part
        // both releases share, so the host's name goes there.
        edition: nix.mkForce(host),
      },
      environment: {
        // toJSON of a derivation is its store path, with its context: the
        // file depends on the toplevel, so the toplevel is built.
        etc: { [LIVE_JSON.slice("/etc/".length)]: { text: nix.raw(`builtins.toJSON ${renderNix(live, { indent: "" })}`) } },
        ...(facts.flkBinary ? { systemPackages: [nix.raw(FLK)] } : {}),
      },
    },
    files: [],
    notes: facts.flkBinary
      ? []
      : ["flk runs from source (bun bin/flk.ts), so the ISO carries no flk: build the binary first (`npm run build`) and run `dist/flk iso` to put flk on the stick."],
  };
}

/** Every site file the module needs: declared `files` and every `nix.path` in it. */
export function referencedFiles(module: IsoModule): string[] {
  const paths = [...module.files, ...collectPaths(module.imports), ...collectPaths(module.settings)];
  return [...new Set(paths)];
}

/**
 * Render the module as a self-contained NixOS module file: it needs only
 * NixOS's own arguments and reaches the site flake itself, so it can be read,
 * diffed or imported elsewhere. Site paths render as `site + "/file"`, a
 * path inside the flake's store copy, which is what Nix can see.
 */
export function renderModule(module: IsoModule, host: string, flake: SiteFlake, flkBinary?: string): string {
  const site = flake.subdir ? `${FLAKE}.outPath + ${renderString("/" + flake.subdir)}` : `${FLAKE}.outPath`;
  // `nix hash path` of the copy: the flake's own narHash when the site is the
  // flake's root, else the NAR hash of the subdirectory (fetchTree, --impure).
  const narHash = flake.subdir ? `(builtins.fetchTree { type = "path"; path = ${SITE}; }).narHash` : `${FLAKE}.narHash`;
  const body = renderNix({ imports: module.imports, ...module.settings }, { pathBase: SITE });
  return [
    `# The live-installer module for ${host}, generated by \`flk iso ${host}\`.`,
    `# Regenerate with \`flk iso ${host} --print-module\`; edits here are not kept.`,
    `{ config, lib, options, modulesPath, pkgs, ... }:`,
    `let`,
    `  ${FLAKE} = builtins.getFlake ${renderString(flake.ref)};`,
    `  ${SITE} = ${site};`,
    `  narHash = ${narHash};`,
    `  ${HOST} = ${FLAKE}.nixosConfigurations.${renderKey(host)};`,
    `  system = pkgs.stdenv.hostPlatform.system;`,
    ...(flkBinary ? flkBindings(flkBinary) : []),
    `in`,
    body,
    "",
  ].join("\n");
}

/**
 * flk on the stick. NixOS puts a stub at /lib64/ld-linux-x86-64.so.2
 * (nixpkgs nixos/modules/config/stub-ld.nix) that refuses generic-Linux
 * binaries, and a `bun build --compile` binary is one: so the wrapper runs it
 * through the store glibc's loader (`stdenv.cc.bintools.dynamicLinker`,
 * pkgs/build-support/bintools-wrapper/default.nix). The binary is copied into
 * the store as it is (builtins.path: no fixup, so never stripped: strip
 * removes Bun's payload) and never patchelf'd (it corrupts Bun binaries).
 */
function flkBindings(binary: string): string[] {
  return [
    `  ${FLK} = pkgs.writeShellScriptBin "flk" ''`,
    `    exec \${pkgs.stdenv.cc.bintools.dynamicLinker} \${builtins.path { path = ${renderString(binary)}; name = "flk-bin"; }} "$@"`,
    `  '';`,
  ];
}
