/**
 * `flk completion bash|zsh|fish`: a completion script generated from the
 * commands the enabled plugins registered (subcommands, their flags, and
 * second-level subcommands such as `keys add`).
 */
import type { CommandDef } from "citty";
import { defineCommand } from "../command.ts";
import { FlkError } from "../errors.ts";
import { didYouMean } from "../suggest.ts";
import type { Flk } from "../context.ts";
import { GLOBAL_FLAGS } from "../help.ts";
import { listHosts } from "../site.ts";
import { shQuote } from "../shell.ts";

/** One line for `flk --help`. */
export const COMPLETION_DESCRIPTION = "Print a shell completion script (bash, zsh or fish)";

/** Words the shell asks flk for while completing: the site's host names, or the disks flk may write. */
export type Values = "hosts" | "devices";

/** What completion knows about one command (or one subcommand: name "keys add"). */
export interface CompletionEntry {
  name: string;
  description: string;
  flags: string[];
  subcommands: string[];
  /** What its positional arguments are: from the hint (`HOST`, `DEVICE`), else files. */
  values?: Values;
  /**
   * What the value of each flag that takes one completes to, keyed by every
   * spelling (`--identity` and `-i`). A flag that takes a value completes
   * only its own values, never the command's positional ones.
   */
  flagValues: Record<string, FlagValue>;
}

/**
 * What a flag's value completes to, from its hint: words asked from flk
 * (`HOST`, `DEVICE`), the words of an enum-like hint (`uefi|bios`), file or
 * directory names (`FILE`, `PATH`, `IMAGE` / `DIR`), or nothing to offer
 * (`SIZE`, `MS`, `USER@ADDR`).
 */
export type FlagValue = { kind: "ask"; values: Values } | { kind: "words"; words: string[] } | { kind: "files" } | { kind: "dirs" } | { kind: "none" };

/** HOST… → hosts, DEVICE… → devices (the hints commands show in their help). */
function valuesOf(hint: unknown): Values | undefined {
  return typeof hint === "string" ? (/^HOST\b/.test(hint) ? "hosts" : /DEVICE/.test(hint) ? "devices" : undefined) : undefined;
}

/** A value-taking flag's hint as a FlagValue (see there); no hint, nothing to offer. */
export function flagValueOf(hint: unknown): FlagValue {
  const values = valuesOf(hint);
  if (values) return { kind: "ask", values };
  if (typeof hint !== "string") return { kind: "none" };
  // Lower-case alternatives are literal values (`uefi|bios`); upper-case ones are placeholders (`HEX|FILE`).
  if (/^[a-z0-9][a-z0-9._-]*(\|[a-z0-9][a-z0-9._-]*)+$/.test(hint)) return { kind: "words", words: hint.split("|") };
  if (/\bDIR\b/.test(hint)) return { kind: "dirs" };
  if (/\b(FILE|PATH|IMAGE)\b/.test(hint)) return { kind: "files" };
  return { kind: "none" };
}

/** The global flags that take a value (`--config FILE`, `--site DIR`), from core/help.ts's table. */
function globalFlagValues(): Record<string, FlagValue> {
  const out: Record<string, FlagValue> = {};
  for (const [usage] of GLOBAL_FLAGS) {
    const [flag = "", hint] = usage.split(/,?\s+/);
    if (hint && !hint.startsWith("-")) out[flag] = flagValueOf(hint);
  }
  return out;
}

/** The global flags' spellings with their one-letter aliases (`--yes, -y` → `-y`). */
function globalAliases(): string[] {
  return GLOBAL_FLAGS.flatMap(([usage]) => usage.split(/,\s*/).slice(1).map((a) => a.split(/\s/)[0]!)).filter((a) => /^-\w$/.test(a));
}

const SHELLS = ["bash", "zsh", "fish"] as const;
type Shell = (typeof SHELLS)[number];

/** Flatten the command tree (one level of subcommands, as entries named "keys add") for the generators. */
export async function completionEntries(commands: Record<string, CommandDef<any>>, globalFlags: string[]): Promise<CompletionEntry[]> {
  const entries: CompletionEntry[] = [];
  const add = async (name: string, command: CommandDef<any>) => {
    const meta = (await resolve(command.meta)) ?? {};
    if ((meta as { hidden?: boolean }).hidden) return;
    const args = ((await resolve(command.args)) ?? {}) as Record<string, { type?: string; alias?: string | string[]; default?: unknown; valueHint?: string }>;
    const flags = new Set<string>([...globalFlags, ...globalAliases()]);
    const flagValues: Record<string, FlagValue> = globalFlagValues();
    let values: Values | undefined;
    for (const [arg, def] of Object.entries(args)) {
      if (def.type === "positional") {
        values ??= valuesOf(def.valueHint);
        continue;
      }
      // A flag that is on by default is only ever typed as its negation.
      flags.add(def.type === "boolean" && def.default === true ? `--no-${arg}` : `--${arg}`);
      const spellings = [`--${arg}`, ...[def.alias ?? []].flat().map((alias) => (alias.length === 1 ? `-${alias}` : `--${alias}`))];
      for (const spelling of spellings.slice(1)) flags.add(spelling);
      if (def.type === "string") for (const spelling of spellings) flagValues[spelling] = flagValueOf(def.valueHint);
    }
    const subCommands = ((await resolve(command.subCommands)) ?? {}) as Record<string, CommandDef<any> | (() => Promise<CommandDef<any>>)>;
    entries.push({ name, description: (meta as { description?: string }).description ?? "", flags: [...flags].sort(), subcommands: Object.keys(subCommands), values, flagValues });
    if (!name.includes(" ")) for (const [sub, def] of Object.entries(subCommands)) await add(`${name} ${sub}`, (await resolve(def))!);
  };
  for (const [name, command] of Object.entries(commands)) await add(name, command);
  return entries.sort((a, b) => a.name.localeCompare(b.name));
}

async function resolve<T>(value: T | Promise<T> | (() => T | Promise<T>) | undefined): Promise<T | undefined> {
  return typeof value === "function" ? await (value as () => T | Promise<T>)() : await value;
}

/** The completion script for `shell`. */
export function completionScript(shell: Shell, entries: CompletionEntry[], globalFlags: string[]): string {
  const top = entries.filter((e) => !e.name.includes(" "));
  const globals = [...globalFlags, ...globalAliases()];
  return shell === "bash" ? bash(entries, globals) : shell === "zsh" ? zsh(top, globals) : fish(top, globals);
}

function bash(entries: CompletionEntry[], globals: string[]): string {
  const line = (e: CompletionEntry, pattern: string) =>
    `    ${pattern}) subs="${e.subcommands.join(" ")}"; flags="${e.flags.join(" ")}"; values="${e.values ?? ""}"; fvalues="${flagValueWords(e)}" ;;`;
  const top = entries.filter((e) => !e.name.includes(" ")).map((e) => line(e, e.name)).join("\n");
  const nested = entries.filter((e) => e.name.includes(" ")).map((e) => line(e, `"${e.name}"`)).join("\n");
  return `# bash completion for flk: eval "$(flk completion bash)"
# Host names and disks are asked from flk itself when they are completed (flk completion --values hosts|devices).
_flk() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" prev="\${COMP_WORDS[COMP_CWORD-1]}" subs="" flags="${globals.join(" ")}" values="" fvalues="${specWords(globalFlagValues())}" fv spec
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${entries.filter((e) => !e.name.includes(" ")).map((e) => e.name).join(" ")} $flags" -- "$cur") ); return
  fi
  case "\${COMP_WORDS[1]}" in
${top}
  esac
  if [ "$COMP_CWORD" -ge 3 ]; then
    case "\${COMP_WORDS[1]} \${COMP_WORDS[2]}" in
${nested || '    "") ;;'}
    esac
  fi
  # A flag that takes a value completes its own values only: asked from flk, listed (words:a,b), files, directories, or none.
  for fv in $fvalues; do
    [ "$prev" = "\${fv%%:*}" ] || continue
    spec="\${fv#*:}"
    case "$spec" in
      hosts) COMPREPLY=( $(compgen -W "$("\${COMP_WORDS[0]}" completion --values hosts 2>/dev/null)" -- "$cur") ) ;;
      devices) COMPREPLY=( $(compgen -W "$("\${COMP_WORDS[0]}" completion --values devices 2>/dev/null)" -- "$cur") $(compgen -f -- "$cur") ) ;;
      files) COMPREPLY=( $(compgen -f -- "$cur") ) ;;
      dirs) COMPREPLY=( $(compgen -d -- "$cur") ) ;;
      words:*) spec="\${spec#words:}"; COMPREPLY=( $(compgen -W "\${spec//,/ }" -- "$cur") ) ;;
      *) COMPREPLY=() ;;
    esac
    return
  done
  if [[ "$cur" == -* ]]; then COMPREPLY=( $(compgen -W "$flags" -- "$cur") )
  elif [ "$COMP_CWORD" -eq 2 ] && [ -n "$subs" ]; then COMPREPLY=( $(compgen -W "$subs" -- "$cur") )
  elif [ "$values" = hosts ]; then COMPREPLY=( $(compgen -W "$("\${COMP_WORDS[0]}" completion --values hosts 2>/dev/null)" -- "$cur") )
  elif [ "$values" = devices ]; then COMPREPLY=( $(compgen -W "$("\${COMP_WORDS[0]}" completion --values devices 2>/dev/null)" -- "$cur") $(compgen -f -- "$cur") )
  else COMPREPLY=( $(compgen -f -- "$cur") ); fi
}
complete -o filenames -F _flk flk
`;
}

/** `--host:hosts --boot:words:uefi,bios --config:files` pairs: what each value-taking flag completes (bash's and zsh's case lines). */
function flagValueWords(e: CompletionEntry): string {
  return specWords(e.flagValues);
}

function specWords(values: Record<string, FlagValue>): string {
  const spec = (v: FlagValue) => (v.kind === "ask" ? v.values : v.kind === "words" ? `words:${v.words.join(",")}` : v.kind);
  return Object.entries(values).map(([f, v]) => `${f}:${spec(v)}`).join(" ");
}

function zsh(entries: CompletionEntry[], globals: string[]): string {
  const cases = entries
    .map((e) => `    ${e.name}) subs=(${e.subcommands.join(" ")}); flags=(${e.flags.join(" ")}); values=${e.values ?? "''"}; fvalues=(${flagValueWords(e)}) ;;`)
    .join("\n");
  return `#compdef flk
# zsh completion for flk: flk completion zsh > "\${fpath[1]}/_flk"  (or: source <(flk completion zsh))
# Host names and disks are asked from flk itself when they are completed (flk completion --values hosts|devices).
_flk() {
  local -a cmds subs flags fvalues
  local values fv spec
  fvalues=(${specWords(globalFlagValues())})
  cmds=(${entries.map((e) => shQuote(`${e.name}:${e.description.replace(/:/g, "\\:")}`)).join(" ")})
  flags=(${globals.join(" ")})
  if (( CURRENT == 2 )); then
    if [[ $PREFIX == -* ]]; then compadd -- $flags; else _describe 'command' cmds; fi
    return
  fi
  case $words[2] in
${cases}
  esac
  # A flag that takes a value completes its own values only: asked from flk, listed (words:a,b), files, directories, or none.
  for fv in $fvalues; do
    [[ $words[CURRENT-1] == \${fv%%:*} ]] || continue
    spec=\${fv#*:}
    case $spec in
      hosts) compadd -- \${(f)"$($words[1] completion --values hosts 2>/dev/null)"} ;;
      devices) compadd -- \${(f)"$($words[1] completion --values devices 2>/dev/null)"}; _files ;;
      files) _files ;;
      dirs) _files -/ ;;
      words:*) compadd -- \${(s:,:)\${spec#words:}} ;;
    esac
    return
  done
  if [[ $PREFIX == -* ]]; then compadd -- $flags
  elif (( CURRENT == 3 )) && (( \${#subs} )); then compadd -- $subs
  elif [[ $values == hosts ]]; then compadd -- \${(f)"$($words[1] completion --values hosts 2>/dev/null)"}
  elif [[ $values == devices ]]; then compadd -- \${(f)"$($words[1] completion --values devices 2>/dev/null)"}; _files
  else _files; fi
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _flk "$@"; else compdef _flk flk; fi
`;
}

function fish(entries: CompletionEntry[], globals: string[]): string {
  const q = (s: string) => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
  const lines = [
    "# fish completion for flk: flk completion fish > ~/.config/fish/completions/flk.fish",
    "# Host names and disks are asked from flk itself (the flk being completed) when they are completed.",
    "function __flk_values",
    "    set -l flk (commandline -opc)[1]",
    "    command $flk completion --values $argv 2>/dev/null",
    "end",
  ];
  const asked = (v: Values) => `-a '(__flk_values ${v})'`;
  const option = (flag: string) => (flag.startsWith("--") ? `-l ${flag.slice(2)}` : `-s ${flag.slice(1)}`);
  // -x: takes a value and completes no files; -r: takes a value, files too. Fish then completes only these for the value.
  const takes = (value: FlagValue | undefined) =>
    !value ? "" :
    value.kind === "ask" ? (value.values === "devices" ? ` -r ${asked("devices")}` : ` -x ${asked(value.values)}`) :
    value.kind === "words" ? ` -x -a ${q(value.words.join(" "))}` :
    value.kind === "files" ? " -r -F" :
    value.kind === "dirs" ? " -x -a '(__fish_complete_directories)'" :
    " -x";
  const globalValues = globalFlagValues();
  for (const flag of globals) lines.push(`complete -c flk ${option(flag)}${takes(globalValues[flag])}`);
  for (const e of entries) {
    const seen = `'__fish_seen_subcommand_from ${e.name}'`;
    lines.push(`complete -c flk -f -n __fish_use_subcommand -a ${e.name} -d ${q(e.description)}`);
    for (const sub of e.subcommands) lines.push(`complete -c flk -f -n '__fish_seen_subcommand_from ${e.name}; and not __fish_seen_subcommand_from ${e.subcommands.join(" ")}' -a ${sub}`);
    for (const flag of e.flags.filter((f) => !globals.includes(f))) lines.push(`complete -c flk -n ${seen} ${option(flag)}${takes(e.flagValues[flag])}`);
    // HOST…: only the site's hosts; DEVICE…: the disks flk may write, and files (an image, or a file target).
    if (e.values === "hosts") lines.push(`complete -c flk -f -n ${seen} ${asked("hosts")}`);
    if (e.values === "devices") lines.push(`complete -c flk -n ${seen} ${asked("devices")}`);
  }
  return lines.join("\n") + "\n";
}

/** The `completion` command; `commands` is read when it runs, so it sees every plugin's commands (each loaded then). */
export function completionCommand(flk: Flk, commands: () => Map<string, { load(): Promise<CommandDef<any>> }>, globalFlags: string[]) {
  return defineCommand({
    meta: { name: "completion", description: COMPLETION_DESCRIPTION },
    args: {
      shell: { type: "positional", description: "bash, zsh or fish", required: false, valueHint: "SHELL" },
      values: { type: "string", description: "Print the words the script completes: hosts (the site's) or devices (disks flk may write)", valueHint: "hosts|devices" },
    },
    async run({ args }) {
      if (args.values !== undefined) return printValues(flk, String(args.values));
      const shell = String(args.shell ?? "");
      if (!(SHELLS as readonly string[]).includes(shell))
        throw new FlkError(`${shell ? `unknown shell '${shell}'.${didYouMean(shell, SHELLS)}` : "which shell? Try `flk completion bash`."} Supported: bash, zsh, fish.`, "E_USAGE");
      const loaded: Record<string, CommandDef<any>> = {};
      for (const [name, entry] of commands()) loaded[name] = await entry.load();
      process.stdout.write(completionScript(shell as Shell, await completionEntries(loaded, globalFlags), globalFlags));
    },
  });
}

/** One word a line: host names of the site (none outside a site), or the disks flk would write (with --force too). */
async function printValues(flk: Flk, what: string): Promise<void> {
  if (what === "hosts") {
    if (!flk.site) return;
    const names = listHosts(flk.site, flk.hooks.hostsDir.call("hosts")).map((h) => h.name);
    // hosts/ is the fast path (a TAB must answer at once); a site whose hosts all live in flake.nix is asked once (core/flake.ts).
    if (names.length === 0) {
      const { flakeHostNames, siteFlake } = await import("../flake.ts");
      names.push(...(await flakeHostNames(await siteFlake(flk.site), flk.env).catch(() => [])));
    }
    for (const name of names) process.stdout.write(`${name}\n`);
  } else if (what === "devices") {
    // Imported here: the disk judge is needed only when a shell asks for devices.
    const { listDisks } = await import("../disks.ts");
    for (const disk of await listDisks()) if (disk.verdict !== "refused") process.stdout.write(`${disk.path}\n`);
  } else throw new FlkError(`--values ${what}: expected hosts or devices.${didYouMean(what, ["hosts", "devices"])}`, "E_USAGE");
}
