/** `flk plugins`: every built-in plugin, enabled or not for this site, with its options. */
import { defineCommand } from "../command.ts";
import { configOf, pluginsOf, type Flk } from "../context.ts";

/** One line for `flk --help`. */
export const PLUGINS_DESCRIPTION = "List plugins, enabled or not for this site, with their options";

/** One row of `flk plugins --json`. */
export interface PluginRow {
  name: string;
  enabled: boolean;
  description: string;
  options: Record<string, unknown>;
}

/** The rows `flk plugins` prints (a library function tests call directly). */
export function listPlugins(flk: Flk): PluginRow[] {
  return pluginsOf(flk).all().map((plugin) => ({
    name: plugin.name,
    enabled: flk.enabled(plugin.name),
    description: plugin.description,
    options: configOf(flk).options[plugin.name] ?? {},
  }));
}

export function pluginsCommand(flk: Flk) {
  return defineCommand({
    meta: { name: "plugins", description: PLUGINS_DESCRIPTION },
    run() {
      const rows = listPlugins(flk);
      if (flk.flags.json) return flk.printJson(rows);
      const source = flk.configFile ? `from ${flk.configFile}` : "built-in defaults: no flk.toml in the site";
      process.stdout.write(`plugins (${source}):\n`);
      for (const row of rows) {
        process.stdout.write(`  ${row.enabled ? "on " : "off"}  ${row.name.padEnd(10)} ${row.description}\n`);
        for (const [key, value] of Object.entries(row.options)) process.stdout.write(`         ${key} = ${tomlValue(value)}\n`);
      }
    },
  });
}

/** A value as flk.toml spells it: `"x"`, `true`, `3`, `["a", "b"]`, `{ root = "nixos" }` (so a line can be pasted into flk.toml). */
export function tomlValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value); // JSON string escapes are valid TOML basic-string escapes
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return `[${value.map(tomlValue).join(", ")}]`;
  if (value && typeof value === "object") {
    const key = (k: string) => (/^[A-Za-z0-9_-]+$/.test(k) ? k : JSON.stringify(k));
    const entries = Object.entries(value).map(([k, v]) => `${key(k)} = ${tomlValue(v)}`);
    return entries.length ? `{ ${entries.join(", ")} }` : "{}";
  }
  return JSON.stringify(value);
}
