/**
 * ssh's own words for a host key that is not the pinned one, read in one
 * place: `flk ssh` calls it directly, `flk install --target` through core's
 * `sshFailed` hook (the installer imports no plugin). OpenSSH's advice for
 * that case is to delete the known_hosts line (sshconnect.c: "Add correct
 * host key in …", "Offending … key in …", "remove with:",
 * `ssh-keygen -f FILE -R NAME`): wrong for a pinned stick, where the key in
 * the site is the truth. Those lines are held back and flk says what to do.
 */
import { FlkError } from "../../core/index.ts";

/** ssh's lines that advise removing the known key (held back when the key is pinned). */
export const SSH_UNPIN_ADVICE = /\bssh-keygen\b.*\s-R(\s|$)|Add correct host key in|Offending \S+ key in|remove with:/;

/** ssh refused the server's host key (changed, or not the pinned one). */
export function isHostKeyMismatch(sshStderr: string): boolean {
  return /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed|Host key for \S+ has changed/.test(sshStderr);
}

/** The refusal for a live installer whose host key is not the one pinned for `host`; never suggests removing the pin. */
export function hostKeyMismatch(host: string, destination: string): FlkError {
  // No host named: nothing is pinned, so the key ssh compared is the operator's own record, not a pin.
  if (!host)
    return new FlkError(
      `${destination} answered with a host key that is not the one your ssh has recorded for it (your known_hosts; no host of the site was named, so flk checked no pinned key). Nothing was sent to it. ` +
        "Name the host whose live installer this is (`flk ssh HOST --target ADDRESS`, `flk install HOST --target USER@ADDRESS`) to check it against the key pinned in the site.",
      "E_HOST_KEY_MISMATCH",
      255,
    );
  const name = host;
  return new FlkError(
    `${destination} answered with a host key that is not the one pinned for ${name} (secrets/hosts/${name}/known_hosts): this stick was built with another host key: rebuild and rewrite it (\`flk iso ${name} && flk write\`). ` +
      "Do not remove the pinned key to get in: if this is not a stick you built, something else answers at that address. Nothing was sent to it.",
    "E_HOST_KEY_MISMATCH",
    255,
  );
}

/**
 * The refusal for an address alone while `[ssh-keys] pinHostKey` is on: no
 * host is named, so there is no pinned key to check, and flk does not let
 * ssh trust the key on first use (ssh's own StrictHostKeyChecking,
 * `accept-new` included, never gets the chance). Exit 2, nothing sent.
 */
export function noPinnedHost(destination: string): FlkError {
  const address = destination.slice(destination.indexOf("@") + 1);
  return new FlkError(
    `${destination} is an address, not a host of the site, so flk has no pinned host key to check it against ([ssh-keys] pinHostKey is on) and will not trust the key it presents on first use. Nothing was sent. ` +
      "Name the host whose live installer answers there (HOST as in hosts/HOST.nix; its key is pinned in secrets/hosts/HOST/known_hosts): " +
      `\`flk ssh HOST --target ${address}\`, \`flk install HOST --target ${destination}\`, \`flk install HOST --undo --target ${destination}\`.`,
    "E_NO_PINNED_KEY",
    2,
  );
}

/** The one warning for a login without a pin (`pinHostKey = false`), said once per run by flk ssh and flk install --target alike. */
export function unpinnedWarning(host: string, destination: string): string {
  return `pinHostKey = false in flk.toml: flk checks no pinned key for ${host ? `${host}'s live installer at ` : ""}${destination}; ssh trusts its host key on first use (by your ssh config: a prompt, or accept-new) and keeps it in ~/.ssh/known_hosts. Set [ssh-keys] pinHostKey = true and rebuild the ISO (flk iso HOST) to have it pinned.`;
}
