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
  5. flk install NixOS                    mount by label and nixos-install (the stick's system, offline)`;

async function main(argv: string[]): Promise<number> {
  // `flk --version` is what scripts and shells call most: answer it before
  // loading the CLI, the plugins and their dependencies (measured: bench/startup).
  // console.log, not process.stdout: see print() in core/cli.ts.
  if (argv.length === 1 && (argv[0] === "--version" || argv[0] === "-v" || argv[0] === "-V")) {
    console.log(pkg.version);
    return 0;
  }
  // import(), built with --splitting: the CLI and the plugins are a chunk of
  // their own, read only now, so --version evaluates none of them and their
  // built-in imports (node:crypto alone is ~15 ms) (bench/startup.ts).
  const { runCli, builtinPlugins } = await import("./builtin.ts");
  return runCli(argv, {
    plugins: builtinPlugins,
    version: pkg.version,
    intro: INTRO,
  });
}

// No top-level await, so the bundle stays valid for any output format.
void main(process.argv.slice(2)).then((code) => process.exit(code));
