import { expect, test } from "bun:test";
import { join } from "node:path";

test("the whole project typechecks under strict tsc --noEmit", async () => {
  const root = join(import.meta.dir, "..");
  const child = Bun.spawn([join(root, "node_modules", ".bin", "tsc"), "--noEmit", "-p", root], { cwd: root, stdout: "pipe", stderr: "pipe" });
  const out = await new Response(child.stdout).text();
  expect(out).toBe("");
  expect(await child.exited).toBe(0);
}, 120_000);
