/**
 * `flk resolve` against a real avahi-daemon in a network namespace:
 *   - how long after the last expected answer arrives the resolver returns
 *     (target ≤ 50 ms: it must not sit out the timeout),
 *   - how long it takes to give up when nothing answers, against the timeout,
 *   - the compiled binary end to end, against its own `--version` start-up.
 * Cases alternate A B A B in one run. Needs root, ip, unshare, avahi-daemon.
 *
 * The answer-arrival moment is measured inside the resolver process (the
 * socket's message event), so `bun bench/mdns.ts --probe NAME TIMEOUT` is
 * also the probe the benchmark starts inside the querying namespace.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { alternate, median, table } from "./lib.ts";
import { createLink, linkLocal, type Namespace } from "../test/helpers/netns.ts";
import { startAvahi } from "../test/helpers/avahi.ts";
import { parseMdnsName } from "../plugins/mdns/name.ts";
import { resolveMdns } from "../plugins/mdns/resolve.ts";

const SILENT_TIMEOUT_MS = 500;
const TARGET_AFTER_LAST_MS = 50;

interface Probe {
  elapsedMs: number;
  lastAnswerMs?: number;
  addresses: number;
}

/** One resolve in this process (run inside the querying namespace). */
async function probe(name: string, timeoutMs: number): Promise<Probe> {
  const r = await resolveMdns({ name: parseMdnsName(name), timeoutMs, families: [4, 6] });
  return { elapsedMs: r.elapsedMs, lastAnswerMs: r.lastAnswerMs, addresses: r.addresses.length };
}

async function runProbe(ns: Namespace, name: string, timeoutMs: number): Promise<Probe> {
  const r = await ns.exec([process.execPath, import.meta.path, "--probe", name, String(timeoutMs)]);
  if (r.code !== 0) throw new Error(`probe failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as Probe;
}

async function wall(ns: Namespace, argv: string[], expectCode = 0): Promise<number> {
  const started = performance.now();
  const r = await ns.exec(argv, { env: { NO_COLOR: "1" } });
  const ms = performance.now() - started;
  if (r.code !== expectCode) throw new Error(`${argv.join(" ")} exited ${r.code}: ${r.stderr}`);
  return ms;
}

/** Run the benchmark (`npm run bench -- mdns`), printing the tables. */
export async function main(rounds = 15): Promise<void> {
  const flk = process.env.FLK_BIN ?? join(import.meta.dir, "..", "dist", "flk");
  const link = await createLink({ ipv4A: "169.254.40.1/16", ipv4B: "169.254.40.2/16" });
  try {
    await linkLocal(link.a);
    await linkLocal(link.b);
    await link.a.exec(["ip", "addr", "add", "fe80::47/64", "dev", link.a.iface]);
    const avahi = await startAvahi(link.a, { hostName: "NixOS" });
    const afterLast: number[] = [];
    const arrival: number[] = [];
    try {
      const cases: Record<string, () => Promise<number>> = {
        "resolve NixOS (avahi answers), in-process": async () => {
          const p = await runProbe(link.b, "NixOS", 2000);
          if (p.addresses !== 3 || p.lastAnswerMs === undefined) throw new Error(`expected 3 addresses, got ${p.addresses}`);
          afterLast.push(p.elapsedMs - p.lastAnswerMs);
          arrival.push(p.lastAnswerMs);
          return p.elapsedMs;
        },
        [`resolve Nobody (silent, timeout ${SILENT_TIMEOUT_MS} ms), in-process`]: async () => (await runProbe(link.b, "Nobody", SILENT_TIMEOUT_MS)).elapsedMs,
      };
      if (existsSync(flk)) {
        cases["flk --version (binary, wall)"] = () => wall(link.b, [flk, "--version"]);
        cases["flk resolve NixOS (binary, wall)"] = () => wall(link.b, [flk, "resolve", "NixOS"]);
      } else console.log(`(${flk} is missing: binary rows skipped; run npm run build or set FLK_BIN)\n`);
      const samples = await alternate(cases, rounds, 1);
      // warm-up rounds also pushed into afterLast/arrival: keep the measured ones
      afterLast.splice(0, afterLast.length - rounds);
      arrival.splice(0, arrival.length - rounds);
      console.log(table("flk resolve against avahi-daemon across namespaces", samples, Object.keys(cases)[0]!));
      console.log(report(samples, afterLast, arrival));
    } finally {
      await avahi.stop();
    }
  } finally {
    await link.cleanup();
  }
}

function report(samples: Record<string, number[]>, afterLast: number[], arrival: number[]): string {
  const silent = median(Object.entries(samples).find(([k]) => k.startsWith("resolve Nobody"))![1]);
  const after = median(afterLast);
  const lines = [
    "",
    "| measure | median (ms) | against | target | met |",
    "|---|---:|---|---|---|",
    `| last expected answer arrives | ${median(arrival).toFixed(1)} | first query sent | — | — |`,
    `| returns after the last expected answer | ${after.toFixed(1)} | answer arrival | ≤ ${TARGET_AFTER_LAST_MS} | ${after <= TARGET_AFTER_LAST_MS ? "yes" : "NO"} |`,
    `| gives up when nothing answers | ${silent.toFixed(1)} | timeout ${SILENT_TIMEOUT_MS} (ratio ${(silent / SILENT_TIMEOUT_MS).toFixed(3)}) | ≈ 1.00 | ${silent / SILENT_TIMEOUT_MS < 1.05 ? "yes" : "NO"} |`,
  ];
  const version = samples["flk --version (binary, wall)"];
  const binary = samples["flk resolve NixOS (binary, wall)"];
  if (version && binary) lines.push(`| binary resolve beyond start-up | ${(median(binary) - median(version)).toFixed(1)} | flk --version ${median(version).toFixed(1)} | — | — |`);
  return lines.join("\n");
}

if (import.meta.main) {
  const at = process.argv.indexOf("--probe");
  if (at >= 0) process.stdout.write(JSON.stringify(await probe(process.argv[at + 1]!, Number(process.argv[at + 2]))) + "\n");
  else await main();
}
