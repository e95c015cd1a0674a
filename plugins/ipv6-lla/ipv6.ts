/**
 * IPv6 text: parse any RFC 4291 §2.2 form, print the one canonical form of
 * RFC 5952 §4, and tell a link-local unicast address (RFC 4291 §2.5.6).
 */
import { FlkError } from "../../core/index.ts";

/** Eight 16-bit groups. */
export type Groups = readonly number[];

const HEX_GROUP = /^[0-9a-fA-F]{1,4}$/;
const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function parseGroupList(text: string, dottedTail: boolean): number[] | undefined {
  if (text === "") return [];
  const groups: number[] = [];
  const parts = text.split(":");
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const dotted = dottedTail && i === parts.length - 1 ? DOTTED.exec(part) : null;
    if (dotted) {
      // RFC 4291 §2.2 form 3: the last 32 bits as an IPv4 dotted quad.
      const bytes = dotted.slice(1).map(Number);
      if (bytes.some((b) => b > 255)) return undefined;
      groups.push((bytes[0]! << 8) | bytes[1]!, (bytes[2]! << 8) | bytes[3]!);
    } else if (HEX_GROUP.test(part)) groups.push(parseInt(part, 16));
    else return undefined;
  }
  return groups;
}

/** The eight groups of an IPv6 address without a `%scope`, or undefined when `text` is not one. */
export function parseIPv6(text: string): number[] | undefined {
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  // A dotted IPv4 tail may only end the whole address.
  const head = parseGroupList(halves[0]!, halves.length === 1);
  const tail = halves.length === 2 ? parseGroupList(halves[1]!, true) : [];
  if (!head || !tail) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  // "::" stands for one or more zero groups (RFC 4291 §2.2 form 2).
  const missing = 8 - head.length - tail.length;
  if (missing < 1) return undefined;
  return [...head, ...Array<number>(missing).fill(0), ...tail];
}

/**
 * RFC 5952 §4: lowercase, no leading zeros, the longest run of two or more
 * zero groups becomes "::" (the first one on a tie), a lone zero group stays "0".
 */
export function formatIPv6(groups: Groups): string {
  let bestAt = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let end = i;
    while (end < 8 && groups[end] === 0) end++;
    if (end - i > bestLength) [bestAt, bestLength] = [i, end - i];
    i = end;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestAt < 0) return hex.join(":");
  return `${hex.slice(0, bestAt).join(":")}::${hex.slice(bestAt + bestLength).join(":")}`;
}

/** The canonical text of `text`, or undefined when it is not an IPv6 address. */
export function canonicalIPv6(text: string): string | undefined {
  const groups = parseIPv6(text);
  return groups ? formatIPv6(groups) : undefined;
}

/** True for a link-local unicast address as RFC 4291 §2.5.6 lays it out: fe80::/64 (the 54 bits after fe80::/10 are zero). */
export function isLinkLocal(groups: Groups): boolean {
  return groups[0] === 0xfe80 && groups[1] === 0 && groups[2] === 0 && groups[3] === 0;
}

/**
 * The configured static address, checked and canonical (`FE80:0::47` → `fe80::47`).
 * `where` names the setting for the message, e.g. `flk.toml [ipv6-lla] address`.
 */
export function staticAddress(text: string, where = "[ipv6-lla] address"): string {
  const groups = parseIPv6(text.trim());
  if (!groups || !isLinkLocal(groups) || groups.slice(4).every((g) => g === 0))
    throw new FlkError(
      `${where}: expected an IPv6 link-local address like fe80::47 (fe80::/64, not fe80:: itself, no /prefix or %scope), got '${text}'. Nothing was changed.`,
      "E_LLA_ADDRESS",
    );
  return formatIPv6(groups);
}
