/**
 * What ssh-keys puts into a live ISO: the site's public keys as authorized
 * keys of each configured user, and (pinHostKey) a fixed sshd host key.
 */
import { FlkError, mergeSettings, nix, type HostContext, type IsoModule, type NixValue } from "../../core/index.ts";
import { loadStore, KEYS_DIR } from "./store.ts";
import { ensureHostKey, hostKeyFiles, writeKnownHosts } from "./hostkey.ts";

/** The plugin options that shape the ISO. */
export interface IsoOptions {
  users: string[];
  keyFiles: string[];
  pinHostKey: boolean;
  /** The live installer's static link-local address (ipv6-lla's `address`), for known_hosts. */
  linkLocal: string;
}

/** NixOS user names (users-groups.nix allows at most 32 characters; shadow's rule below). */
const USER = /^[a-z_][a-z0-9_-]{0,31}$/;

/** Add this plugin's settings, files and notes to `module`. */
export async function contributeIso(module: IsoModule, host: HostContext, options: IsoOptions, warn: (m: string) => void): Promise<IsoModule> {
  for (const user of options.users)
    if (!USER.test(user)) throw new FlkError(`flk.toml [ssh-keys] users: expected user names like "nixos" or "root", got "${user.slice(0, 40)}"`, "E_CONFIG_VALUE");
  const store = loadStore(host.siteRoot, options.keyFiles);
  if (store.problems.length > 0)
    throw new FlkError(`the ISO for ${host.host} was not built; fix these key files first:\n${store.problems.join("\n")}`, "E_KEY_INVALID");
  const notes: string[] = [];
  let settings: Record<string, NixValue> = authorizedKeys(options.users, store.files);
  const files = [...store.files];
  if (store.keys.length === 0) {
    const message = `no SSH public keys in ${KEYS_DIR}/ or keyFiles: nobody will be able to log in to the ${host.host} live installer remotely. Add yours with \`flk keys add ~/.ssh/id_ed25519.pub\`.`;
    warn(message);
    notes.push(message);
  }
  if (options.pinHostKey) {
    const pinned = await pinHostKey(host, options.linkLocal);
    settings = mergeSettings(settings, pinned.settings);
    files.push(...pinned.files);
    notes.push(pinned.note);
  }
  return { ...module, settings: mergeSettings(module.settings, settings), files: [...module.files, ...files], notes: [...module.notes, ...notes] };
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
 * does not generate one at boot.
 */
async function pinHostKey(host: HostContext, linkLocal: string) {
  const files = hostKeyFiles(host.host);
  const generated = await ensureHostKey(host.siteRoot, host.host);
  writeKnownHosts(host.siteRoot, host.host, linkLocal);
  const settings: Record<string, NixValue> = {
    environment: {
      etc: {
        "ssh/ssh_host_ed25519_key": { source: nix.path(files.privateKey), mode: "0600" },
        "ssh/ssh_host_ed25519_key.pub": { source: nix.path(files.publicKey), mode: "0644" },
      },
    },
  };
  const note =
    `${generated ? "generated" : "using"} the pinned sshd host key ${files.privateKey} (flk ssh ${host.host} verifies it via ${files.knownHosts}). ` +
    "Its private half is on the stick and in the Nix store: fine for a throwaway installer, never reuse it for the installed system.";
  return { settings, files: [files.privateKey, files.publicKey], note };
}
