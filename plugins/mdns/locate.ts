/**
 * The `locate` tap: `flk ssh HOST` and a remote install ask mDNS first
 * (DESIGN.md "Hooks"), then fall through to ipv6-lla when nobody answers.
 */
import { isFlkError, type Endpoint, type LocateQuery } from "../../core/index.ts";
import { scoped } from "./accept.ts";
import { lookup } from "./lookup.ts";

/**
 * Resolve `HOST.local` within the query's budget. The preferred address is
 * IPv4 when the host has one on this link (every tool takes it, no scope to
 * quote), else a routable IPv6, else an IPv6 link-local with its scope —
 * which still always works on a bare cable. Records what it tried.
 */
export async function locateByMdns(query: LocateQuery, options: { signal?: AbortSignal; debug?: (line: string) => void } = {}): Promise<Endpoint | undefined> {
  let result;
  try {
    result = await lookup({ name: query.host, timeoutMs: query.timeoutMs, iface: query.iface, signal: options.signal, debug: options.debug });
  } catch (error) {
    // No link to ask on is not the end: the next locator may still find the host.
    if (isFlkError(error) && error.code === "E_MDNS_NO_LINK") {
      query.tried.push(`mdns: ${error.message}`);
      return undefined;
    }
    throw error;
  }
  const best = result.addresses[0];
  const where = result.links.join(", ") || "no interface";
  if (!best) {
    query.tried.push(`mdns: no answer for ${result.name} on ${where} within ${query.timeoutMs} ms`);
    return undefined;
  }
  query.tried.push(`mdns: ${result.name} is ${result.addresses.map(scoped).join(", ")} (on ${where})`);
  return { address: best.address, scope: best.scope, family: best.family, source: "mdns" };
}
