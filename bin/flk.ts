#!/usr/bin/env bun
/**
 * flk entry point: only wires the built-in plugins into the core CLI.
 */
import pkg from "../package.json" with { type: "json" };
import type { FlkPlugin } from "../core/plugin.ts";

const INTRO = `flk ${pkg.version}: from a NixOS flake to an installed machine

  1. flk keys add ~/.ssh/id_ed25519.pub   let yourself log in to the live installer
  2. flk iso NixOS                        build the live ISO for hosts/NixOS.nix
  3. flk write result/iso/*.iso /dev/sdX  flash it to a USB stick, verified
  4. flk ssh NixOS                        boot the stick, find it (mDNS, fe80::47), log in
  5. flk install NixOS                    mount by label and nixos-install --flake`;

async function main(argv: string[]): Promise<number> {
  // `flk --version` is what scripts and shells call most: answer it before
  // loading the CLI, the plugins and their dependencies (measured: bench/startup).
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-V")) {
    process.stdout.write(pkg.version + "\n");
    return 0;
  }
  // require(), not import(): Bun's bundler wraps required modules in lazy
  // initialisers, so --version above never evaluates the CLI or the plugins
  // (measured with bench/startup: a dynamic import() was evaluated eagerly).
  const { runCli } = require("../core/cli.ts") as typeof import("../core/cli.ts");
  const plugin = (module: { default: FlkPlugin<any> }) => module.default;
  const nixIso = plugin(require("../plugins/nix-iso/index.ts"));
  const ddWriter = plugin(require("../plugins/dd-writer/index.ts"));
  const mdns = plugin(require("../plugins/mdns/index.ts"));
  const ipv6Lla = plugin(require("../plugins/ipv6-lla/index.ts"));
  const sshKeys = plugin(require("../plugins/ssh-keys/index.ts"));
  const installer = plugin(require("../plugins/installer/index.ts"));
  return runCli(argv, {
    // Order matters: locate taps run in this order (mdns before ipv6-lla).
    plugins: [nixIso, ddWriter, mdns, ipv6Lla, sshKeys, installer],
    version: pkg.version,
    intro: INTRO,
  });
}

// No top-level await, so the bundle stays valid for any output format.
void main(process.argv.slice(2)).then((code) => process.exit(code));
