/**
 * `flk resolve` without argv: validate the request, resolve, and turn
 * "nobody answered" into the error the operator can act on. Shared by the
 * command and the `locate` tap.
 */
import { FlkError } from "../../core/index.ts";
import { parseMdnsName } from "./name.ts";
import { resolveMdns, type ResolveResult } from "./resolve.ts";

/** Default budget: long enough for a responder's 20–120 ms answer delay (RFC 6762 §6) and a few retries. */
export const DEFAULT_TIMEOUT_MS = 2000;
const MAX_TIMEOUT_MS = 600_000;

/** What `flk resolve` and the locate tap ask for. */
export interface LookupRequest {
  /** `NixOS` or `NixOS.local` as the operator typed it. */
  name: string;
  timeoutMs?: number;
  iface?: string;
  /** Only A (4) or only AAAA (6); both when unset. */
  family?: 4 | 6;
  signal?: AbortSignal;
  debug?: (line: string) => void;
}

/** Parse `--timeout` text: a whole number of milliseconds, 1 to 600000. */
export function parseTimeout(text: string | undefined): number {
  if (text === undefined || text === "") return DEFAULT_TIMEOUT_MS;
  const value = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(value) || value < 1 || value > MAX_TIMEOUT_MS)
    throw new FlkError(`expected --timeout in milliseconds from 1 to ${MAX_TIMEOUT_MS}, like 2000, got '${text}'. Nothing was sent.`, "E_MDNS_TIMEOUT", 2);
  return value;
}

/** Resolve, returning the result even when nobody answered (the locate tap wants that). */
export async function lookup(request: LookupRequest): Promise<ResolveResult> {
  const name = parseMdnsName(request.name);
  return resolveMdns({
    name,
    timeoutMs: request.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    iface: request.iface,
    families: request.family ? [request.family] : [4, 6],
    signal: request.signal,
    debug: request.debug,
  });
}

/** Resolve or fail with exit 1 and the next step (`flk lla discover`). */
export async function lookupOrFail(request: LookupRequest): Promise<ResolveResult> {
  const result = await lookup(request);
  if (result.addresses.length > 0) return result;
  const asked = request.family === 4 ? "A" : request.family === 6 ? "AAAA" : "A and AAAA";
  const refused = result.ignored.length ? ` ${result.ignored.length} packet(s) were ignored (run with --verbose to see why).` : "";
  throw new FlkError(
    `no mDNS answer for ${result.name} on ${result.links.join(", ")} within ${request.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms (asked ${asked}).${refused} ` +
      `Is the live installer booted and on this link? Find it by its link-local address with \`flk lla discover\`, or wait longer with --timeout.`,
    "E_MDNS_NOT_FOUND",
    1,
  );
}
