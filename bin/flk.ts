#!/usr/bin/env bun
/**
 * flk entry point: only wires the built-in plugins into the core CLI.
 */
import pkg from "../package.json" with { type: "json" };

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
  const [{ runCli }, nixIso, ddWriter, mdns, ipv6Lla, sshKeys, installer] = await Promise.all([
    import("../core/cli.ts"),
    import("../plugins/nix-iso/index.ts"),
    import("../plugins/dd-writer/index.ts"),
    import("../plugins/mdns/index.ts"),
    import("../plugins/ipv6-lla/index.ts"),
    import("../plugins/ssh-keys/index.ts"),
    import("../plugins/installer/index.ts"),
  ]);
  return runCli(argv, {
    // Order matters: locate taps run in this order (mdns before ipv6-lla).
    plugins: [nixIso.default, ddWriter.default, mdns.default, ipv6Lla.default, sshKeys.default, installer.default],
    version: pkg.version,
    intro: INTRO,
  });
}

// No top-level await, so the bundle stays valid for any output format.
void main(process.argv.slice(2)).then((code) => process.exit(code));
