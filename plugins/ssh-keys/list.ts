/** `flk keys list`: the store and flk.toml keyFiles, in ssh-keygen -lf's terms. */
import type { Flk } from "../../core/index.ts";
import { loadStore, type KeyEntry } from "./store.ts";

/** The JSON shape of one key (README: `flk keys list --json`). */
export function keyJson(entry: KeyEntry) {
  return { name: entry.name, type: entry.type, bits: entry.bits, fingerprint: entry.fingerprint, comment: entry.comment, file: entry.file };
}

/** A key as `ssh-keygen -lf` prints it, between its name and its file. */
export function keyLine(entry: KeyEntry): string {
  return `${entry.name}  ${entry.bits} ${entry.fingerprint} ${entry.comment || "no comment"} (${entry.type})  ${entry.file}`;
}

/** Every key of the store and of `keyFiles`; broken or missing files are logged as warnings, not fatal. */
export function listKeys(flk: Flk, keyFiles: readonly string[]): KeyEntry[] {
  const store = loadStore(flk.siteRoot(), keyFiles);
  for (const problem of store.problems) flk.logger("ssh-keys").warn(problem);
  return store.keys;
}
