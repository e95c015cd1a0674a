/**
 * Runs the `locate` hook of a real flk instance with the ipv6-lla plugin and
 * prints the endpoint and what was tried as JSON (warnings go to stderr). System tests
 * start it inside a network namespace (a process cannot switch its own).
 * Usage: bun locate-probe.ts TIMEOUT_MS [IFACE] [eui64=true|false]
 */
import { liveInstaller, locate } from "../../../core/index.ts";
import ipv6Lla from "../../../plugins/ipv6-lla/index.ts";
import { testFlk } from "../../helpers/flk.ts";

const [timeout, iface, eui64] = process.argv.slice(2);
const flk = testFlk({ plugins: [ipv6Lla], options: { "ipv6-lla": { eui64: eui64 !== "false" } } });
const query = { host: "NixOS", live: liveInstaller(flk, "NixOS"), timeoutMs: Number(timeout ?? 3000), iface: iface || undefined, tried: [] as string[] };
const started = performance.now();
const endpoint = await locate(flk, query);
process.stdout.write(JSON.stringify({ endpoint, tried: query.tried, elapsedMs: Math.round(performance.now() - started) }) + "\n");
