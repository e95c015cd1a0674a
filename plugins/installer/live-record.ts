/**
 * What the stick records about itself (DESIGN.md contract 5, written by
 * nix-iso): `/etc/flk/live.json` = `{"version":1,"host","toplevel","flake",
 * "narHash","diskoScript"}`. The installer reads it to install offline
 * (`nixos-install --system`) and to run a prebuilt disko script.
 */
import { readFileSync } from "node:fs";
import { FlkError } from "../../core/index.ts";

/** Where the live system keeps the record. */
export const LIVE_RECORD = "/etc/flk/live.json";

/** The record, checked. */
export interface LiveRecord {
  version: 1;
  host: string;
  /** The host's `config.system.build.toplevel` store path, in the stick's store. */
  toplevel: string;
  /** The flake copy on the live system (`/iso/devos`). */
  flake: string;
  /** NAR hash (SRI, as `nix hash path` prints it) of the flake copy the ISO was built from. */
  narHash: string;
  diskoScript: string | null;
}

const STORE_PATH = /^\/nix\/store\/[0-9a-z]{32}-[^/\s]+$/;

/** The record at `path`, or undefined when there is none (not a stick built by flk iso). A malformed one is an error. */
export function readLiveRecord(path = LIVE_RECORD): LiveRecord | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
  return parseLiveRecord(text, path);
}

/** Validate the record's shape: every field the installer trusts is checked here, once. */
export function parseLiveRecord(text: string, path = LIVE_RECORD): LiveRecord {
  const bad = (why: string) => new FlkError(`${path} is not a record flk iso writes (${why}). Nothing was changed. Rebuild the stick with \`flk iso\`, or use --rebuild.`, "E_LIVE_RECORD");
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text);
  } catch (error) {
    throw bad((error as Error).message);
  }
  if (typeof v !== "object" || v === null || v.version !== 1) throw bad("version is not 1");
  if (typeof v.host !== "string" || !/^[A-Za-z0-9_][A-Za-z0-9_'-]*$/.test(v.host)) throw bad("host");
  if (typeof v.toplevel !== "string" || !STORE_PATH.test(v.toplevel)) throw bad("toplevel is not a store path");
  if (typeof v.flake !== "string" || !v.flake.startsWith("/")) throw bad("flake is not an absolute path");
  if (typeof v.narHash !== "string" || !/^sha256-[A-Za-z0-9+/]{43}=$/.test(v.narHash)) throw bad("narHash is not an SRI sha256");
  if (v.diskoScript !== null && v.diskoScript !== undefined && (typeof v.diskoScript !== "string" || !STORE_PATH.test(v.diskoScript))) throw bad("diskoScript");
  return { version: 1, host: v.host, toplevel: v.toplevel, flake: v.flake, narHash: v.narHash, diskoScript: (v.diskoScript as string | null | undefined) ?? null };
}
