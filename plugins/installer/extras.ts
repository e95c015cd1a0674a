/**
 * The two extras of `flk install`: `--hardware-config` (the target's
 * `nixos-generate-config --show-hardware-config`, brought back over the
 * script's protocol and written into the site) and `--extra-files DIR` (a
 * tree copied into the target root before nixos-install, modes and
 * ownership kept: sops-nix / agenix host keys that must exist at first boot).
 */
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, realpathSync, type Dirent } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import { FlkError, lexists, run, writeFileAtomic } from "../../core/index.ts";
import type { Step } from "./hooks.ts";
import { shQuote } from "./script.ts";

/** The protocol prefix of a data line (fd 3 of a step, see script.ts). */
export const DATA_PREFIX = "@flk data hardware-config ";

/** The step that runs nixos-generate-config on the target and sends its output back as data lines. */
export function hardwareStep(root: string): Step {
  return {
    id: "hardware-config",
    title: `capture the target's hardware configuration (nixos-generate-config --show-hardware-config --root ${root})`,
    // The text goes to fd 3, the script's protocol channel, one prefixed line each; nothing is written on the target.
    argv: ["sh", "-c", `out=$(nixos-generate-config --show-hardware-config --root "$1") || exit $?; printf '%s\\n' "$out" | sed 's/^/${DATA_PREFIX}/' >&3`, "hardware-config", root],
  };
}

/**
 * Where the hardware configuration goes in a devos site: always
 * `hosts/HOST/hardware-configuration.nix` — beside `hosts/HOST/default.nix`,
 * or, for a `hosts/HOST.nix` host, in a `hosts/HOST/` directory that has no
 * default.nix (so it is not listed as a host) and that HOST.nix imports as
 * `./HOST/hardware-configuration.nix`.
 */
export function hardwarePath(site: string, host: string): { file: string; hostFile: string; importLine: string } {
  const dirHost = join(site, "hosts", host, "default.nix");
  const file = join(site, "hosts", host, "hardware-configuration.nix");
  if (existsSync(dirHost)) return { file, hostFile: dirHost, importLine: "./hardware-configuration.nix" };
  return { file, hostFile: join(site, "hosts", `${host}.nix`), importLine: `./${host}/hardware-configuration.nix` };
}

/** What writing the hardware configuration did. */
export interface HardwareWritten {
  /** The tool whose output this is. */
  backend: "nixos-generate-config" | "nixos-facter";
  file: string;
  bytes: number;
  imported: boolean;
  gitAdded: boolean;
  warnings: string[];
}

/** Write the captured text atomically into the site; `git add` it when asked; warn when the host does not import it. */
export async function writeHardwareConfig(site: string, host: string, text: string, gitAdd: boolean): Promise<HardwareWritten> {
  const { file, hostFile, importLine } = hardwarePath(site, host);
  refuseLinks(site, file);
  writeFileAtomic(file, text.endsWith("\n") ? text : text + "\n");
  const warnings: string[] = [];
  const rel = relative(site, file);
  const imported = existsSync(hostFile) && readFileSync(hostFile, "utf8").includes("hardware-configuration.nix");
  if (!imported) warnings.push(`${relative(site, hostFile)} does not import the hardware configuration: add \`imports = [ ${importLine} ];\` to it.`);
  const git = await trackInGit(site, rel, gitAdd);
  if (git.warning) warnings.push(git.warning);
  return { backend: "nixos-generate-config", file, bytes: new TextEncoder().encode(text).length, imported, gitAdded: git.gitAdded, warnings };
}

/** `git add` a file the site now holds (asked), or say that git does not track it (Nix sees only tracked files of a git flake). */
export async function trackInGit(site: string, rel: string, gitAdd: boolean): Promise<{ gitAdded: boolean; warning?: string }> {
  if (!existsSync(join(site, ".git"))) return { gitAdded: false };
  if (gitAdd) {
    const added = await run(["git", "-C", site, "add", "--", rel]);
    if (added.code !== 0) throw new FlkError(`wrote ${rel}, but \`git -C ${shQuote(site)} add -- ${rel}\` failed: ${added.stderr.trim()}`, "E_GIT_ADD", 1);
    return { gitAdded: true };
  }
  const tracked = await run(["git", "-C", site, "ls-files", "--error-unmatch", "--", rel]);
  if (tracked.code === 0) return { gitAdded: false };
  return { gitAdded: false, warning: `${rel} is not tracked by git, so Nix cannot see it: run \`git -C ${shQuote(site)} add ${rel}\` (or pass --git-add).` };
}

/** Nothing on the way from the site to the file may be a symlink (DESIGN.md "Files in the site"). */
export function refuseLinks(site: string, file: string): void {
  let at = site;
  for (const part of relative(site, file).split(sep)) {
    at = join(at, part);
    if (existsSync(at) || lexists(at)) {
      if (lstatSync(at).isSymbolicLink())
        throw new FlkError(`${at} is a symbolic link; flk does not write the hardware configuration through links. Nothing was written there. Replace the link with a plain directory or file.`, "E_SYMLINK");
    }
  }
}


/**
 * Check `--extra-files DIR`: a directory whose symlinks all point inside it
 * (a link to /etc/shadow or ../../secret would copy the operator's file, or
 * plant a link into the new system). Returns the resolved directory.
 */
export function checkExtraFiles(dir: string): string {
  let real: string;
  try {
    real = realpathSync(dir);
  } catch {
    throw new FlkError(`--extra-files ${dir}: no such directory. Nothing was changed.`, "E_EXTRA_FILES");
  }
  if (!lstatSync(real).isDirectory()) throw new FlkError(`--extra-files ${dir}: not a directory. Nothing was changed.`, "E_EXTRA_FILES");
  const walk = (at: string): void => {
    for (const name of readdirSync(at)) {
      const path = join(at, name);
      const st = lstatSync(path);
      if (st.isSymbolicLink()) {
        const target = readlinkSync(path);
        const lands = resolve(dirname(path), target);
        if (target.startsWith("/") || !(lands === real || lands.startsWith(real + sep)))
          throw new FlkError(`--extra-files ${dir}: ${relative(real, path)} is a symbolic link to ${target}, outside the directory. Nothing was changed. Copy the file itself into ${dir}, or remove the link.`, "E_EXTRA_FILES");
      } else if (st.isDirectory()) walk(path);
      else if (!st.isFile()) throw new FlkError(`--extra-files ${dir}: ${relative(real, path)} is not a regular file, directory or link. Nothing was changed.`, "E_EXTRA_FILES");
    }
  };
  walk(real);
  return real;
}

/**
 * The tree as a base64 tar (numeric owners, modes): it travels inside the
 * one script, so the same step works here and over ssh.
 */
export async function packExtraFiles(dir: string): Promise<PackedFiles> {
  const packed = await run(["sh", "-c", 'tar -C "$1" -c --numeric-owner -p -f - . | base64', "pack", dir]);
  if (packed.code !== 0) throw new FlkError(`--extra-files ${dir}: tar failed: ${packed.stderr.trim()}. Nothing was changed.`, "E_EXTRA_FILES", 1);
  const files = (readdirSync(dir, { recursive: true, withFileTypes: true }) as Dirent[]).filter((e) => e.isFile()).length;
  return { base64: packed.stdout, files, bytes: Buffer.from(packed.stdout, "base64").length };
}

/** The packed tree, with what may be said about it in public (a count and a size, never the bytes). */
export interface PackedFiles {
  base64: string;
  files: number;
  bytes: number;
}

/**
 * What a printed plan (--dry-run, --json) shows instead of the tar: the
 * files are typically sops/agenix host keys, and DESIGN.md allows no private
 * key in logs or --json.
 */
export function redactedInput(packed: Pick<PackedFiles, "files" | "bytes">): string {
  return `<tar of ${packed.files} ${packed.files === 1 ? "file" : "files"}, ${packed.bytes} bytes: not shown>`;
}

/** The step that unpacks the tree into ROOT, keeping modes and numeric ownership. */
export function extraFilesStep(dir: string, root: string, packed: string): Step {
  return {
    id: "extra-files",
    title: `copy ${dir} into ${root} (modes and ownership kept)`,
    // --no-overwrite-dir: ROOT and the directories already there keep their own modes and owners.
    argv: ["sh", "-c", 'base64 -d | tar -C "$1" -x -p --numeric-owner --no-overwrite-dir -f -', "extra-files", root],
    input: packed,
  };
}
