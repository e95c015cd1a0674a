/**
 * The installer's part of the live ISO: nixos-facter on the stick when the
 * host uses it, so `flk install HOST --hardware-config` can run it there.
 * nixpkgs' installer profiles do not carry it (nixos/modules/profiles/base.nix),
 * and nixos-anywhere falls back to `nix shell nixpkgs#nixos-facter`, which
 * needs the network; flk's stick installs offline.
 *
 * Decided inside the generated module, from the host's own configuration
 * (the ISO is the host extended): `hardware.facter.reportPath` (nixpkgs
 * nixos/modules/hardware/facter/default.nix) or nixos-facter-modules'
 * `facter.reportPath`, each guarded with `or null` so a release without the
 * option evaluates; `pkgs ? nixos-facter` because a nixpkgs older than the
 * package (added in 2024) can still use nixos-facter-modules. Without it
 * `flk install` refuses before mounting (E_NO_FACTER) and says what to add.
 */
import { nix } from "../../core/index.ts";
import type { IsoModule } from "../../core/index.ts";

/** The inline module: a NixOS module function, imported as it is. */
export const FACTER_ON_STICK =
  "({ config, lib, pkgs, ... }: { environment.systemPackages = lib.optional " +
  "(pkgs ? nixos-facter && ((config.hardware.facter.reportPath or null) != null || (config.facter.reportPath or null) != null)) " +
  "pkgs.nixos-facter; })";

/** Add nixos-facter to the live system when the host uses it. */
export function contributeIso(module: IsoModule): IsoModule {
  return { ...module, imports: [...module.imports, nix.raw(FACTER_ON_STICK)] };
}
