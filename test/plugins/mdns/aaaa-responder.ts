/**
 * A hand-made IPv6 mDNS responder for the off-link AAAA test: it answers
 * every AAAA query for NixOS.local, from its link-local address and port
 * 5353 (so the reply itself is on-link), with the AAAA records given —
 * e.g. a spoofed 2001:db8::66 that no prefix of the link holds.
 * Usage (inside a namespace): bun aaaa-responder.ts IFNAME ADDRESS…
 * Prints "ready" once listening, then one line per packet sent.
 */
import dgram from "node:dgram";
import { RR } from "../../../plugins/mdns/dns.ts";
import { defaultFlags, encodeMessage } from "../../helpers/dns-encode.ts";
import { decodeMessage } from "../../../plugins/mdns/dns-decode.ts";

const [iface, ...addresses] = process.argv.slice(2) as [string, ...string[]];
const answers = addresses.map((data) => ({ name: "NixOS.local", type: RR.AAAA, class: 1, cacheFlush: true, ttl: 120, data }));
const socket = dgram.createSocket({ type: "udp6", reuseAddr: true });

socket.on("message", (bytes, from) => {
  let query;
  try {
    query = decodeMessage(bytes);
  } catch {
    return;
  }
  if (query.flags.response || !query.questions.some((q) => q.name.toLowerCase() === "nixos.local" && q.type === RR.AAAA)) return;
  const reply = encodeMessage({ id: query.id, flags: defaultFlags({ response: true, authoritative: true }), questions: [], answers, authorities: [], additionals: [] });
  // Legacy unicast (RFC 6762 §6.7): straight back to the querier's port.
  socket.send(reply, from.port, from.address, (error) => process.stdout.write(`${error ? "failed" : "sent"} ${addresses.join(" ")} to ${from.address}\n`));
});

// Bun's dgram takes the multicast interface as an address: `::%IFNAME` (DESIGN.md, Tests).
socket.bind(5353, "::", () => {
  socket.addMembership("ff02::fb", `::%${iface}`);
  process.stdout.write("ready\n");
});
