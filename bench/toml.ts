/**
 * flk.toml parsing: smol-toml (what flk uses) against Bun's built-in
 * Bun.TOML.parse, alternated in one process, on the example site's flk.toml
 * and on generated files of 1,000 and 10,000 keys. Also prints the bundled
 * size of the parser and what each reports for a syntax error.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "smol-toml";
import { alternate, table } from "./lib.ts";

/** `keys` string keys, `perTable` to a table (a flat file when perTable = keys). */
function generated(keys: number, perTable: number): string {
  const lines: string[] = [];
  for (let t = 0; t < keys / perTable; t++) {
    lines.push(`[table${t}]`);
    for (let k = 0; k < perTable; k++) lines.push(`key${k} = "value ${t}.${k}"`);
  }
  return lines.join("\n") + "\n";
}

function timeParse(fn: (text: string) => unknown, text: string, repeat: number): number {
  const start = performance.now();
  for (let i = 0; i < repeat; i++) fn(text);
  return ((performance.now() - start) / repeat) * 1000;
}

export async function main(rounds = 7): Promise<void> {
  const typical = readFileSync(join(import.meta.dir, "..", "examples", "devos", "flk.toml"), "utf8");
  const bunToml = (t: string) => Bun.TOML.parse(t);
  for (const [name, text, repeat] of [
    ["typical flk.toml (examples/devos)", typical, 2000],
    ["1,000 keys, 10 per table", generated(1000, 10), 20],
    ["10,000 keys, 10 per table", generated(10_000, 10), 1],
    ["10,000 keys in one table", generated(10_000, 10_000), 1],
  ] as const) {
    const samples = await alternate(
      { "smol-toml": () => timeParse(parse, text, repeat), "Bun.TOML": () => timeParse(bunToml, text, repeat) },
      rounds,
      1,
    );
    console.log(table(`${name}, ${text.length} bytes, µs per parse`, samples, "smol-toml", "µs"));
    console.log();
  }
  const out = Bun.spawnSync([process.execPath, "build", "--minify", "--target=bun", join(import.meta.dir, "..", "node_modules", "smol-toml", "dist", "index.js")]);
  const gz = Bun.gzipSync(new Uint8Array(out.stdout));
  console.log(`smol-toml bundled and minified: ${(out.stdout.length / 1024).toFixed(1)} KiB (${(gz.length / 1024).toFixed(1)} KiB gzip)`);
  const bad = 'plugins = ["mdns"]\n\n[mdns\nbackend = "avahi"\n';
  for (const [name, fn] of [["smol-toml", parse], ["Bun.TOML", bunToml]] as const) {
    try {
      fn(bad);
    } catch (e) {
      const err = e as { line?: number; column?: number; position?: { line: number; column: number }; errors?: Array<{ position?: { line: number; column: number }; message: string }>; message: string };
      const pos = err.line ? `${err.line}:${err.column}` : err.position ? `${err.position.line}:${err.position.column}` : err.errors?.[0]?.position ? `${err.errors[0].position.line}:${err.errors[0].position.column}` : "no position";
      console.log(`${name} on an unclosed [mdns (line 3): ${pos}: ${(err.errors?.[0]?.message ?? err.message).split("\n")[0]}`);
    }
  }
}

if (import.meta.main) await main();
