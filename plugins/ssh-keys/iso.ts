/**
 * What ssh-keys puts into a live ISO: the site's public keys as authorized
 * keys of each configured user, and (pinHostKey) a fixed sshd host key.
 *
 * Planning (the `isoModule` tap) only reads: it names the operator's host
 * key by its state-dir path. The key is generated, and its public half
 * recorded in the site, by the `prepareIso` tap, which only a real build runs.
 */
import { hostname, userInfo } from "node:os";
import { FlkError, mergeSettings, nix, renderString, type HostContext, type IsoModule, type NixValue } from "../../core/index.ts";
import { loadStore, KEYS_DIR } from "./store.ts";
import { ensureHostKey, hostKeyPaths, knownHostsFile, pinnedKeys, recordHostKey } from "./hostkey.ts";
import { findLeakedKeys, leakedKeyWarning } from "./leaked.ts";
import { gitCommand } from "./git.ts";

/** The plugin options that shape the ISO. */
export interface IsoOptions {
  users: string[];
  keyFiles: string[];
  pinHostKey: boolean;
  /** The live installer's static link-local address, for known_hosts. */
  linkLocal: string;
  /** flk's environment (where the state directory is). */
  env: Record<string, string | undefined>;
}

/** NixOS user names (users-groups.nix allows at most 32 characters; shadow's rule below). */
const USER = /^[a-z_][a-z0-9_-]{0,31}$/;

/** Add this plugin's settings, files and notes to `module`; reads only. `warn` is called once per message per flk run by the caller. */
export async function contributeIso(module: IsoModule, host: HostContext, options: IsoOptions, warn: (m: string) => void): Promise<IsoModule> {
  for (const user of options.users)
    if (!USER.test(user)) throw new FlkError(`flk.toml [ssh-keys] users: expected user names like "nixos" or "root", got "${user.slice(0, 40)}"`, "E_CONFIG_VALUE");
  const store = loadStore(host.siteRoot, options.keyFiles);
  if (store.problems.length > 0)
    throw new FlkError(`the ISO for ${host.host} was not built; fix these key files first:\n${store.problems.join("\n")}`, "E_KEY_INVALID");
  let settings: Record<string, NixValue> = authorizedKeys(options.users, store.files);
  if (store.keys.length === 0)
    warn(`no SSH public keys in ${KEYS_DIR}/ or keyFiles: nobody will be able to log in to the live installer remotely. Add yours with \`flk keys add ~/.ssh/id_ed25519.pub\`.`);
  if (options.pinHostKey) settings = mergeSettings(settings, hostKeySettings(options.env, host));
  return { ...module, settings: mergeSettings(module.settings, settings), files: [...module.files, ...store.files] };
}

/**
 * nixpkgs users-groups.nix: `users.users.<u>.openssh.authorizedKeys.keyFiles`
 * (paths) is collected into /etc/ssh/authorized_keys.d/<u>.
 */
function authorizedKeys(users: string[], files: string[]): Record<string, NixValue> {
  const perUser: Record<string, NixValue> = {};
  for (const user of users) perUser[user] = { openssh: { authorizedKeys: { keyFiles: files.map((file) => nix.path(file)) } } };
  return { users: { users: perUser } };
}

/**
 * The host key goes in through environment.etc with a mode, so NixOS copies
 * it (etc.nix) instead of linking into the store, and sshd's default
 * `services.openssh.hostKeys` finds it at /etc/ssh/ssh_host_ed25519_key and
 * does not generate one at boot. The source is `builtins.path` of the file in
 * the operator's state dir (allowed because the build is `--impure`): a store
 * path of its own, so the key is never part of the site or its flake copy,
 * and a stick carries only its own host's key.
 */
function hostKeySettings(env: Record<string, string | undefined>, host: HostContext): Record<string, NixValue> {
  const paths = hostKeyPaths(env, host.siteRoot, host.host);
  const source = (file: string, name: string) => nix.raw(`builtins.path { path = /. + ${renderString(file)}; name = ${renderString(`flk-${host.host}-${name}`)}; }`);
  return {
    environment: {
      etc: {
        "ssh/ssh_host_ed25519_key": { source: source(paths.privateKey, "ssh_host_ed25519_key"), mode: "0600" },
        "ssh/ssh_host_ed25519_key.pub": { source: source(paths.publicKey, "ssh_host_ed25519_key.pub"), mode: "0644" },
      },
    },
  };
}

/** What a real build needs before nix runs (the `prepareIso` tap). */
export interface PrepareOptions {
  pinHostKey: boolean;
  /** core's LiveInstaller hostKeyAlias for this host: the known_hosts name flk ssh checks. */
  alias: string;
  linkLocal: string;
  env: Record<string, string | undefined>;
  cwd: string;
  log: { info(m: string): void; warn(m: string): void; success(m: string): void };
}

/**
 * Generate HOST's key in the state dir when missing, record its public half
 * in the site's known_hosts (no `git add` needed to build: the ISO does not
 * read it), and warn about private keys the site still holds.
 */
export async function prepareHostKey(host: HostContext, options: PrepareOptions): Promise<void> {
  for (const leaked of await findLeakedKeys(host.siteRoot)) options.log.warn(leakedKeyWarning(host.siteRoot, options.cwd, leaked));
  if (!options.pinHostKey) return;
  // Check the site's known_hosts first (a link there is refused), so a refusal leaves the state dir untouched too.
  pinnedKeys(host.siteRoot, host.host, options.alias);
  const { paths, publicLine, generated } = await ensureHostKey(options.env, host.siteRoot, host.host);
  const builder = `${safeUser()}@${hostname()}`;
  const recorded = recordHostKey(host.siteRoot, host.host, options.alias, publicLine, options.linkLocal, builder);
  const file = knownHostsFile(host.host);
  options.log.info(`${generated ? "generated" : "using"} the live installer's sshd host key ${paths.privateKey} (private: it stays in your state directory and goes only onto ${host.host}'s stick)`);
  if (recorded)
    options.log.info(`recorded its public half in ${file}: commit it (\`${gitCommand(host.siteRoot, options.cwd, ["add", "--", file])}\`) so other operators' flk ssh ${host.host} trusts this stick too`);
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid${process.getuid?.() ?? "?"}`;
  }
}
