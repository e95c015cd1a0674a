/**
 * Start-up of the compiled binary against its floor: a compiled Bun
 * hello-world built by the same Bun with the same flags, alternated A B A B
 * in one run. Targets (issue 17): `flk --version` ≤ 1.5× the hello-world,
 * `flk --help` ≤ 2× (outside a site, and in one whose flk.toml is read).
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { alternate, median, table, timeCommand } from "./lib.ts";

/** Build `console.log("hello")` with `npm run build`'s flags; returns its path and a cleanup. */
function helloWorld(): { path: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "flk-bench-hello-"));
  writeFileSync(join(dir, "hello.ts"), 'console.log("hello");\n');
  const path = join(dir, "hello");
  const flags = ["--compile", "--minify", "--bytecode", "--format=esm", "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig"];
  const r = Bun.spawnSync([process.execPath, "build", ...flags, join(dir, "hello.ts"), "--outfile", path], { stdout: "ignore", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`building the hello-world failed: ${r.stderr.toString()}`);
  return { path, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** CPU time (user + system) of one spawned command, in ms: steadier than wall time on a loaded machine. */
function cpuCommand(argv: string[]): number {
  const r = Bun.spawnSync(argv, { stdout: "ignore", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${argv.join(" ")} exited ${r.exitCode}: ${r.stderr.toString()}`);
  return Number(r.resourceUsage.cpuTime.total) / 1000;
}

export async function main(rounds = 30): Promise<void> {
  const flk = process.env.FLK_BIN ?? join(import.meta.dir, "..", "dist", "flk");
  if (!existsSync(flk)) throw new Error(`${flk} is missing: run npm run build first`);
  const hello = helloWorld();
  try {
    const site = join(import.meta.dir, "..", "examples", "devos");
    const cases = {
      "hello-world (compiled, same Bun)": [hello.path],
      "flk --version": [flk, "--version"],
      // From the repository: no flake.nix here or above, so no site and no flk.toml.
      "flk --help": [flk, "--help"],
      // A site with a flk.toml: found, read, parsed and validated before the command list.
      "flk --help (site with flk.toml)": [flk, "--site", site, "--help"],
      "flk write --help": [flk, "write", "--help"],
    };
    const peer = "hello-world (compiled, same Bun)";
    const load = () => require("node:os").loadavg()[0].toFixed(1);
    console.log(`Bun ${Bun.version}, ${rounds} rounds, load average ${load()} at the start\n`);
    for (const [title, measure] of [["wall time", timeCommand], ["CPU time (user + system)", cpuCommand]] as const) {
      const samples = await alternate(Object.fromEntries(Object.entries(cases).map(([name, argv]) => [name, () => measure(argv)])), rounds);
      console.log(table(`start-up, ${title}`, samples, peer));
      const floor = median(samples[peer]!);
      for (const [name, target] of [["flk --version", 1.5], ["flk --help", 2], ["flk --help (site with flk.toml)", 2]] as const) {
        const ratio = median(samples[name]!) / floor;
        console.log(`${name}: ${ratio.toFixed(2)}× the hello-world's ${title} (target ≤ ${target}×): ${ratio <= target ? "met" : "MISSED"}`);
      }
      console.log(`(load average ${load()} after these rounds)\n`);
    }
  } finally {
    hello.cleanup();
  }
}

if (import.meta.main) await main();
