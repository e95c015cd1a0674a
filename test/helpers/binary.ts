/** Run the compiled dist/flk (built by `npm run build`) for end-to-end tests. */
import { existsSync } from "node:fs";
import { join } from "node:path";

/** dist/flk, or $FLK_BIN (so parallel work can test its own build). */
export const FLK = process.env.FLK_BIN ?? join(import.meta.dir, "..", "..", "dist", "flk");

import type { Ran } from "./sh.ts";
export type { Ran } from "./sh.ts";

/** Spawn dist/flk with args; fails loudly when the binary was not built. */
export async function flk(args: string[], options: { cwd?: string; env?: Record<string, string>; input?: string } = {}): Promise<Ran> {
  if (!existsSync(FLK)) throw new Error(`${FLK} is missing: run \`npm run build\` before \`npm test\``);
  const child = Bun.spawn([FLK, ...args], {
    cwd: options.cwd,
    env: { ...process.env, NO_COLOR: "1", ...options.env },
    stdin: options.input === undefined ? "ignore" : new TextEncoder().encode(options.input),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr] = await Promise.all([new Response(child.stdout).text(), new Response(child.stderr).text()]);
  return { code: await child.exited, stdout, stderr };
}
