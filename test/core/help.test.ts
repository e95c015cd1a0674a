/**
 * `flk --help`: the commands of the site's enabled plugins, a bad flk.toml
 * refused as for every command, colour only on a terminal, and none of the
 * modules that made it slow (bench/startup.ts: tapable and citty load
 * node:util, @noble/hashes builds tables, consola its reporters).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FLK, flk } from "../helpers/binary.ts";

const dir = mkdtempSync(join(tmpdir(), "flk-help-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function site(name: string, toml?: string): string {
  const root = join(dir, name);
  mkdirSync(root, { recursive: true });
  writeFileSync(join(root, "flake.nix"), "{ outputs = _: { }; }\n");
  if (toml !== undefined) writeFileSync(join(root, "flk.toml"), toml);
  return root;
}

/** The command names `flk --help` lists (lines under COMMANDS). */
function listed(stdout: string): string[] {
  const section = stdout.slice(stdout.indexOf("COMMANDS"));
  return [...section.matchAll(/^ {2}([a-z][a-z0-9-]*) {2,}/gm)].map((m) => m[1]!);
}

describe("flk --help (dist/flk)", () => {
  test("lists core commands and every built-in plugin's, without aliases", async () => {
    const r = await flk(["--help"], { cwd: site("all") });
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(listed(r.stdout)).toEqual(["plugins", "doctor", "completion", "hosts", "iso", "write", "devices", "resolve", "lla", "keys", "ssh", "install", "disk"]);
    expect(r.stdout).toContain("USAGE flk [OPTIONS] COMMAND [ARGS]");
    for (const flag of ["--config FILE", "--site DIR", "--json", "--verbose", "--yes, -y", "--no-color"]) expect(r.stdout).toContain(`  ${flag}`);
    expect(r.stdout).not.toMatch(/ +$/m);
  });

  test("hides the commands of plugins the site's flk.toml switches off", async () => {
    const r = await flk(["--help"], { cwd: site("some", 'plugins = ["dd-writer", "ssh-keys"]\n') });
    expect(r).toMatchObject({ code: 0, stderr: "" });
    expect(listed(r.stdout)).toEqual(["plugins", "doctor", "completion", "write", "devices", "keys", "ssh"]);
  });

  test("refuses a bad flk.toml (exit 2) with the fix, as every command does; nothing on stdout", async () => {
    for (const [toml, message] of [
      ['plugins = ["nix-iso", "mnds"]\n', "flk.toml: plugins: unknown plugin 'mnds'. Did you mean `mdns`?"],
      ["[dd-writer]\nverify = 1\n", "flk.toml: [dd-writer].verify: expected a boolean (true or false), got a number (1)"],
      ["plugins = [\n", "flk.toml:"],
    ] as const) {
      for (const args of [["--help"], [], ["help"]]) {
        const r = await flk(args, { cwd: site(`bad-${toml.length}`, toml) });
        expect([args, r.code, r.stdout]).toEqual([args, 2, ""]);
        expect(r.stderr).toContain(message);
      }
    }
  });

  test("is plain text off a terminal and with --no-color; coloured on a terminal", async () => {
    const cwd = site("colour");
    const pipe = await flk(["--help"], { cwd, env: { NO_COLOR: "" } });
    expect(pipe.stdout).not.toContain("\x1b[");
    // script(1) gives flk a pseudo-terminal as stdout.
    const tty = (args: string) =>
      Bun.spawnSync(["script", "-qec", `${FLK} ${args}`, "/dev/null"], { cwd, env: { ...process.env, NO_COLOR: "", TERM: "xterm" }, stdout: "pipe" }).stdout.toString();
    expect(tty("--help")).toContain("\x1b[4;1mCOMMANDS\x1b[0m");
    expect(tty("--no-color --help")).not.toContain("\x1b[");
  });
});

describe("what flk --help loads", () => {
  test("neither tapable nor citty (node:util), consola, nor @noble/hashes: it lists commands from the plugins' registrations", async () => {
    const root = join(import.meta.dir, "..", "..");
    const script = join(dir, "help-modules.ts");
    writeFileSync(
      script,
      `const { runCli } = await import(${JSON.stringify(join(root, "core/cli.ts"))});
const names = ["nix-iso", "dd-writer", "mdns", "ipv6-lla", "ssh-keys", "installer"];
const plugins = await Promise.all(names.map((n) => import(${JSON.stringify(root)} + "/plugins/" + n + "/index.ts")));
const lines = [];
console.log = (line) => void lines.push(line);
const code = await runCli(["--help"], { plugins: plugins.map((m) => m.default), version: "0", cwd: "/" });
process.stdout.write(JSON.stringify({ code, help: lines.join("\\n"), loaded: Object.keys(require.cache) }));
`,
    );
    const r = Bun.spawnSync([process.execPath, script], { cwd: dir, stdout: "pipe", stderr: "pipe" });
    expect(r.stderr.toString()).toBe("");
    const out = JSON.parse(r.stdout.toString()) as { code: number; help: string; loaded: string[] };
    expect(out.code).toBe(0);
    expect(out.help).toContain("write ");
    // The check is meaningful: plugin code was loaded through the same cache.
    expect(out.loaded.some((f) => f.endsWith("plugins/dd-writer/index.ts"))).toBe(true);
    expect(out.loaded.filter((f) => /node_modules\/(tapable|citty|consola|@noble)\//.test(f))).toEqual([]);
  });
});
