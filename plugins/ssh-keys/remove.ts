/**
 * `flk keys rm NAME`: remove `secrets/keys/NAME.pub`, durably (unlink, then
 * fsync the directory, so a crash cannot bring the key back).
 */
import { basename } from "node:path";
import { FlkError, didYouMean, type Flk } from "../../core/index.ts";
import { KEYS_DIR, storeFiles, toEntry, validateName, type KeyEntry } from "./store.ts";
import { readKeyText, PrivateKeyError } from "./text.ts";
import { gitStage } from "./git.ts";
import { readSiteFile, removeSiteFile } from "./safe.ts";

/** Flags of `flk keys rm`. */
export interface RemoveOptions {
  gitAdd?: boolean;
  /** flk.toml keyFiles: a name found only there gets a pointer to flk.toml. */
  keyFiles?: readonly string[];
}

/** Remove one stored key file; returns the keys it held. */
export async function removeKey(flk: Flk, rawName: string, options: RemoveOptions = {}): Promise<KeyEntry[]> {
  const name = validateName(rawName, "NAME");
  const site = flk.siteRoot();
  const file = `${KEYS_DIR}/${name}.pub`;
  // Through checked fds: `secrets/keys` or the file being a link is refused, so nothing outside the site is deleted.
  const text = readSiteFile(site, file);
  if (text === undefined) throw unknownName(site, name, options.keyFiles ?? []);
  const removed = keysIn(text, file);
  removeSiteFile(site, file);
  flk.logger("ssh-keys").success(`removed ${file} (${removed.length} key${removed.length === 1 ? "" : "s"})`);
  await gitStage(flk, [file], options.gitAdd ?? false, "rm");
  return removed;
}

function keysIn(text: string, file: string): KeyEntry[] {
  try {
    return readKeyText(text).keys.map((key) => toEntry(key, file));
  } catch (error) {
    // A private key misfiled in the store is removed all the same; it is never shown.
    if (error instanceof PrivateKeyError) return [];
    throw error;
  }
}

function unknownName(site: string, name: string, keyFiles: readonly string[]): FlkError {
  const names = storeFiles(site).map((file) => basename(file, ".pub"));
  const configured = keyFiles.find((file) => basename(file, ".pub") === name);
  if (configured)
    return new FlkError(`'${name}' is not in ${KEYS_DIR}/: it comes from flk.toml [ssh-keys] keyFiles (${configured}). Remove it there. Nothing was changed.`, "E_KEY_UNKNOWN");
  const known = names.length ? ` Stored keys: ${names.join(", ")}.` : ` ${KEYS_DIR}/ holds no keys.`;
  // A name typed from a comment's first half (`alice` for alice@laptop) is suggested too.
  const prefixed = names.find((candidate) => candidate.toLowerCase().startsWith(name.toLowerCase()));
  const hint = didYouMean(name, names) || (prefixed ? ` Did you mean \`${prefixed}\`?` : "");
  return new FlkError(`no key named '${name}' (${KEYS_DIR}/${name}.pub does not exist).${hint}${known} Nothing was changed.`, "E_KEY_UNKNOWN");
}
