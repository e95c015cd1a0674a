/**
 * `--hardware-config` for a host that uses nixos-facter: run `nixos-facter`
 * on the target (as root, no arguments: its JSON report on stdout) and
 * write the report where the host's `reportPath` points inside the site.
 *
 * Sources this follows:
 * - nix-community/nixos-anywhere src/nixos-anywhere.sh, generateHardwareConfig():
 *   `--generate-hardware-config nixos-facter PATH` runs `${maybeSudo} nixos-facter`
 *   over ssh (root, or sudo/doas) with no flags and redirects its stdout into PATH
 *   on the operator's side; the other backend is `nixos-generate-config`.
 * - nix-community/nixos-facter cmd/root.go: refuses to run unless euid 0; without
 *   `-o` it prints the report (json.MarshalIndent) on stdout; pkg/facter/facter.go:
 *   the report's top level is `version`, `system`, `virtualisation`, `uefi`,
 *   `hardware`, `smbios` (and `swap` with --swap/--ephemeral).
 * - NixOS/nixpkgs nixos/modules/hardware/facter/default.nix (upstreamed 2025):
 *   `hardware.facter.reportPath` (nullOr path, default null), read with
 *   `builtins.fromJSON (builtins.readFile reportPath)`.
 * - nix-community/nixos-facter-modules modules/nixos/facter.nix (now deprecated
 *   in favour of nixpkgs): the same option as `facter.reportPath`.
 */
import { existsSync, lstatSync, realpathSync } from "node:fs";
import { dirname, isAbsolute, join, normalize, relative, sep } from "node:path";
import { FlkError, nixInfo, renderString, run, writeFileAtomic } from "../../core/index.ts";
import type { Step } from "./hooks.ts";
import { DATA_PREFIX, hardwarePath, refuseLinks, trackInGit, type HardwareWritten } from "./extras.ts";
import { pathFlake } from "./disko.ts";

/** The two tools `--hardware-config` can run, named as nixos-anywhere's `--generate-hardware-config` names them. */
export const HARDWARE_BACKENDS = ["nixos-facter", "nixos-generate-config"] as const;
export type HardwareBackend = (typeof HARDWARE_BACKENDS)[number];

/** What the host's configuration says about nixos-facter. */
export interface FacterSetting {
  /** The option that is set: nixpkgs' `hardware.facter.reportPath`, or nixos-facter-modules' `facter.reportPath`. */
  option: "hardware.facter.reportPath" | "facter.reportPath";
  /** Its value as nix prints it (a path in the flake's store copy, or a string). */
  value: string;
}

/** What `--hardware-config` will do. */
export type HardwarePlan =
  | { backend: "nixos-generate-config"; facter: FacterSetting | null }
  | { backend: "nixos-facter"; file: string; facter: FacterSetting | null };

/**
 * Ask nix whether HOST sets a facter reportPath, and the store path of the
 * site's flake (module paths like `./facter.json` evaluate inside it).
 * Only the two options are forced, each guarded (`or null`, tryEval), so a
 * host without the facter module, or an older nixpkgs, is simply "no".
 */
export async function readFacter(site: string, host: string): Promise<{ source: string; setting: FacterSetting | null }> {
  const info = await nixInfo();
  const expr = `let
    flake = builtins.getFlake ${renderString(pathFlake(site))};
    config = (flake.nixosConfigurations.${renderString(host)} or { }).config or { };
    attempt = v: let t = builtins.tryEval v; in if t.success then t.value else null;
    current = attempt (config.hardware.facter.reportPath or null);
    older = attempt (config.facter.reportPath or null);
    # toString: the path as a string, never copied to the store (the report may not exist yet).
    pick = option: v: { inherit option; value = toString v; };
  in {
    source = flake.outPath;
    setting = if current != null then pick "hardware.facter.reportPath" current
      else if older != null then pick "facter.reportPath" older else null;
  }`;
  // --impure: getFlake of an unlocked path: flake (disko.ts reads `path:` for the same reason: untracked files count).
  // env: the environment as it is now (NIX_CONFIG, PATH), not Bun's snapshot from start-up.
  const result = await run(["nix", ...info.flags, "eval", "--impure", "--json", "--expr", expr], { env: process.env });
  if (result.code !== 0)
    throw new FlkError(
      `cannot evaluate nixosConfigurations.${host} in ${site} to see whether it uses nixos-facter:\n${result.tail.slice(-5).join("\n")}\n` +
        "Nothing was changed. Fix the evaluation, or choose the tool with --hardware-backend nixos-generate-config|nixos-facter.",
      "E_NIX_EVAL",
      1,
    );
  return JSON.parse(result.stdout) as { source: string; setting: FacterSetting | null };
}

/**
 * Where in the site a reportPath lands. A path in the flake's store copy
 * maps back to the same relative path in the site; anything else (another
 * store path, /etc/…, a directory, .git) is refused: exit 2, nothing written.
 */
export function reportFile(site: string, source: string, host: string, setting: FacterSetting): string {
  const refuse = (why: string) =>
    new FlkError(
      `${host}'s ${setting.option} is ${setting.value}, ${why}: flk writes the nixos-facter report only inside the site (${site}). Nothing was run or written. ` +
        `Point it at a file in the site, e.g. \`${setting.option} = ./facter.json;\` beside the host's file, or capture nixos-generate-config's text instead (--hardware-backend nixos-generate-config).`,
      "E_FACTER_PATH",
    );
  const value = normalize(setting.value);
  const siteReal = realpathSync(site);
  const rel = [source, site, siteReal].map((base) => inside(base, value)).find((r) => r !== undefined);
  if (rel === undefined) throw refuse("outside the site");
  if (rel === "") throw refuse("the site itself, not a file in it");
  if (rel.split(sep)[0] === ".git") throw refuse("inside the site's .git directory");
  const file = join(site, rel);
  // Checked now, so a link on the way is exit 2 before the target runs anything; checked again when writing.
  refuseLinks(site, file);
  if (existsSync(file) && !lstatSync(file).isFile()) throw refuse("which is not a regular file");
  return file;
}

/** `path` relative to `base` when it lies under it, else undefined. */
function inside(base: string, path: string): string | undefined {
  if (!isAbsolute(path)) return undefined;
  const rel = relative(base, path);
  return rel === ".." || rel.startsWith(`..${sep}`) || isAbsolute(rel) ? undefined : rel;
}

/**
 * Decide the tool: an explicit `--hardware-backend`, else nixos-facter when
 * the host sets a reportPath, else nixos-generate-config (the default of
 * NixOS's installation manual). Forced nixos-facter on a host without a
 * reportPath writes `hosts/HOST/facter.json` and says how to reference it.
 */
export async function planHardware(site: string, host: string, requested?: HardwareBackend): Promise<HardwarePlan> {
  if (requested === "nixos-generate-config") return { backend: "nixos-generate-config", facter: null };
  const { source, setting } = await readFacter(site, host);
  if (setting) return { backend: "nixos-facter", file: reportFile(site, source, host, setting), facter: setting };
  if (requested === "nixos-facter") {
    const file = join(site, "hosts", host, "facter.json");
    refuseLinks(site, file);
    return { backend: "nixos-facter", file, facter: null };
  }
  return { backend: "nixos-generate-config", facter: null };
}

/**
 * nixos-facter must be on the target before anything runs: nixpkgs'
 * installer ISO does not carry it (profiles/base.nix), and a run that
 * stopped at that step would leave the disk mounted for nothing.
 */
export function checkFacterTool(plan: HardwarePlan | undefined, present: boolean, where: string, host: string, dryRun: boolean): void {
  if (plan?.backend !== "nixos-facter" || present || dryRun) return;
  throw new FlkError(
    `\`nixos-facter\` is not on PATH on ${where}, and ${plan.facter ? `${host} sets ${plan.facter.option}` : "--hardware-backend nixos-facter asks for it"}. Nothing was mounted or changed. ` +
      `Boot a stick built by \`flk iso ${host}\` (it carries nixos-facter for a host that sets reportPath), or add \`pkgs.nixos-facter\` to ${host}'s environment.systemPackages and build the stick again; ` +
      "or capture nixos-generate-config's text instead (--hardware-backend nixos-generate-config).",
    "E_NO_FACTER",
  );
}

/** Check `--hardware-backend`: one of the two names nixos-anywhere uses. */
export function parseBackend(value: unknown): HardwareBackend | undefined {
  if (value === undefined || value === "") return undefined;
  if ((HARDWARE_BACKENDS as readonly unknown[]).includes(value)) return value as HardwareBackend;
  throw new FlkError(`expected --hardware-backend nixos-facter or nixos-generate-config, got '${String(value)}'`, "E_USAGE");
}

/** The step that runs nixos-facter on the target (the script runs as root) and sends its report back as data lines. */
export function facterStep(dest: string): Step {
  return {
    id: "facter-report",
    title: `capture the target's hardware report (nixos-facter) for ${dest}`,
    // As hardwareStep: the report goes to fd 3, one prefixed line each; nothing is written on the target.
    argv: ["sh", "-c", `out=$(nixos-facter) || exit $?; printf '%s\\n' "$out" | sed 's/^/${DATA_PREFIX}/' >&3`, "facter-report"],
  };
}

/**
 * Write the report atomically at `file` (inside the site, no links on the
 * way): it must parse as JSON with nixos-facter's top-level `version` (a
 * truncated report would break the host's evaluation). Warn when the host
 * does not reference it (no reportPath set), and when git does not track it.
 */
export async function writeFacterReport(site: string, host: string, file: string, text: string, referenced: boolean, gitAdd: boolean): Promise<HardwareWritten> {
  let report: unknown;
  try {
    report = JSON.parse(text);
  } catch (error) {
    throw new FlkError(`nixos-facter's report is not JSON (${(error as Error).message}); ${relative(site, file)} was not written.`, "E_FACTER_REPORT", 1);
  }
  if (typeof report !== "object" || report === null || !("version" in report))
    throw new FlkError(`nixos-facter's report has no "version" at its top level; ${relative(site, file)} was not written.`, "E_FACTER_REPORT", 1);
  refuseLinks(site, file);
  const data = text.endsWith("\n") ? text : text + "\n";
  writeFileAtomic(file, data);
  const rel = relative(site, file);
  const warnings: string[] = [];
  if (!referenced) {
    const { hostFile } = hardwarePath(site, host);
    const ref = `./${relative(dirname(hostFile), file)}`;
    warnings.push(`${relative(site, hostFile)} does not set hardware.facter.reportPath, so the host does not use ${rel}: add \`hardware.facter.reportPath = ${ref};\` to it (nixpkgs ≥ 25.11; with nixos-facter-modules: facter.reportPath).`);
  }
  const git = await trackInGit(site, rel, gitAdd);
  if (git.warning) warnings.push(git.warning);
  return { backend: "nixos-facter", file, bytes: new TextEncoder().encode(data).length, imported: referenced, gitAdded: git.gitAdded, warnings };
}
