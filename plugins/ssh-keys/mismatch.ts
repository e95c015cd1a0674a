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
  const name = host || "HOST";
  return new FlkError(
    `${destination} answered with a host key that is not the one pinned for ${name} (secrets/hosts/${name}/known_hosts): this stick was built with another host key: rebuild and rewrite it (\`flk iso ${name} && flk write\`). ` +
      "Do not remove the pinned key to get in: if this is not a stick you built, something else answers at that address. Nothing was sent to it.",
    "E_HOST_KEY_MISMATCH",
    255,
  );
}
