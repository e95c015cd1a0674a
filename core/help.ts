/**
 * Help: `flk --help` (the global flags and the commands of the enabled
 * plugins, rendered here without citty) and a command's own usage (citty's
 * renderer, loaded when asked). Colour only on a terminal.
 */
import type { CommandDef } from "citty";
import type { CommandEntry } from "./cli.ts";

/** Global flags as typed, with their help line, in the order `flk --help` shows them. */
export const GLOBAL_FLAGS: ReadonlyArray<readonly [usage: string, description: string]> = [
  ["--config FILE", "Read this flk.toml (else $FLK_CONFIG, else flk.toml in the site root)"],
  ["--site DIR", "The site: directory with flake.nix (else the nearest one upwards)"],
  ["--json", "Machine output on stdout, logs on stderr"],
  ["--verbose", "Debug logs and stack traces"],
  ["--yes, -y", "Answer prompts with their default; never skips --force"],
  ["--no-color", "No colours (also off when $NO_COLOR is set or output is not a terminal)"],
];

/** Colour on a terminal, unless --no-color, $NO_COLOR (in splitArgs) or TERM=dumb says otherwise. */
export function useColor(color = true): boolean {
  return color && process.env.TERM !== "dumb" && stdoutIsTerminal();
}

/**
 * Whether stdout is a terminal, asked of Bun's implementation of Node's
 * `tty_wrap` binding: loading node:tty for its isatty() costs ~7 ms of
 * start-up and touching process.stdout ~30 ms (bench/startup.ts, Bun 1.4.5).
 */
function stdoutIsTerminal(): boolean {
  try {
    return Boolean((process as unknown as { binding(name: string): { isTTY(fd: number): boolean } }).binding("tty_wrap").isTTY(1));
  } catch {
    return (require("node:tty") as typeof import("node:tty")).isatty(1);
  }
}

/**
 * `flk --help`: the global flags and every visible command, laid out like
 * citty's usage (which shows a command's own help) but rendered here, so
 * listing commands never loads citty (bench/startup.ts).
 */
export function renderMainHelp(version: string, commands: ReadonlyArray<readonly [name: string, description: string]>, color: boolean): string {
  const paint = (code: string, text: string) => (color ? `\x1b[${code}m${text}\x1b[0m` : text);
  const heading = (text: string) => paint("4;1", text);
  const table = (rows: ReadonlyArray<readonly [string, string]>) => {
    let width = 0;
    for (const [left] of rows) width = Math.max(width, left.length);
    let text = "";
    for (const [left, right] of rows) text += `${text ? "\n" : ""}  ${paint("36", left.padEnd(width))}${right ? `  ${right}` : ""}`;
    return text;
  };
  return [
    paint("90", `From a NixOS flake to an installed machine (flk v${version})`),
    "",
    `${heading("USAGE")} ${paint("36", "flk [OPTIONS] COMMAND [ARGS]")}`,
    "",
    heading("OPTIONS"),
    "",
    table(GLOBAL_FLAGS),
    "",
    heading("COMMANDS"),
    "",
    table(commands),
    "",
    `Use ${paint("36", "flk COMMAND --help")} for more information about a command.`,
  ].join("\n");
}

/** citty colours usage by its own rules; honour --no-color and pipes here. */
function plain(usage: string, color = true): string {
  return useColor(color) ? usage : usage.replace(/\x1b\[[0-9;]*m/g, "");
}

/** A command's usage; citty names a command by its parent's name, so the parent is the whole path ("flk lla"). */
export async function renderCommandHelp(command: CommandDef<any>, path: string[], color: boolean | undefined): Promise<string> {
  const { defineCommand, renderUsage } = await import("citty");
  const parent = defineCommand({ meta: { name: path.slice(0, -1).join(" ") } });
  return plain(await renderUsage(command, parent), color);
}

/** What `flk --help` lists: each visible command's name and description, loading only those registered without one. */
export async function helpLines(commands: Map<string, CommandEntry>): Promise<Array<[string, string]>> {
  const lines: Array<[string, string]> = [];
  for (const [name, entry] of commands) {
    if (entry.hidden) continue;
    const description = entry.description ?? ((await entry.load()).meta as { description?: string } | undefined)?.description;
    lines.push([name, description ?? ""]);
  }
  return lines;
}

/** The (sub)command `args` name below `command`, and its path, for `flk CMD SUB --help`. */
export async function resolveHelpTarget(command: CommandDef<any>, args: string[], path: string[]): Promise<{ command: CommandDef<any>; path: string[] }> {
  const subs = typeof command.subCommands === "function" ? await command.subCommands() : await command.subCommands;
  const next = args.find((a) => !a.startsWith("-"));
  const sub = subs && next ? subs[next] : undefined;
  if (!sub) return { command, path };
  const resolved = (typeof sub === "function" ? await sub() : await sub) as CommandDef<any>;
  return resolveHelpTarget(resolved, args.slice(args.indexOf(next!) + 1), [...path, next!]);
}
