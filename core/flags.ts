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
export async function checkFlags(command: CommandDef<any>, argv: readonly string[], path: string[], globals: readonly string[] = []): Promise<void> {
  const { known, shown } = await declaredFlags(command);
  const subs = ((await resolve(command.subCommands)) ?? {}) as Record<string, CommandDef<any>>;
  const usage = `Run \`${path.join(" ")} --help\` for its options.`;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith("-") || arg === "-") {
      const sub = subs[arg];
      if (sub) return checkFlags((await resolve(sub))!, argv.slice(i + 1), [...path, arg], globals);
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
}
