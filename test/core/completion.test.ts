import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { systemTest } from "../helpers/require.ts";
import { mustSync } from "../helpers/sh.ts";

const RUN = join(import.meta.dir, "..", "fixtures", "cli", "run.ts");
const dir = mkdtempSync(join(tmpdir(), "flk-completion-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function script(shell: string): Promise<string> {
  const child = Bun.spawn([process.execPath, RUN, "completion", shell], { cwd: dir, stdout: "pipe", stderr: "pipe" });
  const out = await new Response(child.stdout).text();
  expect(await child.exited).toBe(0);
  const file = join(dir, `flk.${shell}`);
  writeFileSync(file, out);
  return file;
}

describe("shell completion", () => {
  systemTest(["bash"], { root: false })("bash completes commands, subcommands and flags, hiding aliases", async () => {
    const file = await script("bash");
    const complete = (words: string[]) =>
      mustSync(["bash", "-c", `source ${file}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _flk; printf '%s\\n' "\${COMPREPLY[@]}"`], { cwd: dir }).trim().split("\n");
    expect(complete(["flk", "gr"])).toEqual(["group"]);
    expect(complete(["flk", "group", ""])).toEqual(["one", "two"]);
    expect(complete(["flk", "group", "--no-v"])).toEqual(["--no-verify"]);
    expect(complete(["flk", "group", "--sh"])).toEqual(["--sha256"]);
    expect(complete(["flk", "--js"])).toEqual(["--json"]);
  });

  systemTest(["zsh"], { root: false })("zsh completes commands, subcommands and flags", async () => {
    const file = await script("zsh");
    // compadd/_describe/_files are zsh's completion builtins; outside an
    // interactive completion they are stubbed to print what they were given.
    const complete = (words: string[]) =>
      mustSync(["zsh", "-f", "-c", `compdef() {}; compadd() { [[ $1 == -- ]] && shift; print -l -- $@ }; _describe() { print -l -- \${(P)2%%:*} }; _files() { print FILES }
source ${file}; words=(${words.map((w) => `'${w}'`).join(" ")}); CURRENT=${words.length}; PREFIX='${words.at(-1)}'; _flk`], { cwd: dir }).trim().split("\n");
    expect(complete(["flk", ""])).toContain("group");
    expect(complete(["flk", "group", ""])).toEqual(["one", "two"]);
    expect(complete(["flk", "group", "-"])).toContain("--no-verify");
    expect(complete(["flk", "group", "one", "x"])).toEqual(["FILES"]);
  });

  systemTest(["fish"], { root: false })("fish completes commands with descriptions, subcommands and flags", async () => {
    const file = await script("fish");
    const complete = (line: string) => mustSync(["fish", "--no-config", "-c", `source ${file}; complete -C '${line}'`], { cwd: dir }).trim().split("\n");
    expect(complete("flk gro")).toEqual(["group\ta command with subcommands"]);
    expect(complete("flk group ")).toEqual(expect.arrayContaining(["one", "two"]));
    expect(complete("flk group --no-v")).toEqual(["--no-verify"]);
  });

  test("an unknown shell is refused with the supported ones", async () => {
    const child = Bun.spawn([process.execPath, RUN, "completion", "tcsh"], { cwd: dir, stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
    expect(await child.exited).toBe(2);
    expect(await new Response(child.stderr).text()).toMatch(/unknown shell 'tcsh'\..* Supported: bash, zsh, fish\./);
  });
});
