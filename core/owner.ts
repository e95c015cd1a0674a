/**
 * Who may own what flk trusts: the site (its directory and flake.nix), its
 * flk.toml, and the state directory that holds the live installers' private
 * host keys. One rule, as ssh applies to its config and keys: owned by this
 * user, by root, or — under sudo — by the user who ran sudo (their site,
 * their keys), and not writable by group or others. Anything else could
 * have been put there, or swapped, by someone else.
 */

/** The uids that may own what flk trusts: this user, root, and under sudo $SUDO_UID; undefined where uids do not apply. */
export function trustedOwners(env: Record<string, string | undefined> = process.env): number[] | undefined {
  if (typeof process.getuid !== "function") return undefined;
  const owners = [process.getuid(), 0];
  const sudoUid = env.SUDO_UID;
  if (process.getuid() === 0 && sudoUid && /^\d+$/.test(sudoUid)) owners.push(Number(sudoUid));
  return [...new Set(owners)];
}

/** The trusted owners in words, for a refusal ("you (user id 1000) or root"). */
export function ownersText(owners: readonly number[]): string {
  const [self, , sudo] = owners;
  if (self === 0) return sudo === undefined ? "you (root)" : `root or the user who ran sudo (user id ${sudo})`;
  return `you (user id ${self}) or root`;
}

/** What is wrong with a file's or directory's owner and mode under the rule above. */
export type OwnerProblem = { kind: "owner"; uid: number; owners: number[] } | { kind: "mode"; who: string; mode: string };

/** Why someone else could have written `stat`'s file or directory, or undefined when only a trusted owner can. */
export function ownerProblem(stat: { uid: number; mode: number }, env?: Record<string, string | undefined>): OwnerProblem | undefined {
  const owners = trustedOwners(env);
  if (owners && !owners.includes(stat.uid)) return { kind: "owner", uid: stat.uid, owners };
  if (stat.mode & 0o022) {
    const who = [stat.mode & 0o020 ? "its group" : "", stat.mode & 0o002 ? "every user" : ""].filter(Boolean).join(" and ");
    return { kind: "mode", who, mode: (stat.mode & 0o7777).toString(8).padStart(4, "0") };
  }
  return undefined;
}

/** An ownerProblem in words: "belongs to user id 65534, not to you (user id 0) or root" / "may be written by every user (mode 0777)". */
export function ownerProblemText(problem: OwnerProblem): string {
  return problem.kind === "owner" ? `belongs to user id ${problem.uid}, not to ${ownersText(problem.owners)}` : `may be written by ${problem.who} (mode ${problem.mode})`;
}
