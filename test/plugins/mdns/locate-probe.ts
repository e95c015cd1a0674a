/**
 * Runs the `locate` hook of a real flk instance (mdns plugin plus a
 * recording stand-in for the next locator) and prints what happened as
 * JSON. System tests start it inside a network namespace, since a process
 * cannot switch its own namespace.  Usage: bun locate-probe.ts HOST TIMEOUT_MS
 */
import { baseLiveInstaller, definePlugin, locate } from "../../../core/index.ts";
import mdns from "../../../plugins/mdns/index.ts";
import { testFlk } from "../../helpers/flk.ts";

/** Taps in the order the hook ran them (recorded by an interceptor). */
const order: string[] = [];
/** Registered before mdns on purpose: mdns's answer must still be preferred. */
const nextLocator = definePlugin({
  name: "next-locator",
  description: "stand-in for ipv6-lla: records that it was asked",
  options: {},
  apply(flk) {
    flk.hooks.locate.tapPromise("next-locator", async () => {
      return { address: "fe80::47", scope: "stand-in", family: 6, source: "static" };
    });
  },
});

const flk = testFlk({ plugins: [nextLocator, mdns] });
flk.hooks.locate.intercept({ tap: (tap) => void order.push(tap.name) });
const query = { host: process.argv[2]!, live: baseLiveInstaller(process.argv[2]!), timeoutMs: Number(process.argv[3] ?? 2000), tried: [] as string[] };
const started = performance.now();
const endpoint = await locate(flk, query);
process.stdout.write(JSON.stringify({ endpoint, tried: query.tried, order, elapsedMs: performance.now() - started }) + "\n");
