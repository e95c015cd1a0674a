/**
 * `flk keys add`: validate every key of the input, then store them. All
 * checks run before the first write, so a refusal leaves the store as it was.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { FlkError, messageOf, type Flk } from "../../core/index.ts";
import { privateKeyKind, readKeyText, PrivateKeyError, type KeyAt, type KeyText } from "./text.ts";
import { formatKeyLine } from "./keys.ts";
import { KEYS_DIR, loadStore, nameFromComment, toEntry, validateName, type KeyEntry } from "./store.ts";
import { gitStage } from "./git.ts";
import { readSiteFile, writeSiteFile } from "./safe.ts";

/** Smallest RSA modulus stored without `--allow-weak` (NIST SP 800-131A: 2048 bits). */
export const RSA_MIN_BITS = 2048;

/** What `flk keys add` was given (a test calls addKeys with these, no argv). */
export interface AddOptions {
  /** The input text (a file's content or stdin). */
  text: string;
  /** Where it came from, for messages: a path or `-`. */
  source: string;
  /** Store every key under this name; else each key's comment, sanitised. */
  name?: string;
  allowWeak?: boolean;
  /** Run `git add` on the written files. */
  gitAdd?: boolean;
  /** Extra key files from flk.toml, checked for duplicates too. */
  keyFiles?: readonly string[];
}

/** What to do when there is no key to add: make one, or take the agent's. */
export const NO_KEY_HINT = "Make a key with `ssh-keygen -t ed25519` and run `flk keys add ~/.ssh/id_ed25519.pub`, or add the keys your ssh agent holds: `ssh-add -L | flk keys add -`.";

/**
 * Read FILE or `-` (stdin) for `keys add`. Without FILE, stdin is read when
 * it is not a terminal (`ssh-add -L | flk keys add`); on a terminal flk says
 * how to get a key instead of waiting for typing.
 */
export async function readSource(source: string | undefined, cwd: string, stdinIsTty = Boolean(process.stdin.isTTY)): Promise<string> {
  if (source === undefined) {
    if (stdinIsTty) throw new FlkError(`flk keys add needs a public key: give FILE, or - for stdin. ${NO_KEY_HINT}`, "E_USAGE");
    return await Bun.stdin.text();
  }
  if (source === "-") return await Bun.stdin.text();
  const path = resolve(cwd, source);
  if (!existsSync(path)) throw new FlkError(`${source} does not exist. Give the path of a public key, e.g. ~/.ssh/id_ed25519.pub, or - for stdin. ${NO_KEY_HINT}`, "E_KEY_FILE");
  if (!statSync(path).isFile()) throw new FlkError(`${source} is not a file. Give the path of a public key, e.g. ~/.ssh/id_ed25519.pub.`, "E_KEY_FILE");
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new FlkError(`cannot read ${source}: ${messageOf(error)}`, "E_KEY_FILE", undefined, { cause: error });
  }
}

/** Validate and store the keys of `options.text`; returns what was added. */
export async function addKeys(flk: Flk, options: AddOptions): Promise<KeyEntry[]> {
  const log = flk.logger("ssh-keys");
  const site = flk.siteRoot();
  const explicit = options.name === undefined ? undefined : validateName(options.name);
  const parsed = parseInput(options);
  if (parsed.bomStripped) log.warn(`${shown(options.source)}: removed a UTF-8 byte order mark (BOM) at the start of the input`);
  checkPolicy(parsed.keys, options);
  const named = parsed.keys.map((key) => ({ key, file: `${KEYS_DIR}/${explicit ?? nameOf(key, options.source)}.pub` }));
  checkDuplicates(named, site, options);
  const byFile = new Map<string, KeyAt[]>();
  for (const { key, file } of named) byFile.set(file, [...(byFile.get(file) ?? []), key]);
  const added: KeyEntry[] = [];
  // Read every target first (through checked fds: a link anywhere under secrets/ is refused), then write.
  const existing = new Map([...byFile.keys()].map((file) => [file, withFinalNewline(readSiteFile(site, file) ?? "")]));
  for (const [file, text] of existing) {
    const kind = privateKeyKind(text);
    if (kind)
      throw new FlkError(`${file} already holds ${kind} (content not shown): refused; nothing was written. Delete that file (and rotate the key if it was ever committed), then run the command again.`, "E_PRIVATE_KEY");
  }
  for (const [file, keys] of byFile) {
    const before = existing.get(file)!;
    writeSiteFile(site, file, before + keys.map((key) => formatKeyLine(key) + "\n").join(""));
    const offset = before === "" ? 0 : before.split("\n").length - 1;
    keys.forEach((key, i) => added.push(toEntry({ ...key, line: offset + i + 1 }, file)));
    if (before !== "") log.info(`${file} already existed: appended ${keys.length} key(s) to it`);
  }
  await gitStage(flk, [...byFile.keys()], options.gitAdd ?? false, "add");
  return added;
}

function shown(source: string): string {
  return source === "-" ? "stdin" : source;
}

function withFinalNewline(text: string): string {
  const trimmed = text.replace(/\s+$/, "");
  return trimmed === "" ? "" : trimmed + "\n";
}

/** Parse the input; a private key or any bad line refuses the whole input. */
function parseInput(options: AddOptions): KeyText {
  let parsed: KeyText;
  try {
    parsed = readKeyText(options.text);
  } catch (error) {
    if (!(error instanceof PrivateKeyError)) throw error;
    const pub = options.source !== "-" && !options.source.endsWith(".pub") && existsSync(`${options.source}.pub`);
    const fix = pub ? `flk keys add ${options.source}.pub` : "ssh-keygen -y -f PRIVATE_KEY > key.pub && flk keys add key.pub";
    throw new FlkError(
      `${shown(options.source)} holds ${error.kind}: refused; nothing was written and none of it is shown. Only the public half belongs in ${KEYS_DIR}/: ${fix}`,
      "E_PRIVATE_KEY",
    );
  }
  if (parsed.errors.length > 0)
    throw new FlkError(
      `${parsed.errors.map((e) => `${shown(options.source)}:${e.line}: ${e.message}`).join("\n")}\nNothing was written. Fix or delete the line(s) above and run the command again.`,
      "E_KEY_INVALID",
    );
  if (parsed.keys.length === 0)
    throw new FlkError(`${shown(options.source)} holds no public key (only blank or # lines). ${NO_KEY_HINT}`, "E_KEY_EMPTY");
  return parsed;
}

/** Certificates and weak RSA keys are refused (the latter unless --allow-weak). */
function checkPolicy(keys: KeyAt[], options: AddOptions): void {
  for (const key of keys) {
    const at = `${shown(options.source)}:${key.line}`;
    if (key.certificate)
      throw new FlkError(
        `${at}: this is an OpenSSH certificate (${key.label}), not a public key. sshd does not accept certificates as authorized keys. ` +
          "Add the plain public key it certifies instead (e.g. id_ed25519.pub next to id_ed25519-cert.pub). Nothing was written.",
        "E_KEY_CERTIFICATE",
      );
    if (key.type === "ssh-rsa" && key.bits < RSA_MIN_BITS && !options.allowWeak)
      throw new FlkError(
        `${at}: this RSA key has ${key.bits} bits, under the ${RSA_MIN_BITS}-bit minimum. Use an ed25519 key (\`ssh-keygen -t ed25519\`), or pass --allow-weak to store it anyway. Nothing was written.`,
        "E_KEY_WEAK",
      );
  }
}

function nameOf(key: KeyAt, source: string): string {
  const name = nameFromComment(key.comment);
  if (name) return name;
  throw new FlkError(
    `${shown(source)}:${key.line}: the key has no usable comment to name it after. Give a name: flk keys add ${source} --name alice. Nothing was written.`,
    "E_KEY_NAME",
  );
}

/** A key already in the store (or twice in the input) is refused, naming where it is. */
function checkDuplicates(named: Array<{ key: KeyAt; file: string }>, site: string, options: AddOptions): void {
  const seen = new Map<string, string>();
  for (const entry of loadStore(site, options.keyFiles).keys) seen.set(entry.fingerprint, `already stored as '${entry.name}' (${entry.file}:${entry.line})`);
  for (const { key } of named) {
    const where = seen.get(key.fingerprint);
    if (where)
      throw new FlkError(
        `${shown(options.source)}:${key.line}: this key (${key.fingerprint}) is ${where}. Nothing was written; to rename it, \`flk keys rm\` the old name first.`,
        "E_KEY_DUPLICATE",
      );
    seen.set(key.fingerprint, `repeated in the input (line ${key.line})`);
  }
}
