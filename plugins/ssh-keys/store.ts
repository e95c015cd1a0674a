/**
 * The site's key store: `secrets/keys/NAME.pub`, one or more public key
 * lines per file. Every key in it goes into the live ISO's authorized keys.
 */
import { basename } from "node:path";
import { FlkError, isFlkError, messageOf } from "../../core/index.ts";
import { readKeyText, PrivateKeyError, type KeyAt } from "./text.ts";
import { listSiteDir, readSiteFile } from "./safe.ts";
import { riskyOptions } from "./options.ts";

/** Where `flk keys add` stores keys, relative to the site root. */
export const KEYS_DIR = "secrets/keys";

/** One key of the store, in the shape `flk keys list --json` prints. */
export interface KeyEntry {
  /** The file's name without `.pub`. */
  name: string;
  /** ssh-keygen's label: ED25519, ECDSA, RSA, ED25519-SK, ECDSA-SK (…-CERT for a certificate). */
  type: string;
  bits: number;
  fingerprint: string;
  comment: string;
  /** Site-relative file. */
  file: string;
  /** The key type as written on the line, e.g. `ssh-ed25519`. */
  algorithm: string;
  /** 1-based line within the file. */
  line: number;
  /** The line's authorized_keys options, each as written (`no-pty`, `command="…"`). */
  options: string[];
  /** The options that widen what the key may do, each `name: why`. */
  risky: string[];
}

/** The keys of the store plus anything wrong with its files. */
export interface Store {
  keys: KeyEntry[];
  /** Site-relative key files, in order (store first, then config keyFiles). */
  files: string[];
  /** Human-readable problems (`secrets/keys/x.pub:3: …`); never quotes file content. */
  problems: string[];
}

/** A file name (without .pub) that is safe as `secrets/keys/NAME.pub`. */
const NAME = /^[A-Za-z0-9_@+][A-Za-z0-9._@+-]{0,63}$/;

/** Check a key name given by the user; returns it without a trailing `.pub`. */
export function validateName(raw: string, flag = "--name"): string {
  const name = raw.endsWith(".pub") ? raw.slice(0, -4) : raw;
  if (!NAME.test(name) || name.includes(".."))
    throw new FlkError(
      `${flag}: expected a key name like alice or alice-laptop (letters, digits, . _ @ + -; at most 64; no '/' or '..'), got '${raw.slice(0, 80)}'`,
      "E_KEY_NAME",
    );
  return name;
}

/** A key name derived from a comment (`alice@laptop` stays; blanks and `/` become `-`), or undefined. */
export function nameFromComment(comment: string): string | undefined {
  const name = comment
    .replace(/[^A-Za-z0-9._@+-]+/g, "-")
    .replace(/\.{2,}/g, ".")
    .replace(/^[.-]+|[.-]+$/g, "")
    .slice(0, 64)
    .replace(/[.-]+$/, "");
  return NAME.test(name) ? name : undefined;
}

/** Site-relative paths of `secrets/keys/*.pub`, sorted; a link there (or on the way) is refused, naming it. */
export function storeFiles(siteRoot: string): string[] {
  return listSiteDir(siteRoot, KEYS_DIR, (file) => file.endsWith(".pub") && !file.startsWith(".")).map((file) => `${KEYS_DIR}/${file}`);
}

/** Read the store and the extra `keyFiles` (site-relative); missing extra files are problems, links are refused. */
export function loadStore(siteRoot: string, extraFiles: readonly string[] = []): Store {
  const store: Store = { keys: [], files: [], problems: [] };
  const files = [...new Set([...storeFiles(siteRoot), ...extraFiles.map((f) => f.replace(/^\.\//, ""))])];
  for (const file of files) {
    const text = readSiteFile(siteRoot, file);
    if (text === undefined) {
      store.problems.push(`${file} does not exist (listed in flk.toml [ssh-keys] keyFiles): create it or remove it from keyFiles`);
      continue;
    }
    store.files.push(file);
    for (const key of readFile(text, file, store.problems)) store.keys.push(toEntry(key, file));
  }
  return store;
}

function readFile(text: string, file: string, problems: string[]): KeyAt[] {
  try {
    const parsed = readKeyText(text);
    for (const error of parsed.errors) problems.push(`${file}:${error.line}: ${error.message}`);
    // A certificate put in by hand: sshd does not take one as an authorized key, so it would silently not work.
    for (const key of parsed.keys)
      if (key.certificate) problems.push(`${file}:${key.line}: an OpenSSH certificate (${key.label}), not a public key: sshd would ignore it. Replace it with the plain key it certifies.`);
    return parsed.keys.filter((key) => !key.certificate);
  } catch (error) {
    if (isFlkError(error)) throw error;
    if (error instanceof PrivateKeyError)
      problems.push(`${file} holds ${error.kind} (content not shown): delete it now, and rotate that key if the file was ever committed or shared`);
    else problems.push(`${file}: cannot read it: ${messageOf(error)}`);
    return [];
  }
}

/** One parsed key as a store entry. */
export function toEntry(key: KeyAt, file: string): KeyEntry {
  return {
    name: basename(file).replace(/\.pub$/, ""),
    type: key.label,
    bits: key.bits,
    fingerprint: key.fingerprint,
    comment: key.comment,
    file,
    algorithm: key.type,
    line: key.line,
    options: key.optionList.map((o) => o.text),
    risky: riskyOptions(key.optionList),
  };
}
