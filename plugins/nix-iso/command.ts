/**
 * The nix command line of `flk iso` (DESIGN.md step 3), as argv so it runs
 * without a shell and prints exactly as it runs. Every requested host is
 * one attribute of one generated file, built by one `nix build`: evaluation
 * is shared (the site flake is fetched once) and builds run in parallel
 * (`--max-jobs`) or on remote builders (`-- --builders …`).
 */
import { renderKey, renderString, type NixInfo } from "../../core/index.ts";

/** One host of a build. */
export interface HostBuild {
  host: string;
  /** Absolute path of the rendered module file. */
  moduleFile: string;
}

/** What the one `nix build` needs. */
export interface NixBuildPlan {
  /** The flake reference of the site. */
  ref: string;
  hosts: readonly HostBuild[];
  /** Absolute path of the generated attribute file (one attribute per host). */
  attrsFile: string;
  /** Absolute out-link of the first host; nix names the others OUT-1, OUT-2, … in order. */
  outLink: string;
  /** Arguments after `--`, passed to nix unchanged (e.g. `--builders`, `--max-jobs`). */
  extraArgs: readonly string[];
}

/**
 * The attribute file: each host extended with its generated module, its
 * isoImage. `nix build -f FILE HOST…` builds the ones named.
 */
export function attrsFileText(ref: string, hosts: readonly HostBuild[]): string {
  return attrsText(ref, hosts.map((h) => ({ host: h.host, module: `(import ${renderString(h.moduleFile)})` })));
}

/**
 * The same attribute set with each module's text inlined, for `--expr`: the
 * command `flk iso --dry-run` prints then needs no file, so planning writes
 * nothing (DESIGN.md Trust rules). Each module text is one Nix expression.
 */
export function attrsExprText(ref: string, hosts: readonly { host: string; text: string }[]): string {
  return attrsText(ref, hosts.map((h) => ({ host: h.host, module: `(\n${h.text.trimEnd()}\n)` })));
}

function attrsText(ref: string, hosts: readonly { host: string; module: string }[]): string {
  return [
    "# The live ISOs of one `flk iso` run, one attribute per host (nix build -f THIS-FILE HOST…).",
    "let",
    `  flake = builtins.getFlake ${renderString(ref)};`,
    "  configurations = flake.nixosConfigurations or { };",
    "  iso = host: module:",
    "    if !(configurations ? ${host}) then throw \"flk: the flake has no nixosConfigurations.${host}: add it to flake.nix\"",
    "    else (configurations.${host}.extendModules { modules = [ module ]; }).config.system.build.isoImage;",
    "in",
    "{",
    ...hosts.map((h) => `  ${renderKey(h.host)} = iso ${renderString(h.host)} ${h.module};`),
    "}",
    "",
  ].join("\n");
}

/** The out-link nix makes for the host at `index` (nix build: OUT, OUT-1, OUT-2, …). */
export function outLinkOf(base: string, index: number): string {
  return index === 0 ? base : `${base}-${index}`;
}

/**
 * `nix build --impure -L --keep-going --out-link OUT -f FILE HOST… ARGS…`.
 * --impure because getFlake of a local path is impure (and the module may
 * take flk's binary by absolute path); -L streams build logs line by line;
 * --keep-going so one failing host does not stop the others' builds.
 * The experimental-features flag comes from nixInfo() only when needed.
 */
export function nixBuildArgv(plan: NixBuildPlan, info: Pick<NixInfo, "flags">, hosts: readonly string[] = plan.hosts.map((h) => h.host)): string[] {
  return ["nix", ...info.flags, "build", "--impure", "-L", "--keep-going", "--out-link", plan.outLink, "-f", plan.attrsFile, ...hosts.map(attrArg), ...plan.extraArgs];
}

/** The same build with the attribute set given inline (`--expr TEXT` for `-f FILE`): what `--dry-run` prints. */
export function nixBuildExprArgv(plan: NixBuildPlan, info: Pick<NixInfo, "flags">, expr: string): string[] {
  const argv = nixBuildArgv(plan, info);
  const at = argv.indexOf("-f");
  return [...argv.slice(0, at), "--expr", expr, ...argv.slice(at + 2)];
}

/** A host as a `-f` attribute path argument: quoted when it is not a plain identifier. */
export function attrArg(host: string): string {
  return renderKey(host);
}

/** POSIX-shell quoting for a command a person can paste: core/shell.ts's shJoin. */
export { shJoin as shellQuote } from "../../core/index.ts";
