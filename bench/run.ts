/**
 * npm run bench: every benchmark in bench/ (or those named on the command
 * line, e.g. `npm run bench -- startup dd-writer`), one after another.
 */
import { readdirSync } from "node:fs";

const all = readdirSync(import.meta.dir)
  .filter((f) => f.endsWith(".ts") && !["run.ts", "lib.ts"].includes(f))
  .map((f) => f.slice(0, -3))
  .sort();
const wanted = process.argv.slice(2);
const unknown = wanted.filter((w) => !all.includes(w));
if (unknown.length) {
  console.error(`unknown benchmark(s): ${unknown.join(", ")}; available: ${all.join(", ")}`);
  process.exit(2);
}
console.log(`# flk benchmarks, ${new Date().toISOString().slice(0, 10)}, ${navigator.hardwareConcurrency} cores\n`);
for (const name of wanted.length ? wanted : all) {
  console.log(`\n## ${name}\n`);
  const mod = (await import(`./${name}.ts`)) as { main: () => Promise<void> };
  await mod.main();
}
