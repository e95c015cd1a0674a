/**
 * A hand-made mDNS responder for the "ignores bad answers" system test: it
 * answers every query for NixOS.local with packets a strict resolver must
 * refuse — malformed, for another name, non-zero rcode or opcode, from a
 * port other than 5353, from an off-link source, naming loopback, with
 * TTL 0, naming an off-link address — and, with `--good`, then
 * one correct answer.  Usage (inside a namespace):
 *   bun bad-responder.ts LINK_ADDRESS OFF_LINK_ADDRESS [--good]
 * Prints "ready" once listening, then one line per packet sent.
 */
import dgram from "node:dgram";
import { RR, type Flags, type ResourceRecord } from "../../../plugins/mdns/dns.ts";
import { defaultFlags, encodeMessage } from "../../helpers/dns-encode.ts";
import { decodeMessage } from "../../../plugins/mdns/dns-decode.ts";

const [linkAddress, offLinkAddress] = process.argv.slice(2) as [string, string];
const good = process.argv.includes("--good");
const a = (name: string, address: string): ResourceRecord => ({ name, type: RR.A, class: 1, cacheFlush: false, ttl: 10, data: address });
const reply = (answers: ResourceRecord[], flags: Partial<Flags> = {}) =>
  encodeMessage({ id: 0, flags: defaultFlags({ response: true, authoritative: true, ...flags }), questions: [], answers, authorities: [], additionals: [] });

/** The right answer, cut inside its rdata: rdlength says 4, two bytes follow (dns-packet's `10.0.undefined.undefined`). */
function truncatedA(): Uint8Array {
  const whole = reply([a("NixOS.local", "169.254.30.60")]);
  return whole.subarray(0, whole.length - 2);
}

const listener = dgram.createSocket({ type: "udp4", reuseAddr: true });
const offPort = dgram.createSocket("udp4");
// reuseAddr: it binds 5353 on one address while `listener` holds 0.0.0.0:5353 (Bun ≥ 1.3.10 no longer sets SO_REUSEADDR by itself).
const offLink = dgram.createSocket({ type: "udp4", reuseAddr: true });

function send(socket: dgram.Socket, bytes: Uint8Array, to: dgram.RemoteInfo, what: string) {
  socket.send(bytes, to.port, to.address, (error) => process.stdout.write(`${error ? "failed" : "sent"} ${what}\n`));
}

listener.on("message", (bytes, from) => {
  let query;
  try {
    query = decodeMessage(bytes);
  } catch {
    return;
  }
  if (query.flags.response || !query.questions.some((q) => q.name.toLowerCase() === "nixos.local" && q.type === RR.A)) return;
  send(listener, truncatedA(), from, "malformed: truncated A rdata");
  send(listener, reply([a("NixOS2.local", "169.254.30.61")]), from, "wrong name");
  send(listener, reply([a("NixOS.local", "169.254.30.62")], { rcode: 3 }), from, "rcode 3");
  send(listener, reply([a("NixOS.local", "169.254.30.63")], { opcode: 1 }), from, "opcode 1");
  send(offPort, reply([a("NixOS.local", "169.254.30.64")]), from, "from port 5354");
  send(offLink, reply([a("NixOS.local", "169.254.30.65")]), from, `from off-link ${offLinkAddress}`);
  // From the right port and link, but naming an address the querier must not go to (DESIGN.md "Trust rules").
  send(listener, reply([a("NixOS.local", "127.0.0.1")]), from, "spoofed loopback 127.0.0.1");
  send(listener, reply([{ ...a("NixOS.local", "169.254.30.66"), ttl: 0 }]), from, "TTL 0");
  send(listener, reply([a("NixOS.local", "10.9.9.9")]), from, "off-link address 10.9.9.9");
  if (good) setTimeout(() => send(listener, reply([a("NixOS.local", linkAddress)]), from, "good"), 50);
});

listener.bind(5353, "0.0.0.0", () => {
  listener.addMembership("224.0.0.251", linkAddress);
  offPort.bind(5354, linkAddress, () => offLink.bind(5353, offLinkAddress, () => process.stdout.write("ready\n")));
});
