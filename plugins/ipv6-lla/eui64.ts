/**
 * MAC addresses and the modified EUI-64 link-local address derived from one
 * (RFC 4291 §2.5.1 and appendix A): the kernel builds a link's fe80:: address
 * this way when its addr_gen_mode is eui64, and so does networkd with
 * IPv6LinkLocalAddressGenerationMode=eui64.
 */
import { FlkError, formatIPv6, parseIPv6 } from "../../core/index.ts";

/** The forms `parseMac` accepts, for error messages. */
export const MAC_FORMS = "52:54:00:12:34:56 (also 52-54-00-12-34-56, 525400123456 or Cisco's 5254.0012.3456; any case)";

// Colon or dash octets may drop a leading zero: macOS `arp -a` prints 0:e0:4c:5:17:f3.
const SEPARATED = /^[0-9a-f]{1,2}([:-])[0-9a-f]{1,2}(?:\1[0-9a-f]{1,2}){4}$/i;
const BARE = /^[0-9a-f]{12}$/i;
const CISCO = /^[0-9a-f]{4}\.[0-9a-f]{4}\.[0-9a-f]{4}$/i;

/** A MAC as six bytes, or a FlkError (exit 2) naming the expected form; refuses what no network card has. */
export function parseMac(text: string): Uint8Array {
  const input = text.trim();
  let hex: string | undefined;
  if (SEPARATED.test(input)) hex = input.split(/[:-]/).map((o) => o.padStart(2, "0")).join("");
  else if (BARE.test(input)) hex = input;
  else if (CISCO.test(input)) hex = input.replaceAll(".", "");
  if (hex === undefined) throw new FlkError(`expected a MAC like ${MAC_FORMS}, got '${text}'`, "E_LLA_MAC");
  const mac = Uint8Array.from(hex.match(/../g)!, (pair) => parseInt(pair, 16));
  // IEEE 802 I/G bit (least significant bit of the first octet): set means a group address.
  if (mac[0]! & 0x01)
    throw new FlkError(
      `'${text}' is a multicast or broadcast MAC (bit 0x01 of the first octet is set); a network card's own address is unicast, e.g. 52:54:00:12:34:56`,
      "E_LLA_MAC",
    );
  if (mac.every((b) => b === 0)) throw new FlkError(`'${text}' is the all-zero MAC, which no network card has; expected a MAC like ${MAC_FORMS}`, "E_LLA_MAC");
  return mac;
}

/** `52:54:00:12:34:56`: lowercase, colon-separated, two digits per octet (the form `ip link` prints). */
export function formatMac(mac: Uint8Array): string {
  return Array.from(mac, (b) => b.toString(16).padStart(2, "0")).join(":");
}

/**
 * The modified EUI-64 interface identifier (RFC 4291 appendix A): ff:fe goes
 * between the OUI and the device half, and the universal/local bit (0x02 of
 * the first octet) is inverted, so a universal MAC gets the bit set.
 */
export function interfaceId(mac: Uint8Array): Uint8Array {
  return Uint8Array.of(mac[0]! ^ 0x02, mac[1]!, mac[2]!, 0xff, 0xfe, mac[3]!, mac[4]!, mac[5]!);
}

/** `fe80::` + the modified EUI-64 identifier, in RFC 5952 form: `52:54:00:12:34:56` → `fe80::5054:ff:fe12:3456`. */
export function eui64LinkLocal(mac: Uint8Array | string): string {
  const id = interfaceId(typeof mac === "string" ? parseMac(mac) : mac);
  const groups = [0xfe80, 0, 0, 0];
  for (let i = 0; i < 8; i += 2) groups.push((id[i]! << 8) | id[i + 1]!);
  return formatIPv6(groups);
}

/** The MAC an EUI-64 link-local address was derived from, or undefined when `address` is not one. */
export function macOfLinkLocal(address: string): string | undefined {
  const groups = parseIPv6(address);
  if (!groups || groups[0] !== 0xfe80 || groups[1] || groups[2] || groups[3]) return undefined;
  const id = groups.slice(4).flatMap((g) => [g >> 8, g & 0xff]);
  if (id[3] !== 0xff || id[4] !== 0xfe) return undefined;
  return formatMac(Uint8Array.of(id[0]! ^ 0x02, id[1]!, id[2]!, id[5]!, id[6]!, id[7]!));
}

/** The JSON of `flk lla eui64 MAC --json`. */
export interface Eui64Answer {
  /** The MAC in canonical form (lowercase, colons). */
  mac: string;
  /** Its EUI-64 link-local address, RFC 5952 form. */
  address: string;
}

/** Parse and derive in one step (the library side of `flk lla eui64`). */
export function eui64Answer(text: string): Eui64Answer {
  const mac = parseMac(text);
  return { mac: formatMac(mac), address: eui64LinkLocal(mac) };
}
