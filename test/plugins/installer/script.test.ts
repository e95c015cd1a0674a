/**
 * The generated script, with /bin/sh as the oracle: quoting survives any
 * bytes, steps run or skip by their `unless`, a failure stops the plan and
 * reports, undo walks backwards over only what is in place.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Step } from "../../../plugins/installer/hooks.ts";
import { parseMarker, renderScript, shQuote } from "../../../plugins/installer/script.ts";

async function runSh(script: string, stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = Bun.spawn(["sh", "-s"], { stdin: new TextEncoder().encode(stdin ?? script), stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { code: await child.exited, stdout, stderr };
}

function markers(stdout: string) {
  return stdout.split("\n").map(parseMarker).filter(Boolean).map((m) => `${m!.event} ${m!.id}${m!.code !== undefined ? ` ${m!.code}` : ""}`.trim());
}

describe("shQuote", () => {
  test("round-trips 2,000 random strings (quotes, $, backslashes, newlines, UTF-8) through sh", async () => {
    const alphabet = ["'", '"', "$", "\\", "`", " ", "\n", "\t", "*", "?", "~", "#", ";", "&", "|", "(", "{", "a", "Z", "0", "é", "→", "-", "%", "!"];
    const samples = Array.from({ length: 2000 }, () => Array.from({ length: Math.floor(Math.random() * 12) }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join(""));
    const script = samples.map((s) => `printf '%s\\0' ${shQuote(s)}`).join("\n");
    const { stdout, code } = await runSh(script);
    expect(code).toBe(0);
    expect(stdout.split("\0").slice(0, -1)).toEqual(samples);
  });
});

describe("renderScript", () => {
  const dir = mkdtempSync(join(tmpdir(), "flk-script-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string) => join(dir, name);
  const options = { title: "test", root: join(dir, "root"), store: join(dir, "store"), guards: [], cwd: dir };
  const steps: Step[] = [
    { id: "make-a", title: "make a", argv: ["touch", file("a")], unless: ["test", "-e", file("a")], undo: ["rm", file("a")] },
    { id: "make-b", title: "make b", argv: ["touch", file("b it's")], unless: ["test", "-e", file("b it's")], undo: ["rm", file("b it's")] },
    { id: "always", title: "always runs", argv: ["sh", "-c", "echo to-stdout; echo to-stderr >&2"] },
  ];

  test("runs each step, then skips what is done; command stdout never reaches the marker channel", async () => {
    const first = await runSh(renderScript(steps, "install", options));
    expect(first.code).toBe(0);
    expect(markers(first.stdout)).toEqual(["run make-a", "run make-b", "run always", "done"]);
    expect(first.stdout).not.toContain("to-stdout");
    expect(first.stderr).toContain("to-stdout");
    expect(existsSync(file("b it's"))).toBe(true);
    const second = await runSh(renderScript(steps, "install", options));
    expect(markers(second.stdout)).toEqual(["skip make-a", "skip make-b", "run always", "done"]);
  });

  test("a failing step stops the plan with its exit code and prints the state; later steps do not run", async () => {
    const failing: Step[] = [steps[0]!, { id: "boom", title: "fails", argv: ["sh", "-c", "exit 5"] }, { id: "never", title: "never", argv: ["touch", file("never")] }];
    const run = await runSh(renderScript(failing, "install", options));
    expect(run.code).toBe(1);
    expect(markers(run.stdout)).toEqual(["skip make-a", "run boom", "fail boom 5"]);
    expect(run.stderr).toContain("flk: mounted now:");
    expect(existsSync(file("never"))).toBe(false);
  });

  test("undo runs only the undo of steps in place, newest first", async () => {
    rmSync(file("a"));
    const run = await runSh(renderScript(steps, "undo", options));
    expect(markers(run.stdout)).toEqual(["run make-b", "skip make-a", "done"]);
    expect(existsSync(file("b it's"))).toBe(false);
  });

  test("a guard whose device no longer carries the label stops before any step (exit 2)", async () => {
    const run = await runSh(renderScript(steps, "install", { ...options, guards: [{ device: "/dev/null", label: "nixos" }] }));
    expect(run.code).toBe(2);
    expect(markers(run.stdout)).toEqual(["changed /dev/null"]);
  });

  test("fed on stdin (ssh … sh -s), a step that reads stdin cannot swallow the rest of the script", async () => {
    const greedy: Step[] = [{ id: "greedy", title: "reads stdin", argv: ["cat"] }, { id: "after", title: "after", argv: ["true"] }];
    const run = await runSh(renderScript(greedy, "install", options));
    expect(markers(run.stdout)).toEqual(["run greedy", "run after", "done"]);
  });
});

describe("parseMarker", () => {
  test("reads markers and nothing else", () => {
    expect(parseMarker("@flk fail mount-root 32")).toEqual({ event: "fail", id: "mount-root", code: 32 });
    expect(parseMarker("@flk done")).toEqual({ event: "done", id: "" });
    expect(parseMarker("mount: @flk run x")).toBeUndefined();
    expect(parseMarker("@flk explode x")).toBeUndefined();
  });
});

describe("guards", () => {
  test("a device path is data in the guard line: `$(…)`, quotes and spaces in it run nothing and the marker names it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "flk-guard-"));
    try {
      const evil = `/dev/x$(touch ${dir}/pwned)'"\`touch ${dir}/pwned2\` y`;
      const script = renderScript([], "install", { title: "t", root: join(dir, "root"), store: join(dir, "store"), guards: [{ device: evil, label: "nixos" }], cwd: dir });
      const { code, stdout } = await runSh(script);
      expect(code).toBe(2);
      expect(existsSync(join(dir, "pwned")) || existsSync(join(dir, "pwned2"))).toBe(false);
      expect(parseMarker(stdout.trim())).toEqual({ event: "changed", id: evil.replace(/\s/g, "_") });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

