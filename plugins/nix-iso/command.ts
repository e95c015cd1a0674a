/**
 * The nix command line of one ISO build (DESIGN.md step 3), as argv so it
 * runs without a shell and prints exactly as it runs.
 */
import { renderKey, renderString, type NixInfo } from "../../core/index.ts";

/** What one `nix build` needs. */
export interface NixBuildPlan {
  host: string;
  /** The flake reference of the site. */
  ref: string;
  /** Absolute path of the rendered module file. */
  moduleFile: string;
  /** Absolute out-link. */
  outLink: string;
  /** Arguments after `--`, passed to nix unchanged (e.g. `--builders`, `--max-jobs`). */
  extraArgs: readonly string[];
}

/** The Nix expression: the host, extended with the generated module, its isoImage. */
export function buildExpression(ref: string, host: string, moduleFile: string): string {
  const config = `(builtins.getFlake ${renderString(ref)}).nixosConfigurations.${renderKey(host)}`;
  return `(${config}.extendModules { modules = [ (import ${renderString(moduleFile)}) ]; }).config.system.build.isoImage`;
}

/**
 * `nix build --impure -L --out-link OUT --expr EXPR ARGS…`. --impure because
 * getFlake of a local path is impure; -L streams build logs line by line.
 * The experimental-features flag comes from nixInfo() only when needed.
 */
export function nixBuildArgv(plan: NixBuildPlan, info: Pick<NixInfo, "flags">): string[] {
  return [
    "nix",
    ...info.flags,
    "build",
    "--impure",
    "-L",
    "--out-link",
    plan.outLink,
    "--expr",
    buildExpression(plan.ref, plan.host, plan.moduleFile),
    ...plan.extraArgs,
  ];
}

/** POSIX-shell quoting for a command a person can paste: core/shell.ts's shJoin. */
export { shJoin as shellQuote } from "../../core/index.ts";
