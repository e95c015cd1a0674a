/**
 * Prerequisites of system tests. Under CI (CI=true) a missing prerequisite
 * fails the test, saying what is missing; elsewhere the test is skipped and
 * the reason printed. Never a silent skip.
 */
import { test } from "bun:test";

const CI = process.env.CI === "true" || process.env.CI === "1";

/** Why the prerequisites are not met, or undefined when they are. */
export function missing(programs: string[], root = false): string | undefined {
  if (root && process.getuid?.() !== 0) return "needs root";
  const absent = programs.filter((p) => !Bun.which(p, { PATH: `${process.env.PATH}:/usr/sbin:/sbin` }));
  return absent.length ? `needs ${absent.join(", ")} on PATH` : undefined;
}

/**
 * `test` when the prerequisites hold; otherwise a test that fails in CI and
 * a skip elsewhere, both naming what is missing.
 */
export function systemTest(programs: string[], options: { root?: boolean } = { root: true }) {
  const why = missing(programs, options.root ?? true);
  if (!why) return test;
  if (CI) return ((name: string, _fn: unknown, timeout?: number) => test(name, () => { throw new Error(`prerequisite missing in CI: ${why}`); }, timeout)) as unknown as typeof test;
  console.warn(`skipping system tests: ${why}`);
  return test.skip;
}
