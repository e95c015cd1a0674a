/**
 * flk.toml: found at --config, else $FLK_CONFIG, else `flk.toml` in the site
 * root (the nearest directory with flake.nix), never in a directory above the
 * site: a planted /tmp/flk.toml or ../flk.toml must not steer flk. No file is
 * valid: every registered plugin is then on with its defaults. A config that
 * others may write, or one over 1 MiB, is refused before it is parsed.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readSync, realpathSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parse, TomlError } from "smol-toml";
import { FlkError, isFlkError, messageOf } from "./errors.ts";
import { defaultOptions, isTable, typeName, validateOptions, type PluginRegistry } from "./plugin.ts";
import { didYouMean } from "./suggest.ts";
import { ownersText, trustedOwners } from "./owner.ts";

/** The largest flk.toml flk reads (DESIGN.md "Trust rules"); a real one is under 2 KiB. */
export const MAX_CONFIG_BYTES = 1 << 20;

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
  /** Relative --config / $FLK_CONFIG paths are resolved from here. */
  cwd: string;
  /** The site root, when there is one: its flk.toml is the default config. */
  site?: string;
}

/** The config file to read, or undefined for built-in defaults. */
export function findConfigFile(source: ConfigSource): string | undefined {
  const given = source.explicit ?? (source.env ? source.env : undefined);
  if (given !== undefined) {
    const path = resolve(source.cwd, given);
    const flag = source.explicit !== undefined ? "--config" : "$FLK_CONFIG";
    const stat = statOrUndefined(path, true);
    if (!stat) throw new FlkError(`${flag} names ${path}, which does not exist. Create it or drop ${flag} to use the defaults.`, "E_CONFIG_MISSING");
    if (!stat.isFile()) throw new FlkError(`${flag} names ${path}, which is not a file.`, "E_CONFIG_MISSING");
    return path;
  }
  if (source.site === undefined) return undefined;
  const candidate = join(source.site, "flk.toml");
  // lstat: a dangling symlink is reported when it is read, not taken as "no config".
  return statOrUndefined(candidate, false) ? candidate : undefined;
}

function statOrUndefined(path: string, follow: boolean) {
  try {
    return follow ? statSync(path) : lstatSync(path);
  } catch {
    return undefined;
  }
}

/**
 * The text of a config file, read through one descriptor: refused (exit 2,
 * nothing read) when it is not a regular file, when group or others may
 * write it, when another user owns it (not this user, root, or $SUDO_UID
 * under sudo), or when it is over MAX_CONFIG_BYTES.
 */
export function readConfigText(file: string): string {
  let fd: number;
  try {
    // O_NONBLOCK: a FIFO named by --config would otherwise wait for a writer forever; the fstat below refuses it.
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw new FlkError(`cannot read ${file}: ${messageOf(error)}`, "E_CONFIG_READ", undefined, { cause: error });
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new FlkError(`${file} is not a regular file; flk reads its config only from a file.`, "E_CONFIG_READ");
    if (stat.mode & 0o022) {
      const who = [stat.mode & 0o020 ? "its group" : "", stat.mode & 0o002 ? "every user" : ""].filter(Boolean).join(" and ");
      throw new FlkError(
        `${file} may be written by ${who} (mode ${(stat.mode & 0o777).toString(8).padStart(4, "0")}), so someone else could change what flk builds and installs. Nothing was done. Fix: chmod go-w ${file}`,
        "E_CONFIG_PERMISSIONS",
      );
    }
    const owners = trustedOwners();
    if (owners && !owners.includes(stat.uid)) {
      // As ssh does for its config: a file another user owns could have been planted (a /tmp/flake.nix with
      // its flk.toml becomes the site of anyone who runs flk below /tmp without a site of their own).
      throw new FlkError(
        `${file} belongs to user id ${stat.uid}, not to ${ownersText(owners)}, so someone else could have put it there to change what flk builds and installs. Nothing was done. If it is yours: chown $(id -u) ${file}; or run flk inside your own site (--site DIR).`,
        "E_CONFIG_OWNER",
      );
    }
    if (stat.size > MAX_CONFIG_BYTES) throw tooBig(file, stat.size);
    // Sized by fstat plus one byte, so growth since fstat is seen; grown while
    // the file keeps growing, never past MAX_CONFIG_BYTES + 1 (not 1 MiB up
    // front for a 1 KiB file: every command reads this, `flk --help` too).
    let buffer = Buffer.allocUnsafe(stat.size + 1);
    let length = 0;
    for (let n; (n = readSync(fd, buffer, length, buffer.length - length, null)) > 0; ) {
      length += n;
      if (length > MAX_CONFIG_BYTES) throw tooBig(file, length);
      if (length === buffer.length) buffer = Buffer.concat([buffer], Math.min(2 * buffer.length, MAX_CONFIG_BYTES + 1));
    }
    return buffer.subarray(0, length).toString("utf8");
  } finally {
    closeSync(fd);
  }
}

function tooBig(file: string, size: number): FlkError {
  return new FlkError(`${file} is ${size} bytes; a flk.toml may be at most ${MAX_CONFIG_BYTES} bytes (1 MiB). It was not parsed. Is it the right file?`, "E_CONFIG_SIZE");
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
  const text = readConfigText(file);
  const link = symlinkTarget(file);
  try {
    return resolveConfig(registry, parseToml(text, file), file);
  } catch (error) {
    // Messages quote keys and values; for a link to a file elsewhere (say
    // ~/.ssh/id_ed25519), that would print the file it points at.
    if (link === undefined || !isFlkError(error) || error.code === "E_CONFIG_SYNTAX") throw error;
    throw new FlkError(
      `${file} (a symlink to ${link}) is not a valid flk.toml; the details are not shown, because they would quote ${link}. Nothing was done. Run \`flk --config ${link} plugins\` to see them.`,
      error.code,
      error.exitCode,
    );
  }
}

/** Where `file` points when it is a symlink, else undefined. */
function symlinkTarget(file: string): string | undefined {
  try {
    return lstatSync(file).isSymbolicLink() ? realpathSync(file) : undefined;
  } catch {
    return undefined;
  }
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
