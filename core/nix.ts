/**
 * Nix values as data, rendered to Nix source in one place, and the nix runner.
 * No plugin concatenates Nix source: it builds a tree of these values.
 */
import { ExitCode, FlkError } from "./errors.ts";
import { run, which, providerOf } from "./exec.ts";

const RAW = Symbol.for("flk.nix.raw");
const PATH = Symbol.for("flk.nix.path");

/** A Nix expression inserted verbatim (parenthesised), e.g. `lib.mkForce true`. */
export interface NixRaw {
  readonly [RAW]: string;
}
/** A path relative to the site root, e.g. `secrets/keys/alice.pub`. */
export interface NixPath {
  readonly [PATH]: string;
}
/** Anything the renderer accepts. `undefined` attribute values are left out. */
export type NixValue =
  | string
  | number
  | boolean
  | null
  | NixRaw
  | NixPath
  | readonly NixValue[]
  | { readonly [key: string]: NixValue | undefined };

/** Constructors for the two non-JSON kinds of value. */
export const nix = Object.freeze({
  /** A raw Nix expression; trusted source text, so only for constants a plugin writes itself. */
  raw(expression: string): NixRaw {
    return { [RAW]: expression };
  },
  /** A site-relative path; rejects absolute paths and `..` so it stays inside the site. */
  path(relative: string): NixPath {
    if (relative.startsWith("/") || relative.split("/").includes("..") || relative === "")
      throw new FlkError(`expected a path inside the site, got '${relative}'`, "E_NIX_PATH");
    return { [PATH]: relative.replace(/^\.\//, "") };
  },
  /** `lib.mkForce value` */
  mkForce(value: NixValue): NixRaw {
    return { [RAW]: `lib.mkForce ${renderNix(value)}` };
  },
  /** `lib.mkDefault value` */
  mkDefault(value: NixValue): NixRaw {
    return { [RAW]: `lib.mkDefault ${renderNix(value)}` };
  },
});

/** True for `nix.raw(…)` values. */
export function isRaw(value: unknown): value is NixRaw {
  return typeof value === "object" && value !== null && RAW in value;
}
/** True for `nix.path(…)` values. */
export function isPath(value: unknown): value is NixPath {
  return typeof value === "object" && value !== null && PATH in value;
}
/** The site-relative string of a `nix.path`. */
export function pathOf(value: NixPath): string {
  return value[PATH];
}

export interface RenderOptions {
  /** Nix expression that a site path is appended to, e.g. `"/srv/site"` or `flake.outPath`. Default `./.`. */
  pathBase?: string;
  /** Indentation unit; "" renders on one line. */
  indent?: string;
}

const KEYWORDS = new Set(["if", "then", "else", "assert", "with", "let", "in", "rec", "inherit", "or", "true", "false", "null"]);
const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_'-]*$/;

/** A Nix double-quoted string literal. Nix has no \u escape, so other characters go in raw (UTF-8). */
export function renderString(text: string): string {
  if (text.includes("\0")) throw new FlkError("Nix strings cannot hold a NUL character", "E_NIX_NUL");
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"' || c === "\\") out += "\\" + c;
    else if (c === "$" && text[i + 1] === "{") out += "\\$";
    else if (c === "\n") out += "\\n";
    else if (c === "\r") out += "\\r";
    else if (c === "\t") out += "\\t";
    else out += c;
  }
  return out + '"';
}

/** An attribute name, quoted when it is not a plain identifier or is a keyword. */
export function renderKey(key: string): string {
  return IDENTIFIER.test(key) && !KEYWORDS.has(key) ? key : renderString(key);
}

/** Render a value as Nix source. */
export function renderNix(value: NixValue, options: RenderOptions = {}, depth = 0): string {
  const unit = options.indent ?? "  ";
  const nl = unit === "" ? " " : "\n";
  const pad = unit.repeat(depth + 1);
  const end = unit.repeat(depth);
  if (value === null) return "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "string") return renderString(value);
  if (typeof value === "number") return renderNumber(value);
  if (isRaw(value)) return `(${value[RAW]})`;
  if (isPath(value)) return `(${options.pathBase ?? "./."} + ${renderString("/" + value[PATH])})`;
  if (Array.isArray(value)) {
    if (value.length === 0) return "[ ]";
    const items = value.map((item: NixValue) => pad + renderNix(item, options, depth + 1));
    return `[${nl}${items.join(nl)}${nl}${end}]`;
  }
  const entries = Object.entries(value as Record<string, NixValue | undefined>).filter(([, v]) => v !== undefined);
  if (entries.length === 0) return "{ }";
  const lines = entries.map(([k, v]) => `${pad}${renderKey(k)} = ${renderNix(v as NixValue, options, depth + 1)};`);
  return `{${nl}${lines.join(nl)}${nl}${end}}`;
}

function renderNumber(value: number): string {
  if (!Number.isFinite(value)) throw new FlkError(`Nix has no ${value}`, "E_NIX_NUMBER");
  // A negative literal is unary minus: parenthesise so it stays one list element.
  if (Number.isSafeInteger(value)) return value < 0 ? `(${value})` : String(value);
  // Nix float literals need a digit, a dot and a digit before any exponent.
  const [mantissa, exponent] = Math.abs(value).toExponential().split("e") as [string, string];
  const text = `${mantissa.includes(".") ? mantissa : mantissa + ".0"}e${exponent}`;
  return value < 0 ? `(-${text})` : text;
}

/**
 * Merge module trees: objects by key, lists concatenated (also a list given
 * as a raw Nix expression with a plain one); two different
 * scalars at one path are a conflict naming the path.
 */
export function mergeSettings(a: Record<string, NixValue>, b: Record<string, NixValue>, at = ""): Record<string, NixValue> {
  const out: Record<string, NixValue> = { ...a };
  for (const [key, value] of Object.entries(b)) {
    const here = at ? `${at}.${key}` : key;
    const mine = out[key];
    if (mine === undefined) out[key] = value;
    else if (Array.isArray(mine) && Array.isArray(value)) out[key] = [...mine, ...value];
    // A list one plugin computes in Nix (a raw expression) still takes others' items: `(raw) ++ [ … ]`.
    else if ((isRaw(mine) && Array.isArray(value)) || (Array.isArray(mine) && isRaw(value))) out[key] = nix.raw(`${renderNix(mine)} ++ ${renderNix(value)}`);
    else if (isPlainObject(mine) && isPlainObject(value)) out[key] = mergeSettings(mine, value, here);
    else if (renderNix(mine) !== renderNix(value))
      throw new FlkError(`two plugins set \`${here}\` differently (${renderNix(mine, { indent: "" })} and ${renderNix(value, { indent: "" })})`, "E_MODULE_CONFLICT", ExitCode.refused);
  }
  return out;
}

function isPlainObject(value: unknown): value is Record<string, NixValue> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && !isRaw(value) && !isPath(value);
}

/** Every `nix.path` in a tree, site-relative, in order of appearance. */
export function collectPaths(value: NixValue | undefined, out: string[] = []): string[] {
  if (isPath(value)) out.push(value[PATH]);
  else if (Array.isArray(value)) for (const item of value) collectPaths(item, out);
  else if (isPlainObject(value)) for (const item of Object.values(value)) collectPaths(item, out);
  return out;
}

/** The local nix: its version and the flags `nix` (the new CLI) needs for flakes. */
export interface NixInfo {
  version: string;
  /** `["--extra-experimental-features", "nix-command flakes"]` when the config does not enable them. */
  flags: string[];
}

let cachedInfo: Promise<NixInfo> | undefined;

/**
 * Probe nix once per process. One `nix eval` without flags answers both
 * questions: it fails when nix-command is off, and `builtins ? getFlake` is
 * false when flakes are off.
 */
export function nixInfo(): Promise<NixInfo> {
  cachedInfo ??= (async () => {
    if (!which("nix"))
      throw new FlkError(`\`nix\` is not installed or not on PATH. Install it with ${providerOf("nix")}.`, "E_NIX_MISSING");
    const version = (await run(["nix", "--version"])).stdout.trim().replace(/^nix \(Nix\) /, "");
    const probe = await run(["nix", "eval", "--json", "--expr", "builtins ? getFlake"]);
    const ready = probe.code === 0 && probe.stdout.trim() === "true";
    return { version, flags: ready ? [] : ["--extra-experimental-features", "nix-command flakes"] };
  })();
  cachedInfo.catch(() => (cachedInfo = undefined));
  return cachedInfo;
}
