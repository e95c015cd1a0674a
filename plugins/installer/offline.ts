/**
 * Offline install (DESIGN.md contract 5): on a stick built by `flk iso`,
 * `nixos-install --system <toplevel>` installs exactly the system that was
 * built — no evaluation, no network — when the stick was built for this
 * host and the flake copy is byte for byte the one it was built from (its
 * `nix hash path` equals the recorded narHash). Anything else, or
 * `--rebuild`, evaluates the flake (`--flake`). The decision is made from
 * what the probe saw on the machine being installed, so over `--target` it
 * is the live side's.
 */
import { FlkError, nixInfo, renderString, run, siteFlake } from "../../core/index.ts";
import type { Facts } from "./probe.ts";

/** Which source nixos-install gets, and why. */
export type Source =
  | { kind: "system"; toplevel: string; reason: string }
  | { kind: "flake"; reason: string };

/** Decide between `--system` and `--flake`. */
export function chooseSource(facts: Facts, host: string, flakeDir: string, rebuild: boolean): Source {
  const live = facts.live;
  if (rebuild) return { kind: "flake", reason: "--rebuild: evaluate the flake" };
  if (!live) return { kind: "flake", reason: `no ${facts.liveRecordPath || "/etc/flk/live.json"} (not a stick built by flk iso)` };
  if ("error" in live) return { kind: "flake", reason: `the stick's record is unusable (${live.error})` };
  if (live.host !== host) return { kind: "flake", reason: `the stick was built for ${live.host}, not ${host}` };
  if (!facts.toplevelPresent) return { kind: "flake", reason: `the recorded system ${live.toplevel} is not in the store` };
  if (!facts.flakeHash) return { kind: "flake", reason: `could not hash ${flakeDir} (nix hash path)` };
  if (facts.flakeHash !== live.narHash)
    return { kind: "flake", reason: `${flakeDir} differs from the flake the stick was built from (nix hash path ${facts.flakeHash}, recorded ${live.narHash})` };
  return { kind: "system", toplevel: live.toplevel, reason: `the stick carries ${host}'s system, built from this very flake copy (narHash ${live.narHash})` };
}

/**
 * The operator's site as flk iso records it in the stick's narHash
 * (plugins/nix-iso/module.ts: the flake's own `narHash`, or for a site in a
 * subdirectory of its git work tree the NAR hash of that subdirectory), so
 * the two compare like for like. undefined when nix cannot tell (no nix, an
 * unreadable site): then there is nothing to compare.
 */
export async function siteNarHash(root: string): Promise<string | undefined> {
  try {
    const flake = await siteFlake(root);
    const self = `builtins.getFlake ${renderString(flake.ref)}`;
    const expr = flake.subdir ? `(builtins.fetchTree { type = "path"; path = (${self}).outPath + ${renderString("/" + flake.subdir)}; }).narHash` : `(${self}).narHash`;
    const r = await run(["nix", ...(await nixInfo()).flags, "eval", "--impure", "--raw", "--expr", expr]);
    const hash = r.stdout.trim();
    return r.code === 0 && /^sha256-[A-Za-z0-9+/]{43}=$/.test(hash) ? hash : undefined;
  } catch {
    return undefined;
  }
}

/** The narHash of what the stick would install: its recorded build's, or its copy's (`nix hash path` there); undefined without a record. */
export function stickNarHash(source: Source, facts: Facts): string | undefined {
  if (source.kind === "system") return facts.live && !("error" in facts.live) ? facts.live.narHash : undefined;
  return facts.flakeHash || undefined;
}

/**
 * Over --target flk installs what the stick carries — its recorded system,
 * or (`--rebuild`, or a copy that no longer matches its record) its flake
 * copy — never the operator's working tree. When the operator's site
 * differs from that, installing would silently drop their edits: refuse
 * (exit 2) with the ways forward, unless `--from-stick` says the stick's
 * version is what they want.
 */
export function checkSiteAgainstStick(o: { source: Source; facts: Facts; site: string; siteHash: string | undefined; host: string; where: string; flakeDir: string; fromStick: boolean; warn(message: string): void }): void {
  const stick = stickNarHash(o.source, o.facts);
  if (!stick) return;
  if (!o.siteHash) return o.warn(`could not hash your site ${o.site} with nix, so flk cannot tell whether the stick's copy (${stick}) is your current site: it installs the stick's version.`);
  if (o.siteHash === stick) return;
  const what = o.source.kind === "system" ? `the system the stick carries (built from narHash ${stick})` : `${o.flakeDir} on ${o.where} (narHash ${stick}) with --flake`;
  if (o.fromStick) return o.warn(`--from-stick: your site ${o.site} (narHash ${o.siteHash}) differs from the stick's; installing ${what}, not your edits.`);
  throw new FlkError(
    `your site ${o.site} has changed since the stick was built: its narHash is ${o.siteHash}, the stick's is ${stick}. Over --target flk would install ${what}, which does not have your edits. Nothing was changed. ` +
      `Rebuild and rewrite the stick with your site (\`flk iso ${o.host} && flk write\`, then boot it), or add --from-stick to install the stick's version anyway. ` +
      `(--rebuild alone evaluates the stick's copy of the flake, not yours.)`,
    "E_SITE_CHANGED",
  );
}
