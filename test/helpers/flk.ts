/**
 * One way to build an in-process flk for a library-level test: the given
 * plugins enabled (all, or `enabled` in that order), their options validated
 * and defaulted exactly as flk.toml's would be (resolveConfig), plain
 * output, no prompts unless asked.
 *
 *   const flk = testFlk({ plugins: [installer], options: { installer: { root } }, cwd: site });
 */
import { createFlk, type Flk } from "../../core/context.ts";
import { resolveConfig } from "../../core/config.ts";
import { PluginRegistry, type FlkPlugin } from "../../core/plugin.ts";

/** What the test sets; everything else is flk's default. */
export interface TestFlkOptions {
  plugins: readonly FlkPlugin<any>[];
  /** The enabled plugins in apply order, as flk.toml's `plugins = [...]` (default: all of `plugins`, in order). */
  enabled?: string[];
  /** Per-plugin option tables, as in flk.toml (`{ installer: { root: "/mnt" } }`). */
  options?: Record<string, Record<string, unknown>>;
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Default: json false, verbose false, yes true, color false. */
  flags?: { json?: boolean; verbose?: boolean; yes?: boolean; color?: boolean };
}

/** An flk with `plugins` registered and enabled, and their options resolved. */
export function testFlk(options: TestFlkOptions): Flk {
  const plugins = [...options.plugins];
  const raw = { plugins: options.enabled ?? plugins.map((p) => p.name), ...options.options };
  const config = resolveConfig(new PluginRegistry(plugins), raw, undefined);
  return createFlk({ plugins, config, cwd: options.cwd, env: options.env, flags: { json: false, verbose: false, yes: true, color: false, ...options.flags } });
}
