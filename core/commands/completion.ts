/**
 * `flk completion bash|zsh|fish`: a completion script generated from the
 * commands the enabled plugins registered (subcommands, their flags, and
 * second-level subcommands such as `keys add`).
 */
import { defineCommand, type CommandDef } from "citty";
import { FlkError } from "../errors.ts";
import { didYouMean } from "../suggest.ts";
import { shQuote } from "../shell.ts";

/** One line for `flk --help`. */
export const COMPLETION_DESCRIPTION = "Print a shell completion script (bash, zsh or fish)";

/** What completion knows about one command. */
export interface CompletionEntry {
  name: string;
  description: string;
  flags: string[];
  subcommands: string[];
}

const SHELLS = ["bash", "zsh", "fish"] as const;
type Shell = (typeof SHELLS)[number];

/** Flatten the command tree (one level of subcommands) for the generators. */
export async function completionEntries(commands: Record<string, CommandDef<any>>, globalFlags: string[]): Promise<CompletionEntry[]> {
  const entries: CompletionEntry[] = [];
  for (const [name, command] of Object.entries(commands)) {
    const meta = (await resolve(command.meta)) ?? {};
    if ((meta as { hidden?: boolean }).hidden) continue;
    const args = ((await resolve(command.args)) ?? {}) as Record<string, { type?: string; alias?: string | string[]; default?: unknown }>;
    const flags = new Set<string>(globalFlags);
    for (const [arg, def] of Object.entries(args)) {
      if (def.type === "positional") continue;
      // A flag that is on by default is only ever typed as its negation.
      flags.add(def.type === "boolean" && def.default === true ? `--no-${arg}` : `--${arg}`);
      for (const alias of [def.alias ?? []].flat()) flags.add(alias.length === 1 ? `-${alias}` : `--${alias}`);
    }
    const subs = Object.keys(((await resolve(command.subCommands)) ?? {}) as object);
    entries.push({ name, description: (meta as { description?: string }).description ?? "", flags: [...flags].sort(), subcommands: subs });
  }
  return entries.sort((a, b) => a.name.localeCompare(b.name));
}

async function resolve<T>(value: T | Promise<T> | (() => T | Promise<T>) | undefined): Promise<T | undefined> {
  return typeof value === "function" ? await (value as () => T | Promise<T>)() : await value;
}

/** The completion script for `shell`. */
export function completionScript(shell: Shell, entries: CompletionEntry[], globalFlags: string[]): string {
  return shell === "bash" ? bash(entries, globalFlags) : shell === "zsh" ? zsh(entries, globalFlags) : fish(entries, globalFlags);
}

function bash(entries: CompletionEntry[], globals: string[]): string {
  const cases = entries
    .map((e) => `    ${e.name}) subs="${e.subcommands.join(" ")}"; flags="${e.flags.join(" ")}" ;;`)
    .join("\n");
  return `# bash completion for flk: eval "$(flk completion bash)"
_flk() {
  local cur="\${COMP_WORDS[COMP_CWORD]}" subs="" flags="${globals.join(" ")}"
  if [ "$COMP_CWORD" -eq 1 ]; then
    COMPREPLY=( $(compgen -W "${entries.map((e) => e.name).join(" ")} $flags" -- "$cur") ); return
  fi
  case "\${COMP_WORDS[1]}" in
${cases}
  esac
  if [[ "$cur" == -* ]]; then COMPREPLY=( $(compgen -W "$flags" -- "$cur") )
  elif [ "$COMP_CWORD" -eq 2 ] && [ -n "$subs" ]; then COMPREPLY=( $(compgen -W "$subs" -- "$cur") )
  else COMPREPLY=( $(compgen -f -- "$cur") ); fi
}
complete -o filenames -F _flk flk
`;
}

function zsh(entries: CompletionEntry[], globals: string[]): string {
  const cases = entries.map((e) => `    ${e.name}) subs=(${e.subcommands.join(" ")}); flags=(${e.flags.join(" ")}) ;;`).join("\n");
  return `#compdef flk
# zsh completion for flk: flk completion zsh > "\${fpath[1]}/_flk"  (or: source <(flk completion zsh))
_flk() {
  local -a cmds subs flags
  cmds=(${entries.map((e) => shQuote(`${e.name}:${e.description.replace(/:/g, "\\:")}`)).join(" ")})
  flags=(${globals.join(" ")})
  if (( CURRENT == 2 )); then
    if [[ $PREFIX == -* ]]; then compadd -- $flags; else _describe 'command' cmds; fi
    return
  fi
  case $words[2] in
${cases}
  esac
  if [[ $PREFIX == -* ]]; then compadd -- $flags
  elif (( CURRENT == 3 )) && (( \${#subs} )); then compadd -- $subs
  else _files; fi
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _flk "$@"; else compdef _flk flk; fi
`;
}

function fish(entries: CompletionEntry[], globals: string[]): string {
  const q = (s: string) => `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
  const lines = ["# fish completion for flk: flk completion fish > ~/.config/fish/completions/flk.fish"];
  for (const flag of globals) lines.push(`complete -c flk -l ${flag.slice(2)}`);
  for (const e of entries) {
    lines.push(`complete -c flk -f -n __fish_use_subcommand -a ${e.name} -d ${q(e.description)}`);
    for (const sub of e.subcommands) lines.push(`complete -c flk -f -n '__fish_seen_subcommand_from ${e.name}; and not __fish_seen_subcommand_from ${e.subcommands.join(" ")}' -a ${sub}`);
    for (const flag of e.flags.filter((f) => !globals.includes(f)))
      lines.push(flag.startsWith("--") ? `complete -c flk -n '__fish_seen_subcommand_from ${e.name}' -l ${flag.slice(2)}` : `complete -c flk -n '__fish_seen_subcommand_from ${e.name}' -s ${flag.slice(1)}`);
  }
  return lines.join("\n") + "\n";
}

/** The `completion` command; `commands` is read when it runs, so it sees every plugin's commands (each loaded then). */
export function completionCommand(commands: () => Map<string, { load(): Promise<CommandDef<any>> }>, globalFlags: string[]) {
  return defineCommand({
    meta: { name: "completion", description: COMPLETION_DESCRIPTION },
    args: { shell: { type: "positional", description: "bash, zsh or fish", required: true } },
    async run({ args }) {
      const shell = String(args.shell);
      if (!(SHELLS as readonly string[]).includes(shell))
        throw new FlkError(`unknown shell '${shell}'.${didYouMean(shell, SHELLS)} Supported: bash, zsh, fish.`, "E_USAGE");
      const loaded: Record<string, CommandDef<any>> = {};
      for (const [name, entry] of commands()) loaded[name] = await entry.load();
      process.stdout.write(completionScript(shell as Shell, await completionEntries(loaded, globalFlags), globalFlags));
    },
  });
}
