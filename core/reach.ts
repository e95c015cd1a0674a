/**
 * Reaching a live installer, once for `flk ssh` and `flk install --target`:
 * check the host name against the site (before any packet), race the
 * locators, and return the ssh destination and options.
 */
import type { Flk } from "./context.ts";
import { ExitCode, FlkError, isFlkError, messageOf } from "./errors.ts";
import type { Endpoint, LocateReport, SshTarget } from "./hooks.ts";
import { baseLiveInstaller, LIVE_USER, type LiveInstaller } from "./live.ts";
import { isLinkLocalText, parseLiteralAddress, withScope } from "./net.ts";
import { checkHosts } from "./hosts.ts";

/**
 * How long a less preferred answer (fe80::47, EUI-64) waits for mDNS. A
 * responder answers a unique record within ~20–120 ms (RFC 6762 §6), so
 * 250 ms keeps mDNS preferred without waiting out its whole budget when
 * it is silent.
 */
export const PREFER_MS = 250;

/** The host's live installer as every plugin describes it (the `liveInstaller` waterfall). */
export function liveInstaller(flk: Flk, host: string): LiveInstaller {
  return flk.hooks.liveInstaller.call(baseLiveInstaller(host));
}

/** Login names ssh and NixOS accept (shadow's rule, as users-groups.nix checks; at most 32 characters). */
const USER = /^[a-z_][a-z0-9_.-]{0,31}$/i;

/** A login user from the command line, or exit 2: it ends up in ssh's argv, so it may not look like an option. */
export function parseUser(text: string, where = "--user"): string {
  if (!USER.test(text)) throw new FlkError(`${where}: expected a user name like nixos or root, got '${text.slice(0, 40)}'. Nothing was sent.`, "E_TARGET");
  return text;
}

/** `[USER@]HOST` split; HOST is an address (`10.0.0.2`, `fe80::47%eth0`, `[…]`) or a host name (`NixOS`, `NixOS.local`). */
export interface TargetSpec {
  user?: string;
  host: string;
}

/** Parse `[USER@]HOST` (install's `--target`, ssh's HOST); exit 2 on anything else. */
export function parseTarget(text: string, where = "--target"): TargetSpec {
  const at = text.lastIndexOf("@");
  const user = at >= 0 ? parseUser(text.slice(0, at), where) : undefined;
  const host = (at >= 0 ? text.slice(at + 1) : text).replace(/^\[(.*)\]$/, "$1");
  if (!/^[A-Za-z0-9][A-Za-z0-9_.:%-]*$/.test(host))
    throw new FlkError(`${where}: expected USER@ADDRESS or a host name like nixos@192.168.1.20, root@fe80::47%eth0 or NixOS, got '${text.slice(0, 80)}'. Nothing was sent.`, "E_TARGET");
  return { ...(user ? { user } : {}), host };
}

/** What `reach` is asked. */
export interface ReachOptions {
  /** `[USER@]ADDRESS|NAME` to connect to instead of locating `host` (install's `--target`). */
  target?: string;
  /** Login user (default: the live installer's, `nixos`); a user in `target` wins. */
  user?: string;
  /** Look only on this interface (also the scope of a bare link-local address). */
  iface?: string;
  /** Budget per locator, in milliseconds. */
  timeoutMs: number;
  /** ssh options before the destination: flk's own (`-T`, BatchMode) and the operator's (`-i`, `-p`, `-J`, `-o`). */
  sshArgs?: string[];
}

/** Where and how to ssh. */
export interface Reached {
  /** The site host whose key is pinned, when there is one. */
  host?: string;
  live?: LiveInstaller;
  user: string;
  endpoint: Endpoint;
  /** `user@address[%scope]`: goes after `--` in ssh's argv. */
  destination: string;
  /** ssh options: the `sshOptions` taps' (pinned host key), then `sshArgs`. */
  options: string[];
  /** What was tried to find it, for messages. */
  tried: string[];
}

/**
 * Find `host`'s live installer (or the literal/named `target`) and say how
 * to ssh to it. Every name is checked against the site's hosts before a
 * packet is sent (exit 2 with a did-you-mean); a literal address needs no
 * site. Nobody answering is exit 1, listing what each locator tried.
 */
export async function reach(flk: Flk, host: string | undefined, options: ReachOptions): Promise<Reached> {
  const spec = options.target !== undefined ? parseTarget(options.target) : undefined;
  const user = spec?.user ?? (options.user !== undefined ? parseUser(options.user) : LIVE_USER);
  const literal = spec ? parseLiteralAddress(spec.host) : undefined;
  // Every name is checked (one evaluation at most) before a packet is sent.
  const named = spec && !literal ? stripLocal(spec.host) : undefined;
  const checked = await checkHosts(flk, [...(named !== undefined ? [named] : []), ...(host ? [host] : [])]);
  const name = named !== undefined ? checked[0]!.name : undefined;
  const pinned = host ? checked[checked.length - 1]!.name : name;
  const live = pinned ? liveInstaller(flk, pinned) : undefined;
  const tried: string[] = [];
  let endpoint: Endpoint | undefined;
  if (literal) {
    const scope = literal.scope ?? options.iface;
    if (literal.family === 6 && isLinkLocalText(literal.address) && !scope)
      throw new FlkError(`${literal.address} is a link-local address: name the interface, e.g. ${literal.address}%eth0 or --iface eth0. Nothing was sent.`, "E_TARGET");
    endpoint = { address: literal.address, ...(literal.family === 6 && scope && isLinkLocalText(literal.address) ? { scope } : {}), family: literal.family, source: "target" };
  } else {
    const locateHost = name ?? pinned;
    if (!locateHost) throw new FlkError("name a host of the site (e.g. NixOS) or an address to reach. Nothing was sent.", "E_USAGE");
    endpoint = await locate(flk, { host: locateHost, live: liveInstaller(flk, locateHost), iface: options.iface, timeoutMs: options.timeoutMs, tried });
    if (!endpoint) {
      const list = tried.length ? tried.map((t) => `  - ${t}`).join("\n") : "  (no locator is enabled: turn on the mdns or ipv6-lla plugin in flk.toml)";
      throw new FlkError(
        `could not find the live installer of ${locateHost}. Tried:\n${list}\nNothing was changed. Is it booted and on this link? Try \`flk lla discover\`, or give its address (flk ssh ${locateHost} --target ADDRESS%IFACE, flk install ${locateHost} --target ${user}@ADDRESS).`,
        "E_UNREACHABLE",
        ExitCode.failure,
      );
    }
  }
  const target: SshTarget = { host: pinned ?? "", endpoint, user };
  // Asked also when no host is named (host ""): whether that may be trusted on first use is the taps' rule (ssh-keys refuses it while pinning).
  const hookOptions = await flk.hooks.sshOptions.promise([], target);
  const destination = `${user}@${withScope(endpoint.address, endpoint.scope)}`;
  tried.push(`ssh ${destination} (${endpoint.source === "target" ? "as given" : `found by ${endpoint.source}`})`);
  // The pin first: for each option ssh keeps the first value it is given (ssh_config(5)).
  return { ...(pinned ? { host: pinned, live } : {}), user, endpoint, destination, options: [...hookOptions, ...(options.sshArgs ?? [])], tried };
}

/** `NixOS.local` → `NixOS`: the host is named after its mDNS name's first label. */
function stripLocal(name: string): string {
  return name.replace(/\.local\.?$/i, "");
}

/** A query without the racer's fields. */
export type LocateRequest = Omit<import("./hooks.ts").LocateQuery, "signal" | "report">;

/**
 * Run every locator at once and choose: the lowest-stage answer wins once
 * every lower-stage locator has finished, or after PREFER_MS when one is
 * still running (mDNS silent). A locator's error is recorded in `tried`
 * and never stops the others. The rest are aborted once an answer is chosen.
 */
export function locate(flk: Flk, request: LocateRequest): Promise<Endpoint | undefined> {
  const controller = new AbortController();
  const stop = () => controller.abort(flk.signal.reason);
  flk.signal.addEventListener("abort", stop, { once: true });
  const started = performance.now();
  const running = new Map<string, number>();
  const answers: LocateReport[] = [];
  const refusals: unknown[] = [];
  let launched = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  return new Promise<Endpoint | undefined>((resolve, reject) => {
    let settled = false;
    const finish = (endpoint: Endpoint | undefined, error?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      flk.signal.removeEventListener("abort", stop);
      controller.abort(new FlkError("a locator answered", "E_ABORTED", 130));
      if (error !== undefined) reject(error);
      else resolve(endpoint);
    };
    const decide = () => {
      if (settled || !launched) return;
      if (flk.signal.aborted) return finish(undefined, flk.signal.reason);
      const best = answers.reduce<LocateReport | undefined>((a, b) => (!a || b.stage < a.stage ? b : a), undefined);
      if (!best) {
        if (running.size > 0) return;
        // Nothing found: a refusal (bad --iface, exit 2) explains more than "not found".
        const refusal = refusals.find((e) => isFlkError(e) && e.exitCode === ExitCode.refused);
        return refusal ? finish(undefined, refusal) : finish(undefined);
      }
      const waitingFor = [...running.values()].some((stage) => stage < best.stage);
      const elapsed = performance.now() - started;
      if (!waitingFor || elapsed >= PREFER_MS) return finish(best.endpoint);
      clearTimeout(timer);
      timer = setTimeout(decide, PREFER_MS - elapsed);
    };
    const report = (r: LocateReport) => {
      if (r.state === "running") return void running.set(r.locator, r.stage);
      running.delete(r.locator);
      if (r.endpoint) answers.push(r);
      if (r.error !== undefined && !controller.signal.aborted) {
        request.tried.push(`${r.locator}: failed: ${messageOf(r.error)}`);
        refusals.push(r.error);
      }
      decide();
    };
    flk.hooks.locate.promise({ ...request, signal: controller.signal, report }).catch((error) => finish(undefined, error));
    launched = true;
    decide();
  });
}

/** The `-i`/`-p`/`-J` flags `flk ssh` and `flk install` both take (citty argument definitions). */
export const SSH_FLAG_ARGS = {
  identity: { type: "string", alias: "i", description: "ssh -i: the private key to log in with", valueHint: "FILE" },
  port: { type: "string", alias: "p", description: "ssh -p: the port sshd listens on", valueHint: "PORT" },
  jump: { type: "string", alias: "J", description: "ssh -J: reach it through this jump host", valueHint: "[USER@]HOST" },
} as const;

/** `-i`/`-p`/`-J` as ssh options, checked at the edge (they go into ssh's argv). */
export function sshFlags(args: { identity?: unknown; port?: unknown; jump?: unknown }): string[] {
  const text = (v: unknown) => (typeof v === "string" ? v : undefined);
  const [identity, port, jump] = [text(args.identity), text(args.port), text(args.jump)];
  const out: string[] = [];
  if (identity !== undefined) {
    if (identity === "" || identity.startsWith("-")) throw new FlkError(`-i: expected a key file like ~/.ssh/id_ed25519, got '${identity}'`, "E_USAGE");
    out.push("-i", identity);
  }
  if (port !== undefined) {
    const number = Number(port);
    if (!/^\d+$/.test(port) || number < 1 || number > 65535) throw new FlkError(`-p: expected a port from 1 to 65535, like 22, got '${port}'`, "E_USAGE");
    out.push("-p", String(number));
  }
  if (jump !== undefined) {
    if (!/^[A-Za-z0-9_.@:%[\],-]+$/.test(jump) || jump.startsWith("-")) throw new FlkError(`-J: expected a jump host like admin@gateway, got '${jump}'`, "E_USAGE");
    out.push("-J", jump);
  }
  return out;
}
