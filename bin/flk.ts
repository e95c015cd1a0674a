#!/usr/bin/env bun
/**
 * flk entry point: only wires the built-in plugins into the core CLI.
 */
import { runCli } from "../core/cli.ts";
import pkg from "../package.json" with { type: "json" };
import nixIso from "../plugins/nix-iso/index.ts";
import ddWriter from "../plugins/dd-writer/index.ts";
import mdns from "../plugins/mdns/index.ts";
import ipv6Lla from "../plugins/ipv6-lla/index.ts";
import sshKeys from "../plugins/ssh-keys/index.ts";
import installer from "../plugins/installer/index.ts";

const INTRO = `flk ${pkg.version}: from a NixOS flake to an installed machine

  1. flk keys add ~/.ssh/id_ed25519.pub   let yourself log in to the live installer
  2. flk iso NixOS                        build the live ISO for hosts/NixOS.nix
  3. flk write result/iso/*.iso /dev/sdX  flash it to a USB stick, verified
  4. flk ssh NixOS                        boot the stick, find it (mDNS, fe80::47), log in
  5. flk install NixOS                    mount by label and nixos-install --flake`;

// No top-level await: `bun build --bytecode` compiles to CommonJS.
void runCli(process.argv.slice(2), {
  plugins: [nixIso, ddWriter, mdns, ipv6Lla, sshKeys, installer],
  version: pkg.version,
  intro: INTRO,
}).then((code) => process.exit(code));
