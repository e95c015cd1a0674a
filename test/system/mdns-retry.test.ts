/**
 * "Retry with backoff within the timeout" (issue 5): a hand-made responder
 * that records each query loses the first ones, and a silent one shows the
 * retries stay few and end at the timeout.
 */
import { expect } from "bun:test";
import { systemTest } from "../helpers/require.ts";
import { createLink, linkLocal, type Namespace } from "../helpers/netns.ts";
import { FLK } from "../helpers/binary.ts";
import { startRecorder, type Recorded } from "../plugins/mdns/recorder.ts";

const it = systemTest(["ip"]);
const env = { NO_COLOR: "1" };

async function withLink(run: (a: Namespace, b: Namespace) => Promise<void>) {
  const link = await createLink({ ipv4A: "169.254.40.1/16", ipv4B: "169.254.40.2/16" });
  try {
    await linkLocal(link.a);
    await linkLocal(link.b);
    await run(link.a, link.b);
  } finally {
    await link.cleanup();
  }
}

const gaps = (queries: Recorded[]) => queries.slice(1).map((q, i) => q.t - queries[i]!.t);

it("retries a lost query with growing gaps (~250 ms, then ~500 ms) and succeeds on the third (hand-made responder ignores the first two)", async () => {
  await withLink(async (a, b) => {
    // -4 and a responder on 224.0.0.251 only: one A question per round reaches it.
    const responder = await startRecorder(a, ["169.254.40.1", "--ignore", "2"]);
    try {
      const started = performance.now();
      const r = await b.exec([FLK, "--json", "resolve", "NixOS", "-4", "--timeout", "4000"], { env });
      const elapsed = performance.now() - started;
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toEqual({ name: "NixOS.local", addresses: [{ address: "169.254.40.1", family: 4, source: "mdns" }] });
      const queries = responder.queries();
      expect(queries.length).toBeGreaterThanOrEqual(3);
      expect(responder.answered()).toContain(3); // the first two went unanswered: only a retry can have found it
      for (const q of queries) {
        expect(q.from).toBe("169.254.40.2");
        expect(q.questions).toEqual([{ name: "NixOS.local", type: 1 }]);
      }
      const [first, second] = gaps(queries.slice(0, 3)) as [number, number];
      expect(first).toBeGreaterThan(150);
      expect(first).toBeLessThan(400);
      expect(second).toBeGreaterThan(350);
      expect(second).toBeLessThan(700);
      expect(second).toBeGreaterThan(first * 1.5); // backoff: the gap grows
      expect(elapsed).toBeLessThan(2500); // it returned on the answer (~750 ms in), not at the 4 s timeout
    } finally {
      await responder.stop();
    }
  });
}, 30_000);

it("against a silent responder: a bounded number of retries with growing gaps, none after the timeout, then exit 1", async () => {
  await withLink(async (a, b) => {
    const responder = await startRecorder(a, ["169.254.40.1", "--silent"]);
    try {
      const started = performance.now();
      const r = await b.exec([FLK, "resolve", "NixOS", "-4", "--timeout", "2000"], { env });
      const elapsed = performance.now() - started;
      expect(r.code).toBe(1);
      expect(r.stderr).toContain("no mDNS answer for NixOS.local");
      expect(elapsed).toBeGreaterThanOrEqual(2000);
      expect(elapsed).toBeLessThan(2700);
      await Bun.sleep(600);
      const queries = responder.queries();
      // at 0, 250, 750 and 1750 ms; the next (3750 ms) would be past the timeout
      expect(queries.length).toBeGreaterThanOrEqual(3);
      expect(queries.length).toBeLessThanOrEqual(5);
      expect(queries.at(-1)!.t - queries[0]!.t).toBeLessThan(2000);
      const g = gaps(queries);
      for (let i = 1; i < g.length; i++) expect(g[i]!).toBeGreaterThan(g[i - 1]! * 1.5);
      expect(responder.answered()).toEqual([]);
    } finally {
      await responder.stop();
    }
  });
}, 30_000);
