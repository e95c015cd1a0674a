/**
 * A FIFO as the site's flk.toml is refused at once (exit 2, "not a regular
 * file"), through dist/flk: opening it for reading without O_NONBLOCK would
 * wait for a writer forever, deaf to Ctrl-C (the same trap as a FIFO image).
 */
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FLK } from "../helpers/binary.ts";

test("a site whose flk.toml is a FIFO: flk plugins is exit 2 'not a regular file' within seconds", async () => {
  const dir = mkdtempSync(join(tmpdir(), "flk-fifo-"));
  try {
    const fifo = join(dir, "flk.toml");
    await Bun.write(join(dir, "flake.nix"), "{ outputs = _: { }; }\n");
    Bun.spawnSync(["mkfifo", fifo]);
    const started = Date.now();
    const child = Bun.spawn([FLK, "plugins"], { cwd: dir, env: { ...process.env, NO_COLOR: "1" }, stdin: "ignore", stdout: "ignore", stderr: "pipe" });
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    const [code, stderr] = await Promise.all([child.exited, new Response(child.stderr).text()]);
    clearTimeout(timer);
    expect(code).toBe(2);
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(stderr).toContain(`${fifo} is not a regular file`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 30_000);
