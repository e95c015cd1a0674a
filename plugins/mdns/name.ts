/**
 * The name `flk resolve` asks for: validated at the edge, so a bad name is
 * refused (exit 2) before any packet goes out.
 */
import { FlkError } from "../../core/index.ts";
import { MAX_LABEL_BYTES, MAX_NAME_BYTES } from "./dns.ts";

/** The `.local` name to ask for, e.g. `NixOS.local`. */
export interface MdnsName {
  /** Fully qualified without the trailing dot: `NixOS.local`. */
  fqdn: string;
  /** The labels, `["NixOS", "local"]`. */
  labels: string[];
}

const encoder = new TextEncoder();

/**
 * `NixOS`, `NixOS.local` or `NixOS.local.` → `NixOS.local`. A name with dots
 * that does not end in `.local` is refused: mDNS answers only under `.local`
 * (RFC 6762 §3), and appending `.local` to `host.example.com` would ask for
 * something nobody announces.
 */
export function parseMdnsName(input: string): MdnsName {
  const refuse = (why: string) =>
    new FlkError(`expected a host name like NixOS or NixOS.local, got '${input}': ${why}. Nothing was sent.`, "E_MDNS_NAME", 2);
  const trimmed = input.endsWith(".") ? input.slice(0, -1) : input;
  if (trimmed === "") throw refuse("the name is empty");
  const labels = trimmed.split(".");
  const last = labels[labels.length - 1]!;
  if (last.toLowerCase() === "local") labels.pop();
  else if (labels.length > 1) throw refuse("mDNS resolves only names under .local");
  if (labels.length === 0) throw refuse("it has no host part before .local");
  for (const label of labels) checkLabel(label, refuse);
  labels.push("local");
  const wire = labels.reduce((n, l) => n + encoder.encode(l).length + 1, 1);
  if (wire > MAX_NAME_BYTES) throw refuse(`it is ${wire} bytes on the wire, over the DNS limit of ${MAX_NAME_BYTES}`);
  return { fqdn: labels.join("."), labels };
}

function checkLabel(label: string, refuse: (why: string) => FlkError): void {
  if (label === "") throw refuse("it has an empty label (two dots in a row, or a leading dot)");
  const bytes = encoder.encode(label).length;
  if (bytes > MAX_LABEL_BYTES) throw refuse(`the label '${label.slice(0, 20)}…' is ${bytes} bytes; a label holds at most ${MAX_LABEL_BYTES}`);
  // RFC 6762 §16 allows UTF-8 names, but no host announces whitespace or control characters.
  const bad = [...label].find((c) => /[\s\p{Cc}\\]/u.test(c));
  if (bad !== undefined) throw refuse(`it contains ${JSON.stringify(bad)}`);
}

/** DNS names compare case-insensitively in ASCII (RFC 1035 §2.3.3; RFC 6762 §16 keeps that for mDNS). */
export function sameName(a: string, b: string): boolean {
  const fold = (s: string) => s.replace(/\.$/, "").replace(/[A-Z]/g, (c) => c.toLowerCase());
  return fold(a) === fold(b);
}
