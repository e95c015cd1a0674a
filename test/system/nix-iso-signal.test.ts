/**
 * `flk iso` interrupted mid-build: the compiled binary ($FLK_BIN), the real
 * nix, a copy of the fixture site. The build is held up deterministically
 * by the fixture's FLK_FIXTURE_XORRISO knob: the image builder runs a
 * stand-in "xorriso" that prints a marker line (streamed by nix -L) and then
 * sleeps. Once the marker is on flk's stderr, flk gets SIGINT (or SIGTERM),
 * and the contract (DESIGN.md "Commands") must hold:
 *   - flk dies by that signal (bash sees exit 130 / 143);
 *   - nix and its builder are not left running (nix is gone the moment
 *     flk is: flk waits for it before it re-raises);
 *   - the temp module directory (/tmp/flk-iso-…) is removed;
 *   - no `result` out-link is left in the site.
 */
import { afterAll, describe, expect } from "bun:test";
import { chmodSync, existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FLK } from "../helpers/binary.ts";
import { copyFixtureSite, fixtureNixEnv } from "../helpers/iso.ts";
import { systemTest } from "../helpers/require.ts";

const it = systemTest(["nix", "xorriso", "git"], { root: false });
const MARKER = "flk-slow-xorriso: started";
const dirs: string[] = [];
/** Every process this file saw in a build's tree, to kill if a test fails half-way. */
const seen: Proc[] = [];

afterAll(() => {
  for (const p of seen) if (alive(p)) try { process.kill(p.pid, "SIGKILL"); } catch {}
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface Proc {
  pid: number;
  ppid: number;
  /** Start time in clock ticks since boot (with the pid: one process, even if the pid is reused). */
  start: string;
  state: string;
  argv: string[];
}

/** One process from /proc, or undefined when it is gone. */
function proc(pid: number): Proc | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the ")" that closes comm: state ppid … (starttime is field 22).
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    return { pid, ppid: Number(rest[1]), start: rest[19]!, state: rest[0]!, argv };
  } catch {
    return undefined;
  }
}

/** The processes below `root` (not `root` itself). */
function descendants(root: number): Proc[] {
  const all = readdirSync("/proc").filter((n) => /^\d+$/.test(n)).map((n) => proc(Number(n))).filter((p): p is Proc => p !== undefined);
  const out: Proc[] = [];
  let parents = new Set([root]);
  while (parents.size > 0) {
    const next = all.filter((p) => parents.has(p.ppid));
    out.push(...next);
    parents = new Set(next.map((p) => p.pid));
  }
  return out;
}

/** The same process still exists and is not a zombie waiting to be reaped. */
function alive(p: Proc): boolean {
  const now = proc(p.pid);
  return now !== undefined && now.start === p.start && now.state !== "Z";
}

function linkExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** A world-readable dir holding a "xorriso" that announces itself and then blocks (the build user runs it). */
function slowXorriso(): string {
  const dir = mkdtempSync(join(tmpdir(), "flk-sig-bin-"));
  dirs.push(dir);
  chmodSync(dir, 0o755);
  const file = join(dir, "xorriso");
  // Fails if ever woken: a missed signal must not turn into a "built" image.
  writeFileSync(file, `#!/bin/sh\necho "${MARKER}"\nsleep 300\nexit 1\n`, { mode: 0o755 });
  chmodSync(file, 0o755);
  return file;
}

describe("flk iso interrupted while nix builds", () => {
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    it(`${signal}: exit ${code}, nix and its builder gone, temp module dir removed, no result link`, async () => {
      expect(existsSync(FLK)).toBe(true);
      const site = await copyFixtureSite({ toml: 'plugins = ["nix-iso"]\n' });
      dirs.push(site);
      const xorriso = slowXorriso();
      const env = { ...process.env, NO_COLOR: "1", ...fixtureNixEnv(), FLK_FIXTURE_XORRISO: xorriso };
      // Through bash, as an operator's shell would see it: death by signal N is 128+N.
      const shell = Bun.spawn(["bash", "-c", `"$0" iso NixOS; echo "exit=$?"`, FLK], { cwd: site, env, stdout: "pipe", stderr: "pipe" });
      const stdout = new Response(shell.stdout).text();
      const reader = shell.stderr.getReader();
      const decoder = new TextDecoder();
      let stderr = "";
      while (!stderr.includes(`> ${MARKER}`)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`flk ended before the build log started:\n${stderr}`);
        stderr += decoder.decode(value, { stream: true });
      }
      const drain = (async () => {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return;
          stderr += decoder.decode(value, { stream: true });
        }
      })();

      // The build's process tree: flk, nix, the builder's shell, the stand-in xorriso and its sleep.
      const tree = descendants(shell.pid);
      seen.push(...tree);
      const flkProc = tree.find((p) => p.argv[0] === FLK && p.ppid === shell.pid);
      const nix = tree.find((p) => p.argv.includes("build") && p.argv.includes("--out-link") && p.ppid === flkProc?.pid);
      const builder = tree.filter((p) => p.argv.some((a) => a.includes(xorriso)));
      expect(flkProc).toBeDefined();
      expect(nix).toBeDefined();
      expect(nix!.argv).toContain(join(site, "result"));
      expect(builder.length).toBeGreaterThan(0);
      const moduleDir = nix!.argv.join(" ").match(/\/[^"\s]*\/flk-iso-[0-9a-f]+(?=\/isos\.nix)/)?.[0];
      expect(moduleDir).toBeDefined();
      expect(existsSync(join(moduleDir!, "isos.nix"))).toBe(true);

      process.kill(flkProc!.pid, signal);
      const [out] = await Promise.all([stdout, drain, shell.exited]);

      expect(out.trim()).toBe(`exit=${code}`);
      // flk waited for nix: gone at once, not "soon".
      expect(alive(nix!)).toBe(false);
      expect(alive(flkProc!)).toBe(false);
      // nix kills its builder before it exits; allow the orphans a moment to be reaped.
      const deadline = Date.now() + 5000;
      while (builder.some(alive) && Date.now() < deadline) await Bun.sleep(50);
      expect(builder.filter(alive).map((p) => p.argv.join(" "))).toEqual([]);
      expect(existsSync(moduleDir!)).toBe(false);
      expect(linkExists(join(site, "result"))).toBe(false);
      // An interruption, not a failure: no "nix build … failed" message.
      expect(stderr).not.toContain("failed");
    }, 120_000);
  }
});
