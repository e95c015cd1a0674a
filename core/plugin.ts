/**
 * Plugins are values: `definePlugin({ name, options, apply })` returns its
 * argument so option types are inferred. The registry checks names; options
 * from flk.toml are validated against each plugin's declared schema.
 */
import { FlkError } from "./errors.ts";
import { didYouMean } from "./suggest.ts";
import type { Flk } from "./context.ts";

/** One declared option: its type, default and a line of help. */
export type OptionSpec =
  | { type: "string"; default: string; description: string; enum?: readonly string[] }
  | { type: "boolean"; default: boolean; description: string }
  | { type: "number"; default: number; description: string; integer?: boolean; min?: number; max?: number }
  | { type: "string[]"; default: readonly string[]; description: string }
  /** A table of strings whose keys are exactly those of the default, e.g. `labels = { root = "nixos" }`. */
  | { type: "table"; default: Readonly<Record<string, string>>; description: string };

/** A plugin's option schema. */
export type OptionsSchema = Record<string, OptionSpec>;

type ValueOf<S extends OptionSpec> = S extends { type: "string"; enum: readonly (infer E)[] }
  ? E
  : S extends { type: "string" }
    ? string
    : S extends { type: "boolean" }
      ? boolean
      : S extends { type: "number" }
        ? number
        : S extends { type: "string[]" }
          ? string[]
          : S extends { type: "table"; default: infer D }
            ? { [K in keyof D]: string }
            : never;

/** The resolved option values of a schema. */
export type OptionsOf<S extends OptionsSchema> = { -readonly [K in keyof S]: ValueOf<S[K]> };

/** What a plugin needs on the machine; `flk doctor` checks it. */
export interface Requirements {
  /** Programs on PATH, each with what it is needed for. */
  programs?: Record<string, string>;
  /** How to get a program this plugin runs, when the operating system's package is not the answer (shown by `flk doctor` and the "not installed" error). */
  install?: Record<string, string>;
  /** Commands of this plugin that need root. */
  root?: string;
}

/** A plugin definition. */
export interface FlkPlugin<S extends OptionsSchema = OptionsSchema> {
  name: string;
  description: string;
  options: S;
  requires?: Requirements;
  /** Tap hooks; called once per flk instance, only when the plugin is enabled for the site. */
  apply(flk: Flk, options: OptionsOf<S>): void;
}

/** Identity with inference: `export default definePlugin({ … })`. */
export function definePlugin<const S extends OptionsSchema>(plugin: FlkPlugin<S>): FlkPlugin<S> {
  return plugin;
}

/**
 * A plugin's own typed options, kept per flk instance: the plugin declares
 * its schema once (`export const installerOptions = ownOptions({ root: … })`),
 * uses `installerOptions.schema` as definePlugin's `options`, hands apply()'s
 * resolved options to `keep(flk, options)`, and its library functions read
 * them back with `of(flk)`, typed from the schema (no name, no cast). No other
 * plugin can read them: plugins never import each other.
 */
export function ownOptions<const S extends OptionsSchema>(schema: S) {
  const kept = new WeakMap<Flk, OptionsOf<S>>();
  return {
    schema,
    /** Called by the plugin's apply() with the options it received. */
    keep(flk: Flk, options: OptionsOf<S>): void {
      kept.set(flk, options);
    },
    /** The options apply() kept for this flk; an internal error when the plugin was not applied to it. */
    of(flk: Flk): OptionsOf<S> {
      const options = kept.get(flk);
      if (!options) throw new FlkError("internal: this plugin was not applied to this flk instance (is it enabled?)", "E_INTERNAL", 1);
      return options;
    },
  };
}

/** Built-in plugins by name, checked for missing and duplicate names. */
export class PluginRegistry {
  readonly #plugins = new Map<string, FlkPlugin<any>>();

  constructor(plugins: readonly FlkPlugin<any>[] = []) {
    for (const plugin of plugins) this.add(plugin);
  }

  add(plugin: FlkPlugin<any>): void {
    if (typeof plugin?.name !== "string" || !/^[a-z][a-z0-9-]*$/.test(plugin.name))
      throw new FlkError(`a plugin has no valid name (got ${JSON.stringify(plugin?.name)}); names are lowercase words joined by '-'`, "E_PLUGIN_NAME");
    if (this.#plugins.has(plugin.name)) throw new FlkError(`two plugins are named '${plugin.name}'`, "E_PLUGIN_DUPLICATE");
    if (typeof plugin.apply !== "function") throw new FlkError(`plugin '${plugin.name}' has no apply() function`, "E_PLUGIN_APPLY");
    this.#plugins.set(plugin.name, plugin);
  }

  get(name: string): FlkPlugin<any> | undefined {
    return this.#plugins.get(name);
  }

  /** The plugin named `name`, or a FlkError with a did-you-mean (`where` names the config file). */
  require(name: string, where: string): FlkPlugin<any> {
    const plugin = this.#plugins.get(name);
    if (plugin) return plugin;
    throw new FlkError(
      `${where}: unknown plugin '${name}'.${didYouMean(name, this.names())} Known plugins: ${this.names().join(", ")}.`,
      "E_CONFIG_PLUGIN",
    );
  }

  names(): string[] {
    return [...this.#plugins.keys()];
  }

  all(): FlkPlugin<any>[] {
    return [...this.#plugins.values()];
  }
}

/** The defaults of a schema. */
export function defaultOptions<S extends OptionsSchema>(schema: S): OptionsOf<S> {
  const out: Record<string, unknown> = {};
  // A copy, so a run cannot change the schema's default; not structuredClone,
  // whose first call costs ~1 ms of every start-up (bun --cpu-prof, flk --help).
  // Defaults are strings, numbers, booleans, lists of strings or flat tables of strings.
  for (const [key, spec] of Object.entries(schema)) {
    const value: unknown = spec.default;
    out[key] = Array.isArray(value) ? [...value] : typeof value === "object" && value !== null ? { ...value } : value;
  }
  return out as OptionsOf<S>;
}

/** Validate `raw` (a TOML table) against `schema`; `where` is e.g. `flk.toml: [mdns]`. */
export function validateOptions<S extends OptionsSchema>(schema: S, raw: unknown, where: string): OptionsOf<S> {
  if (!isTable(raw)) throw new FlkError(`${where}: expected a table, got ${typeName(raw)}`, "E_CONFIG_TYPE");
  const out = defaultOptions(schema) as Record<string, unknown>;
  for (const [key, value] of Object.entries(raw)) {
    const spec = schema[key];
    if (!spec)
      throw new FlkError(
        `${where}: unknown key '${key}'.${didYouMean(key, Object.keys(schema))} Known keys: ${Object.keys(schema).join(", ") || "(none)"}.`,
        "E_CONFIG_KEY",
      );
    out[key] = checkValue(spec, value, `${where}.${key}`);
  }
  return out as OptionsOf<S>;
}

function checkValue(spec: OptionSpec, value: unknown, where: string): unknown {
  const wrong = (expected: string) => new FlkError(`${where}: expected ${expected}, got ${typeName(value)}`, "E_CONFIG_TYPE");
  switch (spec.type) {
    case "string":
      if (typeof value !== "string") throw wrong("a string");
      if (spec.enum && !spec.enum.includes(value))
        throw new FlkError(`${where}: expected one of ${spec.enum.map((e) => `"${e}"`).join(", ")}, got "${value}".${didYouMean(value, spec.enum)}`, "E_CONFIG_VALUE");
      return value;
    case "boolean":
      if (typeof value !== "boolean") throw wrong("a boolean (true or false)");
      return value;
    case "number":
      if (typeof value !== "number" || (spec.integer && !Number.isInteger(value))) throw wrong(spec.integer ? "an integer" : "a number");
      if ((spec.min !== undefined && value < spec.min) || (spec.max !== undefined && value > spec.max))
        throw new FlkError(`${where}: expected a number from ${spec.min ?? "-∞"} to ${spec.max ?? "∞"}, got ${value}`, "E_CONFIG_VALUE");
      return value;
    case "string[]":
      if (!Array.isArray(value) || !value.every((v) => typeof v === "string")) throw wrong("a list of strings");
      return value;
    case "table": {
      if (!isTable(value)) throw wrong(`a table like { ${Object.keys(spec.default).map((k) => `${k} = "…"`).join(", ")} }`);
      const out = { ...spec.default };
      for (const [key, item] of Object.entries(value)) {
        if (!(key in spec.default))
          throw new FlkError(`${where}: unknown key '${key}'.${didYouMean(key, Object.keys(spec.default))} Known keys: ${Object.keys(spec.default).join(", ")}.`, "E_CONFIG_KEY");
        if (typeof item !== "string") throw new FlkError(`${where}.${key}: expected a string, got ${typeName(item)}`, "E_CONFIG_TYPE");
        out[key] = item;
      }
      return out;
    }
  }
}

/** A plain TOML/JSON table. */
export function isTable(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** "a string (\"x\")", "a number (3)", "a list", "a table" — for type errors. */
export function typeName(value: unknown): string {
  if (Array.isArray(value)) return "a list";
  if (value === null || value === undefined) return "nothing";
  if (isTable(value)) return "a table";
  const shown = JSON.stringify(value);
  const article = typeof value === "boolean" ? "a boolean" : typeof value === "number" ? "a number" : typeof value === "string" ? "a string" : typeof value;
  return `${article} (${shown && shown.length > 40 ? shown.slice(0, 37) + "…" : shown})`;
}
