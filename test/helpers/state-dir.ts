/**
 * Preloaded by `bun test` (bunfig.toml): every test process, and every flk it
 * spawns, gets a private XDG_STATE_HOME, so a real `flk iso` in a test keeps
 * its installer host keys there — never in the real ~/.local/state/flk.
 * Tests that need to look at the state dir set their own.
 */
import { afterAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dir = mkdtempSync(join(tmpdir(), "flk-test-state-"));
process.env.XDG_STATE_HOME = dir;
// In a preload, afterAll runs once, after every test file.
afterAll(() => rmSync(dir, { recursive: true, force: true }));
