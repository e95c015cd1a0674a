/**
 * The options field of an authorized_keys line (sshd(8) "AUTHORIZED_KEYS FILE
 * FORMAT"; OpenSSH auth-options.c). sshd skips a whole key whose options it
 * cannot parse, so flk refuses such a line instead of storing a key that
 * silently never works; and it names the options that widen what a key may
 * do, because one line in secrets/keys/ can hand the live installer to
 * whoever holds a CA or run a command at every login.
 */

/** A line's option that is not understood by sshd; the message never repeats the line. */
export class KeyOptionError extends Error {
  override readonly name = "KeyOptionError";
}

/** Options sshd knows (auth-options.c sshauthopt_parse), lower case; true when it takes `="value"`. */
const KNOWN: Readonly<Record<string, boolean>> = Object.freeze({
  "agent-forwarding": false,
  "cert-authority": false,
  command: true,
  environment: true,
  "expiry-time": true,
  from: true,
  "no-agent-forwarding": false,
  "no-port-forwarding": false,
  "no-pty": false,
  "no-user-rc": false,
  "no-x11-forwarding": false,
  "no-touch-required": false,
  permitlisten: true,
  permitopen: true,
  "port-forwarding": false,
  principals: true,
  pty: false,
  restrict: false,
  tunnel: true,
  "user-rc": false,
  "verify-required": false,
  "x11-forwarding": false,
});

/** Why each risky option is worth a second look before it goes into the ISO. */
export const RISKY: Readonly<Record<string, string>> = Object.freeze({
  "cert-authority": "trusts every certificate this key signs, not one key",
  command: "runs this command at every login with the key",
  environment: "sets environment variables for the session (with PermitUserEnvironment)",
  tunnel: "opens a tun device",
  permitlisten: "lets the key listen on ports of the installer",
  "user-rc": "re-enables ~/.ssh/rc after restrict",
});

/** One option: its name as written and lower case, and its value (unquoted, `\"` kept) when it has one. */
export interface KeyOption {
  text: string;
  name: string;
  value?: string;
}

/**
 * Split `options` on commas outside double quotes (sshd's opt_dequote: a
 * value is `"…"` where `\"` is a literal quote), checking each name.
 */
export function parseOptions(options: string): KeyOption[] {
  if (options === "") return [];
  const out: KeyOption[] = [];
  let at = 0;
  while (at <= options.length) {
    const name = /^[A-Za-z0-9-]*/.exec(options.slice(at))![0];
    let end = at + name.length;
    let value: string | undefined;
    if (options[end] === "=") {
      if (options[end + 1] !== '"') throw new KeyOptionError(`the option '${shown(name)}' needs a double-quoted value`);
      let i = end + 2;
      for (; i < options.length && options[i] !== '"'; i++) if (options[i] === "\\" && options[i + 1] === '"') i++;
      if (i >= options.length) throw new KeyOptionError(`the value of option '${shown(name)}' has no closing double quote`);
      value = options.slice(end + 2, i);
      end = i + 1;
    }
    const lower = name.toLowerCase();
    if (!(lower in KNOWN)) throw new KeyOptionError(`unknown option '${shown(name)}' before the key: sshd would skip this key. Known: ${Object.keys(KNOWN).join(", ")}`);
    if (KNOWN[lower] !== (value !== undefined)) throw new KeyOptionError(KNOWN[lower] ? `the option '${lower}' needs ="value"` : `the option '${lower}' takes no value`);
    out.push({ text: options.slice(at, end), name: lower, value });
    if (end === options.length) break;
    if (options[end] !== ",") throw new KeyOptionError(`unexpected text after the option '${lower}' (options are separated by commas, no blanks)`);
    at = end + 1;
    if (at === options.length) throw new KeyOptionError("the options end with a comma");
  }
  return out;
}

function shown(name: string): string {
  return name.length <= 40 ? name : `${name.slice(0, 40)}…`;
}

/** The risky options of a parsed list, each `name: why`. */
export function riskyOptions(options: readonly KeyOption[]): string[] {
  return options.filter((o) => o.name in RISKY).map((o) => `${o.name}: ${RISKY[o.name]}`);
}

/**
 * Text from a key file made safe for a terminal: control characters (C0,
 * DEL, C1), line and paragraph separators and bidirectional overrides are
 * written as escapes, so a comment cannot move the cursor, recolour the
 * screen or disguise what follows. Backslashes are doubled so the escapes
 * are unambiguous.
 */
export function escapeText(text: string): string {
  return text.replace(/[\\\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/g, (c) => {
    if (c === "\\") return "\\\\";
    if (c === "\t") return "\\t";
    if (c === "\n") return "\\n";
    if (c === "\r") return "\\r";
    const code = c.charCodeAt(0);
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u{${code.toString(16)}}`;
  });
}
