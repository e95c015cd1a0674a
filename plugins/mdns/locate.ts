/**
 * The `locate` tap: `flk ssh HOST` and a remote install ask mDNS alongside
 * the other locators; core/reach.ts prefers this answer (DESIGN.md "Hooks").
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
    const ignored = result.ignored.length ? ` (${result.ignored.length} answer(s) refused: ${result.ignored.slice(0, 3).join("; ")})` : "";
    query.tried.push(`mdns: no answer for ${result.name} on ${where} within ${query.timeoutMs} ms${ignored}`);
    return undefined;
  }
  query.tried.push(`mdns: ${result.name} is ${result.addresses.map(scoped).join(", ")} (on ${where})`);
  return { address: best.address, scope: best.scope, family: best.family, source: "mdns" };
}
