/**
 * A hand-made mDNS responder that records every one-shot query it receives,
 * for the retry and `-4`/`-6` system tests. It listens on 224.0.0.251:5353
 * (and, with `--ipv6 IF`, on ff02::fb%IF), prints one JSON line per query
 * from a port other than 5353 (a one-shot querier, RFC 6762 §6.7; avahi's
 * own probes come from 5353 and are left out):
 *   {"query":1,"t":12.3,"family":4,"from":"169.254.40.2","port":40000,"id":257,"questions":[{"name":"NixOS.local","type":1}]}
 * and, unless it is told to stay silent, answers the questions for
 * NixOS.local by unicast to the querier's port, echoing id and question:
 *   {"answered":3}
 * `--ignore N` leaves the first N queries unanswered (a lost packet);
 * `--silent` answers none (a recorder beside avahi, or a dead host).
 * Usage (inside a namespace):
 *   bun recording-responder.ts IPV4_ADDRESS [--ipv6 IF] [--aaaa ADDR] [--ignore N] [--silent]
 * Prints "ready" once listening.
 */
import dgram from "node:dgram";
import { RR, type ResourceRecord } from "../../../plugins/mdns/dns.ts";
import { defaultFlags, encodeMessage } from "../../helpers/dns-encode.ts";
import { decodeMessage } from "../../../plugins/mdns/dns-decode.ts";

const args = process.argv.slice(2);
const option = (flag: string) => {
  const i = args.indexOf(flag);
  return i < 0 ? undefined : args[i + 1];
};
const ipv4Address = args[0]!;
const ipv6Iface = option("--ipv6");
const aaaa = option("--aaaa");
const ignore = Number(option("--ignore") ?? 0);
const silent = args.includes("--silent");
const started = performance.now();
let count = 0;

function onMessage(socket: dgram.Socket, family: 4 | 6, bytes: Buffer, from: dgram.RemoteInfo) {
  if (from.port === 5353) return; // a full responder's own traffic (probes, announcements), not a one-shot query
  let query;
  try {
    query = decodeMessage(bytes);
  } catch {
    return;
  }
  if (query.flags.response) return;
  const n = ++count;
  const questions = query.questions.map((q) => ({ name: q.name, type: q.type }));
  process.stdout.write(JSON.stringify({ query: n, t: performance.now() - started, family, from: from.address, port: from.port, id: query.id, questions }) + "\n");
  if (silent || n <= ignore) return;
  const answers: ResourceRecord[] = [];
  for (const q of query.questions) {
    if (q.name.toLowerCase() !== "nixos.local") continue;
    if (q.type === RR.A) answers.push({ name: "NixOS.local", type: RR.A, class: 1, cacheFlush: false, ttl: 10, data: ipv4Address });
    if (q.type === RR.AAAA && aaaa) answers.push({ name: "NixOS.local", type: RR.AAAA, class: 1, cacheFlush: false, ttl: 10, data: aaaa });
  }
  if (answers.length === 0) return;
  const reply = encodeMessage({ id: query.id, flags: defaultFlags({ response: true, authoritative: true }), questions: query.questions, answers, authorities: [], additionals: [] });
  socket.send(reply, from.port, from.address, (error) => process.stdout.write(JSON.stringify(error ? { failed: n, error: error.message } : { answered: n }) + "\n"));
}

const v4 = dgram.createSocket({ type: "udp4", reuseAddr: true });
v4.on("message", (bytes, from) => onMessage(v4, 4, bytes, from));
await new Promise<void>((resolve) => v4.bind(5353, "0.0.0.0", () => resolve()));
v4.addMembership("224.0.0.251", ipv4Address);
if (ipv6Iface) {
  const v6 = dgram.createSocket({ type: "udp6", reuseAddr: true, ipv6Only: true });
  v6.on("message", (bytes, from) => onMessage(v6, 6, bytes, from));
  await new Promise<void>((resolve) => v6.bind(5353, "::", () => resolve()));
  v6.addMembership("ff02::fb", `::%${ipv6Iface}`);
}
process.stdout.write("ready\n");
