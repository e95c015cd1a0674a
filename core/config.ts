/**
 * flk.toml: found at --config, else $FLK_CONFIG, else the nearest flk.toml
 * walking up from the working directory. No file is valid: every registered
 * plugin is then on with its defaults.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { parse, TomlError } from "smol-toml";
import { FlkError, messageOf } from "./errors.ts";
import { defaultOptions, isTable, typeName, validateOptions, type PluginRegistry } from "./plugin.ts";
import { didYouMean } from "./suggest.ts";

/** The site configuration after discovery, defaults and validation. */
export interface ResolvedConfig {
  /** Absolute path of the flk.toml that was read, if any. */
  file?: string;
  /** Enabled plugin names, in the order they apply. */
  enabled: string[];
  /** Resolved options of every registered plugin (enabled or not). */
  options: Record<string, Record<string, unknown>>;
}

/** Where to look for the config. */
export interface ConfigSource {
  /** `--config FILE` */
  explicit?: string;
  /** Normally `process.env.FLK_CONFIG`. */
  env?: string;
  /** Where the walk up starts. */
  cwd: string;
}

/** The config file to read, or undefined for built-in defaults. */
export function findConfigFile(source: ConfigSource): string | undefined {
  const given = source.explicit ?? (source.env ? source.env : undefined);
  if (given !== undefined) {
    const path = resolve(source.cwd, given);
    const flag = source.explicit !== undefined ? "--config" : "$FLK_CONFIG";
    if (!existsSync(path)) throw new FlkError(`${flag} names ${path}, which does not exist. Create it or drop ${flag} to use the defaults.`, "E_CONFIG_MISSING");
    if (!statSync(path).isFile()) throw new FlkError(`${flag} names ${path}, which is not a file.`, "E_CONFIG_MISSING");
    return path;
  }
  for (let dir = resolve(source.cwd); ; dir = dirname(dir)) {
    const candidate = join(dir, "flk.toml");
    if (existsSync(candidate)) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/**
 * Parse TOML text; errors name the file, line and column of the mistake.
 *
 * smol-toml, not Bun.TOML (bench/toml.ts, 2026-11-29, Bun 1.4.5): Bun's
 * parser is quadratic in the keys of one table (10,000 keys: 158 ms against
 * smol-toml's 9.6 ms), and its error positions changed across releases (1.4.5
 * reports line 51 for a mistake on line 3 of a 4-line file). smol-toml is
 * 29 KiB minified, 1.3–2× faster on flk-sized files, and its TomlError
 * carries line and column. Only its first message line is kept: the rest is
 * a copy of the file's lines, which an error must not echo (the file may be
 * a symlink to something private).
 */
export function parseToml(text: string, file: string): Record<string, unknown> {
  try {
    return parse(text) as Record<string, unknown>;
  } catch (error) {
    if (!(error instanceof TomlError)) throw error;
    const message = error.message.split("\n")[0]!.replace(/^Invalid TOML document: /, "");
    throw new FlkError(`${file}:${error.line}:${error.column}: invalid TOML: ${message}`, "E_CONFIG_SYNTAX", undefined, { cause: error });
  }
}

/** Discover, read and validate the config against the registry. */
export function loadConfig(registry: PluginRegistry, source: ConfigSource): ResolvedConfig {
  const file = findConfigFile(source);
  if (!file) return resolveConfig(registry, {}, undefined);
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new FlkError(`cannot read ${file}: ${messageOf(error)}`, "E_CONFIG_READ", undefined, { cause: error });
  }
  return resolveConfig(registry, parseToml(text, file), file);
}

/** Validate a parsed config table (exported for tests). */
export function resolveConfig(registry: PluginRegistry, raw: Record<string, unknown>, file: string | undefined): ResolvedConfig {
  const label = file ? displayPath(file) : "flk.toml";
  const names = registry.names();
  let enabled = names;
  for (const [key, value] of Object.entries(raw)) {
    if (key === "plugins") {
      if (!Array.isArray(value) || !value.every((v) => typeof v === "string"))
        throw new FlkError(`${label}: plugins: expected a list of plugin names, got ${typeName(value)}`, "E_CONFIG_TYPE");
      for (const name of value) registry.require(name, `${label}: plugins`);
      enabled = [...new Set(value as string[])];
    } else if (!registry.get(key)) {
      throw new FlkError(
        `${label}: unknown key or plugin table '${key}'.${didYouMean(key, ["plugins", ...names])} Top-level keys: plugins, ${names.map((n) => `[${n}]`).join(", ")}.`,
        "E_CONFIG_KEY",
      );
    } else if (!isTable(value)) {
      throw new FlkError(`${label}: ${key}: expected a table [${key}], got ${typeName(value)}`, "E_CONFIG_TYPE");
    }
  }
  const options: ResolvedConfig["options"] = {};
  for (const plugin of registry.all())
    options[plugin.name] =
      raw[plugin.name] === undefined ? defaultOptions(plugin.options) : validateOptions(plugin.options, raw[plugin.name], `${label}: [${plugin.name}]`);
  return { file, enabled, options };
}

function displayPath(file: string): string {
  const rel = relative(process.cwd(), file);
  return rel && !rel.startsWith("..") ? rel : file;
}
