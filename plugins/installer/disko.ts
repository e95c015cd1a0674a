/**
 * A host's own disko layout: when `nixosConfigurations.HOST.config` defines
 * `disko.devices`, `flk disk --host HOST` runs that host's
 * `system.build.diskoScript` (disko's "format and mount" script, which
 * nixos-anywhere runs too) instead of the manual's layout — the host's
 * layout, not ours.
 */
import { FlkError, nixInfo, run } from "../../core/index.ts";
import type { Step } from "./hooks.ts";

/** What the host's disko configuration says. */
export interface DiskoHost {
  host: string;
  /** `disko.devices.disk.<name>.device` by disk name (null when unset). */
  disks: Record<string, string | null>;
  /** The flake attribute of the script: `path:SITE#nixosConfigurations.HOST.config.system.build.diskoScript`. */
  scriptAttr: string;
  /** A prebuilt script in the store (the stick records it in /etc/flk/live.json), else built when run. */
  script?: string;
}

/** `path:` flake URL of a directory: what nix reads without git (the live copy has no .git). */
export function pathFlake(dir: string): string {
  return `path:${dir.split("/").map(encodeURIComponent).join("/")}`;
}

/**
 * Ask nix whether HOST defines disko, and which devices it formats.
 * null: no disko (the manual's layout applies). Evaluation errors are exit 1
 * with nix's last lines (the host may not evaluate at all).
 */
export async function readDisko(site: string, host: string): Promise<DiskoHost | null> {
  const info = await nixInfo();
  const attr = `${pathFlake(site)}#nixosConfigurations.${JSON.stringify(host)}.config`;
  // Only `disko` is forced: `config` itself is not evaluated further.
  const apply = "c: if c ? disko && c.disko ? devices then builtins.mapAttrs (n: d: d.device or null) (c.disko.devices.disk or { }) else null";
  const result = await run(["nix", ...info.flags, "eval", "--json", attr, "--apply", apply]);
  if (result.code !== 0)
    throw new FlkError(`cannot evaluate nixosConfigurations.${host} in ${site} to look for a disko layout:\n${result.tail.slice(-5).join("\n")}\nNothing was written.`, "E_NIX_EVAL", 1);
  const disks = JSON.parse(result.stdout) as Record<string, string | null> | null;
  if (disks === null) return null;
  return { host, disks, scriptAttr: `${pathFlake(site)}#nixosConfigurations.${JSON.stringify(host)}.config.system.build.diskoScript` };
}

/** Refuse unless DEVICE is a disk the host's disko config formats: disko writes the devices it names, not the one on the command line. */
export function checkDiskoDevice(disko: DiskoHost, device: string, realpath: (p: string) => string): void {
  const named = Object.values(disko.disks).filter((d): d is string => typeof d === "string");
  if (named.some((d) => d === device || realpath(d) === device)) return;
  throw new FlkError(
    `${disko.host}'s disko layout formats ${named.join(", ") || "no disk with a device set"}, not ${device}. Nothing was written. ` +
      `Run \`flk disk ${named[0] ?? "DEVICE"} --host ${disko.host}\`, or set disko.devices.disk.<name>.device to ${device} in the host's configuration.`,
    "E_DISKO_DEVICE",
  );
}

/** The step that builds (unless prebuilt) and runs the host's disko script. */
export function diskoSteps(disko: DiskoHost, nixFlags: string[]): Step[] {
  const build = disko.script
    ? ["sh", "-c", 'exec "$1"', "disko", disko.script]
    : // `--json` (not --print-out-paths, which nix < 2.9 lacks): [{"drvPath":…,"outputs":{"out":"/nix/store/…"}}].
      ["sh", "-c", 'out=$(nix "$@" build --no-link --json "$0") || exit $?; script=$(printf %s "$out" | sed -n \'s/.*"out":"\\([^"]*\\)".*/\\1/p\'); [ -x "$script" ] || { echo "flk: nix built no disko script for $0" >&2; exit 1; }; exec "$script"', disko.scriptAttr, ...nixFlags];
  return [{ id: "disko", title: `run ${disko.host}'s own disko script (its layout, not the manual's)`, argv: build }];
}
