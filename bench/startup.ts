/**
 * Start-up of the compiled binary: `dist/flk --version` and `--help` against
 * `bash -c true`, alternated. Target: --version median ≤ 30 ms.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { alternate, median, table, timeCommand } from "./lib.ts";

export async function main(rounds = 30): Promise<void> {
  const flk = process.env.FLK_BIN ?? join(import.meta.dir, "..", "dist", "flk");
  if (!existsSync(flk)) throw new Error(`${flk} is missing: run npm run build first`);
  const samples = await alternate(
    {
      "bash -c true": () => timeCommand(["bash", "-c", "true"]),
      "flk --version": () => timeCommand([flk, "--version"]),
      "flk --help": () => timeCommand([flk, "--help"]),
    },
    rounds,
  );
  console.log(table("start-up (wall time)", samples, "bash -c true"));
  const version = median(samples["flk --version"]!);
  console.log(`\nflk --version median ${version.toFixed(1)} ms: ${version <= 30 ? "meets" : "misses"} the 30 ms target`);
}

if (import.meta.main) await main();
