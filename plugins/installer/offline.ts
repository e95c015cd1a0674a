/**
 * Offline install (DESIGN.md contract 5): on a stick built by `flk iso`,
 * `nixos-install --system <toplevel>` installs exactly the system that was
 * built — no evaluation, no network — when the stick was built for this
 * host and the flake copy is byte for byte the one it was built from (its
 * `nix hash path` equals the recorded narHash). Anything else, or
 * `--rebuild`, evaluates the flake (`--flake`). The decision is made from
 * what the probe saw on the machine being installed, so over `--target` it
 * is the live side's.
 */
import type { Facts } from "./probe.ts";

/** Which source nixos-install gets, and why. */
export type Source =
  | { kind: "system"; toplevel: string; reason: string }
  | { kind: "flake"; reason: string };

/** Decide between `--system` and `--flake`. */
export function chooseSource(facts: Facts, host: string, flakeDir: string, rebuild: boolean): Source {
  const live = facts.live;
  if (rebuild) return { kind: "flake", reason: "--rebuild: evaluate the flake" };
  if (!live) return { kind: "flake", reason: `no ${facts.liveRecordPath || "/etc/flk/live.json"} (not a stick built by flk iso)` };
  if ("error" in live) return { kind: "flake", reason: `the stick's record is unusable (${live.error})` };
  if (live.host !== host) return { kind: "flake", reason: `the stick was built for ${live.host}, not ${host}` };
  if (!facts.toplevelPresent) return { kind: "flake", reason: `the recorded system ${live.toplevel} is not in the store` };
  if (!facts.flakeHash) return { kind: "flake", reason: `could not hash ${flakeDir} (nix hash path)` };
  if (facts.flakeHash !== live.narHash)
    return { kind: "flake", reason: `${flakeDir} differs from the flake the stick was built from (nix hash path ${facts.flakeHash}, recorded ${live.narHash})` };
  return { kind: "system", toplevel: live.toplevel, reason: `the stick carries ${host}'s system, built from this very flake copy (narHash ${live.narHash})` };
}
