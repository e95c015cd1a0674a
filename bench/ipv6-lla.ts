/**
 * bench/ipv6-lla:
 *   - `flk lla eui64`: throughput of the library function (parse a MAC,
 *     derive its EUI-64 link-local address, RFC 5952 text), in-process;
 *   - `flk lla discover` (the compiled binary) on a two-namespace veth link
 *     where the other end holds fe80::47, against its peer done by hand:
 *     `ping -6 -c 2 ff02::1%IF` then `ip -6 neigh` (what the devos guide
 *     had the operator type). Cases alternate A B A B in one run.
 * Needs root, ip and ping for the discover part.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { alternate, median, table } from "./lib.ts";
import { createLink, linkLocal } from "../test/helpers/netns.ts";
import { eui64Answer } from "../plugins/ipv6-lla/eui64.ts";

const FLK = process.env.FLK_BIN ?? join(import.meta.dir, "..", "dist", "flk");
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const MACS = 200_000;

/** MACs in the forms operators paste (colon, dash, bare, Cisco), unicast. */
function macs(count: number): string[] {
  let seed = 47;
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const bytes = Array.from({ length: 6 }, () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff);
    bytes[0] = (bytes[0]! & 0xfe) | 0x02;
    const hex = bytes.map((b) => b.toString(16).padStart(2, "0"));
    out.push([hex.join(":"), hex.join("-").toUpperCase(), hex.join(""), `${hex[0]}${hex[1]}.${hex[2]}${hex[3]}.${hex[4]}${hex[5]}`][i % 4]!);
  }
  return out;
}

/** Addresses per second of eui64Answer over `inputs`, best of three passes (the first warms the JIT). */
function eui64Throughput(inputs: string[]): { perSecond: number; nsEach: number } {
  let best = Infinity;
  let sink = 0;
  for (let pass = 0; pass < 3; pass++) {
    const start = performance.now();
    for (const mac of inputs) sink += eui64Answer(mac).address.length;
    best = Math.min(best, performance.now() - start);
  }
  if (sink === 0) throw new Error("no addresses derived");
  return { perSecond: (inputs.length / best) * 1000, nsEach: (best * 1e6) / inputs.length };
}

async function timed(run: () => Promise<{ code: number; stderr: string }>): Promise<number> {
  const start = performance.now();
  const r = await run();
  const ms = performance.now() - start;
  if (r.code !== 0) throw new Error(`benchmark command failed (${r.code}): ${r.stderr}`);
  return ms;
}

/** Run the benchmark, print the tables, return the medians (ms) of the discover cases. */
export async function main(): Promise<Record<string, number>> {
  const { perSecond, nsEach } = eui64Throughput(macs(MACS));
  console.log(`### flk lla eui64 (library)\n\n| MACs | addresses/s | ns each |\n|---:|---:|---:|\n| ${MACS} | ${Math.round(perSecond).toLocaleString("en")} | ${nsEach.toFixed(0)} |\n`);
  if (process.getuid?.() !== 0) throw new Error("bench/ipv6-lla: the discover part needs root (network namespaces)");
  if (!existsSync(FLK)) throw new Error(`${FLK} is missing: build it (npm run build) or set FLK_BIN`);
  const link = await createLink();
  try {
    await link.a.exec(["ip", "addr", "add", "fe80::47/64", "dev", link.a.iface, "nodad"]);
    await Promise.all([linkLocal(link.a), linkLocal(link.b)]);
    const iface = link.b.iface;
    const samples = await alternate(
      {
        "flk lla discover": () => timed(() => link.b.exec([FLK, "lla", "discover", "--json"])),
        "ping -c 2 ff02::1 + ip -6 neigh": () =>
          timed(() => link.b.exec(["sh", "-c", `ping -6 -n -q -c 2 ff02::1%${iface} >/dev/null && ip -6 neigh show dev ${iface}`])),
      },
      ROUNDS,
      1,
    );
    console.log(table(`flk lla discover on a veth link (${ROUNDS} rounds, A B A B)`, samples, "ping -c 2 ff02::1 + ip -6 neigh"));
    return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
  } finally {
    await link.cleanup();
  }
}

if (import.meta.main) await main();
