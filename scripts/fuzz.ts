/**
 * `npm run fuzz`: a bounded-time fuzz run of flk's parsers of outside bytes
 * (issue 16 "Done when"): ≥ 1,000,000 mDNS packets through the mdns decoder
 * and answer filter, ≥ 100,000 public-key lines through the key parser. Exit
 * 0 when nothing crashed, hung or accepted an invalid input; 1 with the
 * findings otherwise (each names the input and the seed reproduces it).
 *
 *   bun scripts/fuzz.ts [--packets N] [--keys N] [--seed S] [--seconds S]
 *
 * The test suite runs the same targets with smaller counts
 * (test/scripts/fuzz.test.ts).
 */
import { fuzzKeys } from "./fuzz/keys.ts";
import { fuzzMdns, TRUST_RULES } from "./fuzz/mdns.ts";
import { rng, type FuzzReport } from "./fuzz/rng.ts";

function flag(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  if (at < 0) return fallback;
  const value = Number(process.argv[at + 1]);
  if (!Number.isInteger(value) || value < 0) {
    console.error(`--${name}: expected a whole number, got '${process.argv[at + 1] ?? ""}'`);
    process.exit(2);
  }
  return value;
}

const packets = flag("packets", 1_000_000);
const keys = flag("keys", 100_000);
const seed = flag("seed", Date.now() % 2 ** 31);
const seconds = flag("seconds", 900);

const print = (r: FuzzReport) =>
  console.log(
    `${r.target.padEnd(5)} ${r.inputs.toLocaleString("en")} inputs, ${r.accepted.toLocaleString("en")} accepted, ` +
      `${(r.elapsedMs / 1000).toFixed(1)} s (${Math.round((r.inputs / r.elapsedMs) * 1000).toLocaleString("en")}/s), slowest ${r.slowestMs.toFixed(2)} ms, ${r.findings.length} finding(s)`,
  );

console.log(`fuzz seed ${seed} (reproduce with --seed ${seed}); budget ${seconds} s per target`);
if (!TRUST_RULES) console.log("note: plugins/mdns does not export recordProblem yet, so accepted answers are checked for name, class and family only (not TTL, unicast, on-link, cap)");
const reports = [fuzzMdns(packets, rng(seed), seconds * 1000), fuzzKeys(keys, rng(seed ^ 0x5eed), seconds * 1000)];
reports.forEach(print);
const findings = reports.flatMap((r) => r.findings.map((f) => `${r.target}: ${f}`));
for (const finding of findings) console.log(`  ${finding}`);
process.exit(findings.length === 0 ? 0 : 1);
