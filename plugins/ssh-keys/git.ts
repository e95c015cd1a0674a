/**
 * Nix copies a git flake from git's index, not the working tree: a key file
 * that git does not track is invisible to `flk iso`. So after writing or
 * removing one, flk stages it (`--git-add`) or says the exact command.
 */
import { ExitCode, FlkError, run, which, type Flk } from "../../core/index.ts";

/** Stage `files` (site-relative) for an add or a removal, or print the command that does. */
export async function gitStage(flk: Flk, files: string[], stage: boolean, change: "add" | "rm"): Promise<void> {
  if (files.length === 0) return;
  const log = flk.logger("ssh-keys");
  const argv = change === "add" ? ["git", "add", "--", ...files] : ["git", "rm", "--cached", "--quiet", "--ignore-unmatch", "--", ...files];
  if (!stage) {
    log.info(`Nix only sees files git tracks: run \`${argv.join(" ")}\` (or pass --git-add next time)`);
    return;
  }
  if (!which("git")) throw new FlkError(`the key files were written, but git is not installed, so --git-add could not run \`${argv.join(" ")}\``, "E_GIT", ExitCode.failure);
  const result = await run(argv, { cwd: flk.siteRoot() });
  if (result.code !== 0)
    throw new FlkError(
      `the key files were written, but \`${argv.join(" ")}\` failed (exit ${result.code}):\n${result.tail.slice(-5).join("\n")}\nRun it yourself once the site is a git repository (\`git init\`).`,
      "E_GIT",
      ExitCode.failure,
    );
  log.success(`staged with \`${argv.join(" ")}\``);
}
