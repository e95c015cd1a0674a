import { describe, expect, test } from "bun:test";
import { requireProgram, run, runChecked } from "../../core/exec.ts";
import { FlkError } from "../../core/errors.ts";

describe("exec", () => {
  test("captures stdout, stderr and the exit status", async () => {
    const r = await run(["sh", "-c", "echo out; echo err >&2; exit 3"]);
    expect(r).toMatchObject({ code: 3, stdout: "out\n", stderr: "err\n" });
    expect(r.tail.sort()).toEqual(["err", "out"]);
  });
  test("feeds input on stdin", async () => {
    expect((await run(["cat"], { input: "hello\n" })).stdout).toBe("hello\n");
  });
  test("stream mode keeps only the last lines for error messages", async () => {
    const r = await run(["sh", "-c", "seq 1 100 >&2"], { stdio: "stream", keepLines: 5 });
    expect(r.code).toBe(0);
    expect(r.tail).toEqual(["96", "97", "98", "99", "100"]);
  });
  test("a child killed by a signal reports 128+N", async () => {
    expect((await run(["sh", "-c", "kill -TERM $$"])).code).toBe(143);
  });
  test("abort kills the child", async () => {
    const controller = new AbortController();
    const started = performance.now();
    setTimeout(() => controller.abort(), 50);
    const r = await run(["sleep", "5"], { signal: controller.signal });
    expect(r.code).toBe(143);
    expect(performance.now() - started).toBeLessThan(2000);
  });
  test("a missing program is a FlkError naming it and its package", async () => {
    let error: unknown;
    try {
      await run(["xorriso-does-not-exist"]);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FlkError);
    expect((error as FlkError).message).toContain("`xorriso-does-not-exist` is not installed or not on PATH");
    const saved = process.env.PATH;
    process.env.PATH = "/nonexistent";
    try {
      expect(() => requireProgram("ssh-keygen")).toThrow("apt-get install openssh-client");
    } finally {
      process.env.PATH = saved;
    }
  });
  test("runChecked turns a failure into exit 1 with the child's last lines", async () => {
    let error: FlkError | undefined;
    try {
      await runChecked(["sh", "-c", "echo first; echo 'error: the real reason' >&2; exit 1"]);
    } catch (e) {
      error = e as FlkError;
    }
    expect(error?.exitCode).toBe(1);
    expect(error?.message).toContain("error: the real reason");
  });
});

describe("install hints: core names only the operating system's tools", () => {
  test("core's table knows no plugin's programs; a plugin's requires.install reaches the not-installed error", async () => {
    const { createFlk } = await import("../../core/context.ts");
    const { definePlugin } = await import("../../core/plugin.ts");
    const { readFileSync } = await import("node:fs");
    const source = readFileSync(new URL("../../core/exec.ts", import.meta.url), "utf8");
    const table = source.slice(source.indexOf("const PROVIDERS"), source.indexOf("};", source.indexOf("const PROVIDERS")));
    for (const word of ["xorriso", "avahi", "nixos-install", "flk iso"]) expect(table).not.toContain(word);
    const plugin = definePlugin({ name: "probe", description: "", options: {}, requires: { install: { "flk-test-tool": "the probe kit (apt-get install probe-kit)" } }, apply() {} });
    createFlk({ plugins: [plugin], cwd: "/", config: { enabled: ["probe"], options: { probe: {} } } });
    expect(() => requireProgram("flk-test-tool")).toThrow("`flk-test-tool` is not installed or not on PATH. Install it with the probe kit (apt-get install probe-kit).");
  });
});
