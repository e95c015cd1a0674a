import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { splitArgs } from "../../core/cli.ts";

const BUN = process.execPath;
const RUN = join(import.meta.dir, "..", "fixtures", "cli", "run.ts");
const dir = mkdtempSync(join(tmpdir(), "flk-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function cli(args: string[], env: Record<string, string> = {}) {
  const child = Bun.spawn([BUN, RUN, ...args], { cwd: dir, stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1", ...env } });
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { code: await child.exited, stdout, stderr };
}

describe("argument splitting", () => {
  test("global flags are taken out anywhere before --; the rest after -- passes through", () => {
    const r = splitArgs(["iso", "--json", "NixOS", "--config=x.toml", "--site", "s", "-y", "--", "--max-jobs", "4", "--json"]);
    expect(r.flags).toMatchObject({ json: true, config: "x.toml", site: "s", yes: true });
    expect(r.rest).toEqual(["iso", "NixOS"]);
    expect(r.passthrough).toEqual(["--max-jobs", "4", "--json"]);
    expect(splitArgs(["--config"]).error).toContain("--config needs a value");
  });
});

describe("exit codes and messages", () => {
  test("--version prints the version", async () => {
    const r = await cli(["--version"]);
    expect([r.code, r.stdout]).toEqual([0, "9.9.9-test\n"]);
  });
  test("an unknown command exits 2 with a did-you-mean", async () => {
    const r = await cli(["wiat"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown command 'wiat'. Did you mean `wait`?");
  });
  test("a FlkError exits with its code and no stack trace", async () => {
    const r = await cli(["refuse"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("refused: nothing was written");
    expect(r.stderr).not.toContain("    at ");
  });
  test("an unexpected error exits 1; the stack only with --verbose", async () => {
    const quiet = await cli(["crash"]);
    expect(quiet.code).toBe(1);
    expect(quiet.stderr).toContain("boom (run with --verbose for the stack trace)");
    expect(quiet.stderr).not.toContain("run.ts:");
    const loud = await cli(["crash", "--verbose"]);
    expect(loud.code).toBe(1);
    expect(loud.stderr).toContain("run.ts:");
  });
  test("--json output goes to stdout and arguments after -- pass through", async () => {
    const r = await cli(["echo", "hello", "--json", "--", "--max-jobs", "4"]);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ word: "hello", passthrough: ["--max-jobs", "4"], json: true, yes: false });
  });
  test("a bad flk.toml exits 2 before any command runs", async () => {
    const r = await cli(["echo", "x"], { FLK_CONFIG: join(import.meta.dir, "..", "fixtures", "cli", "bad.toml") });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("bad.toml: [probe]: unknown key 'markr'. Did you mean `marker`?");
    expect(r.stdout).toBe("");
  });
  test("plugins --json lists the plugin with its options", async () => {
    const r = await cli(["plugins", "--json"]);
    expect(JSON.parse(r.stdout)).toEqual([{ name: "probe", enabled: true, description: "test plugin", options: { marker: "" } }]);
  });
  test("doctor exits 1 and says how to install nix when nix is missing", async () => {
    const r = await cli(["doctor"], { PATH: "/nonexistent" });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL\s+nix\s+`nix` is not installed.*apt-get install nix-bin/);
  });
});

describe("strict flags (a mistyped flag must not run the real thing)", () => {
  test("an unknown flag exits 2 with a did-you-mean, before the command runs", async () => {
    const r = await cli(["group", "--no-verfy"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option --no-verfy for `flk group`. Did you mean `--no-verify`? Run `flk group --help` for its options.");
    const global = await cli(["echo", "x", "--jsn"]);
    expect(global.code).toBe(2);
    expect(global.stderr).toContain("Did you mean `--json`?");
    expect(global.stdout).toBe("");
  });
  test("flags of a subcommand are checked against that subcommand", async () => {
    const r = await cli(["group", "one", "--sha256", "x"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("unknown option --sha256 for `flk group one`.");
  });
  test("a string flag without its value is a usage error", async () => {
    for (const args of [["group", "--sha256"], ["group", "--sha256", "--no-verify"], ["group", "--sha256="]]) {
      const r = await cli(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("--sha256 needs a value");
    }
  });
  test("declared flags pass in every spelling citty accepts", async () => {
    for (const args of [["group", "--no-verify", "one"], ["group", "--verify", "two"], ["group", "--sha256", "abc", "one"], ["group", "--sha256=abc", "one"], ["echo", "-"]]) {
      const r = await cli(args);
      expect([args.join(" "), r.code, r.stderr]).toEqual([args.join(" "), 0, ""]);
    }
  });
  test("help is plain text when stdout is not a terminal", async () => {
    const r = await cli(["--help"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("USAGE");
    expect(r.stdout).not.toContain("\x1b[");
  });
});

describe("signals", () => {
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    test(`${signal} runs the command's cleanups, then re-raises (exit ${code})`, async () => {
      const marker = join(dir, `marker-${signal}`);
      // Through bash, as an operator's shell would see it: death by signal is 128+N.
      const child = Bun.spawn(["bash", "-c", `"${BUN}" "${RUN}" wait; echo "exit=$?"`], { cwd: dir, stdout: "pipe", stderr: "pipe", env: { ...process.env, MARKER: marker } });
      const reader = child.stderr.getReader();
      let seen = "";
      while (!seen.includes("waiting")) seen += new TextDecoder().decode((await reader.read()).value);
      Bun.spawnSync(["pkill", `-${signal.slice(3)}`, "-f", `^${BUN} ${RUN} wait`]);
      const out = await new Response(child.stdout).text();
      await child.exited;
      expect(out.trim()).toBe(`exit=${code}`);
      expect(existsSync(marker) && readFileSync(marker, "utf8")).toBe("cleaned up\n");
    });
  }
});
