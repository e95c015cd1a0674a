/**
 * One way to assert a refusal: the FlkError a call throws (sync or async),
 * failing the test when it returns instead or throws something else; and a
 * snapshot of a tree to prove a refusal changed nothing (DESIGN.md: a
 * refusal's test proves nothing changed).
 *
 *   const e = await refusal(() => install(flk, { host: "nixso" }));
 *   expect(e.exitCode).toBe(2);
 *   const before = snapshot(site); …; expect(snapshot(site)).toEqual(before);
 */
import { createHash } from "node:crypto";
import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { join } from "node:path";
import { isFlkError, type FlkError } from "../../core/errors.ts";

function expectFlkError(error: unknown): FlkError {
  if (isFlkError(error)) return error;
  throw new Error(`expected a FlkError, got: ${error instanceof Error ? error.stack : String(error)}`);
}

/** The FlkError `run` throws; when `run` returns a promise, a promise of it. */
export function refusal(run: () => Promise<unknown>): Promise<FlkError>;
export function refusal(run: () => unknown): FlkError;
export function refusal(run: () => unknown): FlkError | Promise<FlkError> {
  let result: unknown;
  try {
    result = run();
  } catch (error) {
    return expectFlkError(error);
  }
  if (result instanceof Promise)
    return result.then(
      () => {
        throw new Error("expected a refusal, but it resolved");
      },
      expectFlkError,
    );
  throw new Error("expected a refusal, but it returned");
}

/**
 * Every path under `root` (relative) → file sha256, link target (never
 * followed) or "dir", with its mode. `skip` leaves out relative paths (and
 * what is under them), e.g. `.git`, whose index git refreshes on a mere `git status`.
 */
export function snapshot(root: string, options: { skip?: string[] } = {}): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (at: string) => {
    for (const name of readdirSync(join(root, at)).sort()) {
      const rel = at ? `${at}/${name}` : name;
      if (options.skip?.includes(rel)) continue;
      const path = join(root, rel);
      const st = lstatSync(path);
      const mode = (st.mode & 0o7777).toString(8);
      if (st.isSymbolicLink()) out[rel] = `link ${readlinkSync(path)}`;
      else if (st.isDirectory()) {
        out[rel] = `dir ${mode}`;
        walk(rel);
      } else out[rel] = `file ${mode} ${createHash("sha256").update(readFileSync(path)).digest("hex")}`;
    }
  };
  walk("");
  return out;
}
