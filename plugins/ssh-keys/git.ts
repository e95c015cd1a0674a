/**
 * Nix copies a git flake from git's index, not the working tree: a key file
 * that git does not track is invisible to `flk iso`. So after writing or
 * removing one, flk stages it (`--git-add`) or says the exact command — one
 * that works from wherever the user is (`git -C SITE …` outside the site).
 */
import { realpathSync } from "node:fs";
import { ExitCode, FlkError, run, shJoin, which, type Flk } from "../../core/index.ts";

function same(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return a === b;
  }
}

/** `git ARGS` to run in the site, as the user types it from `cwd`. */
export function gitCommand(siteRoot: string, cwd: string, args: string[]): string {
  const argv = same(siteRoot, cwd) ? ["git", ...args] : ["git", "-C", siteRoot, ...args];
  return shJoin(argv);
}

/** Stage `files` (site-relative) for an add or a removal, or print the command that does. */
export async function gitStage(flk: Flk, files: string[], stage: boolean, change: "add" | "rm"): Promise<void> {
  if (files.length === 0) return;
  const log = flk.logger("ssh-keys");
  const args = change === "add" ? ["add", "--", ...files] : ["rm", "--cached", "--quiet", "--ignore-unmatch", "--", ...files];
  const shown = gitCommand(flk.siteRoot(), flk.cwd, args);
  if (!stage) {
    log.info(`Nix only sees files git tracks: run \`${shown}\` (or pass --git-add next time)`);
    return;
  }
  if (!which("git")) throw new FlkError(`the key files were written, but git is not installed, so --git-add could not run \`${shown}\``, "E_GIT", ExitCode.failure);
  const result = await run(["git", ...args], { cwd: flk.siteRoot() });
  if (result.code !== 0)
    throw new FlkError(
      `the key files were written, but \`${shown}\` failed (exit ${result.code}):\n${result.tail.slice(-5).join("\n")}\nRun it yourself once the site is a git repository (\`git init\`).`,
      "E_GIT",
      ExitCode.failure,
    );
  log.success(`staged with \`${shown}\``);
}
