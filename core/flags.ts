/**
 * Strict flags: citty accepts any `--flag` it does not know, so a mistyped
 * `--dry-run` would run the real thing. Every flag is checked against the
 * command's declared arguments before the command runs (exit 2 otherwise).
 */
import type { ArgDef, CommandDef } from "citty";
import { FlkError } from "./errors.ts";
import { didYouMean } from "./suggest.ts";

type Kind = "boolean" | "string";

async function resolve<T>(value: T | Promise<T> | (() => T | Promise<T>) | undefined): Promise<T | undefined> {
  return typeof value === "function" ? await (value as () => T | Promise<T>)() : await value;
}

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const camel = (name: string) => name.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

/** The flags a command declares: every spelling citty accepts, with its kind, and the spellings to suggest. */
async function declaredFlags(command: CommandDef<any>): Promise<{ known: Map<string, Kind>; shown: string[] }> {
  const known = new Map<string, Kind>();
  const shown: string[] = [];
  const args = ((await resolve(command.args)) ?? {}) as Record<string, ArgDef>;
  for (const [name, def] of Object.entries(args)) {
    if (def.type === "positional") continue;
    const kind: Kind = def.type === "boolean" ? "boolean" : "string";
    const aliases = "alias" in def && def.alias !== undefined ? [def.alias].flat() : [];
    for (const spelling of [name, kebab(name), camel(name), ...aliases]) known.set(spelling, kind);
    shown.push(`--${kebab(name)}`, ...aliases.map((a) => (a.length === 1 ? `-${a}` : `--${a}`)));
    if (kind === "boolean") shown.push(`--no-${kebab(name)}`);
  }
  return { known, shown };
}

/**
 * Refuse (exit 2) a flag the command (or the subcommand argv selects) does not
 * declare, and a string flag without its value. `path` names the command for
 * messages, e.g. ["flk", "lla", "eui64"].
 */
export async function checkFlags(
  command: CommandDef<any>,
  argv: readonly string[],
  path: string[],
  globals: readonly string[] = [],
): Promise<{ command: CommandDef<any>; path: string[]; needsSubcommand: boolean }> {
  const { known, shown } = await declaredFlags(command);
  const subs = ((await resolve(command.subCommands)) ?? {}) as Record<string, CommandDef<any>>;
  const usage = `Run \`${path.join(" ")} --help\` for its options.`;
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("-") || arg === "-") {
      const sub = subs[arg];
      if (sub) return checkFlags((await resolve(sub))!, argv.slice(i + 1), [...path, arg], globals);
      // A command that is only a group of subcommands: a word that is none of them is a typo.
      if (Object.keys(subs).length > 0 && !command.run)
        throw new FlkError(
          `unknown subcommand '${arg}' of \`${path.join(" ")}\`.${didYouMean(arg, Object.keys(subs))} Run \`${path.join(" ")} --help\` for the list.`,
          "E_UNKNOWN_COMMAND",
        );
      positionals.push(arg);
      continue;
    }
    const long = arg.startsWith("--");
    const [spelled, inline] = arg.includes("=") ? [arg.slice(0, arg.indexOf("=")), arg.slice(arg.indexOf("=") + 1)] : [arg, undefined];
    const name = spelled.replace(/^--?/, "");
    let kind = known.get(name);
    if (!kind && long && name.startsWith("no-") && known.get(name.slice(3)) === "boolean") kind = "boolean";
    if (!kind) {
      throw new FlkError(`unknown option ${spelled} for \`${path.join(" ")}\`.${didYouMean(spelled, [...shown, ...globals])} ${usage}`, "E_USAGE");
    }
    if (kind === "string" && inline === undefined) {
      const value = argv[i + 1];
      if (value === undefined || (value.startsWith("-") && value !== "-"))
        throw new FlkError(`${spelled} needs a value (\`${spelled} VALUE\`). ${usage}`, "E_USAGE");
      i++;
    } else if (kind === "string" && inline === "") {
      throw new FlkError(`${spelled} needs a value (\`${spelled}=VALUE\`). ${usage}`, "E_USAGE");
    }
  }
  await checkPositionals(command, positionals, path, usage);
  return { command, path, needsSubcommand: Object.keys(subs).length > 0 && !command.run };
}

/**
 * Refuse positional arguments beyond those the command declares (citty
 * would drop them silently). A command whose last positional's hint ends
 * in "…" (`DEVICE…`) takes any number; one that declares none is left alone
 * (it may read them all, as `flk iso HOST…` does).
 */
async function checkPositionals(command: CommandDef<any>, given: string[], path: string[], usage: string): Promise<void> {
  const args = ((await resolve(command.args)) ?? {}) as Record<string, ArgDef>;
  const declared = Object.entries(args).filter(([, def]) => def.type === "positional");
  if (declared.length === 0 || given.length <= declared.length) return;
  const hint = (name: string, def: ArgDef) => ("valueHint" in def && def.valueHint ? def.valueHint : name.toUpperCase());
  if (hint(...declared.at(-1)!).endsWith("…")) return;
  const extra = given.slice(declared.length);
  throw new FlkError(
    `too many arguments for \`${path.join(" ")}\`: ${extra.map((a) => `'${a}'`).join(" ")} (it takes ${declared.map(([n, d]) => hint(n, d)).join(" ")}). Nothing was done. ${usage}`,
    "E_USAGE",
  );
}
