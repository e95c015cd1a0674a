/**
 * Files under the site's `secrets/` without following a single symbolic
 * link (DESIGN.md "Trust rules"). A committed `secrets/keys/alice.pub →
 * ~/.ssh/id_ed25519` or `secrets/keys → ~/.ssh` must make flk refuse, not
 * copy a private key into the repository or delete a file elsewhere.
 *
 * Node has no openat(2). On Linux `/proc/self/fd/N/NAME` resolves NAME
 * inside the directory open as fd N (the magic link is the directory
 * itself), so flk walks from the site root one component at a time: lstat
 * the component (refuse a link, naming it), open it with O_NOFOLLOW (so a
 * link swapped in after the lstat fails the open instead of being followed),
 * and do every read, write, rename and unlink relative to the checked fd.
 * Each opened directory and file also passes core's owner rule (fstat of
 * the fd, core/site.ts checkSiteOwned): secrets/ decides which keys the
 * stick authorizes and which host keys flk pins, so a directory anyone may
 * write, or a file someone else owns, is refused like a link.
 */
import { closeSync, constants, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, readlinkSync, readSync, readdirSync, renameSync, unlinkSync, writeSync, type Stats } from "node:fs";
import { checkSiteOwned, FlkError } from "../../core/index.ts";
import { join as joinPath } from "node:path";

const { O_RDONLY, O_WRONLY, O_CREAT, O_EXCL, O_DIRECTORY, O_NOFOLLOW } = constants;

/** Bigger files are refused unread: a key file or known_hosts is a few KiB (a 16 KiB line limit, many lines). */
export const MAX_SITE_FILE_BYTES = 1024 * 1024;

/** The path `name` inside the directory open as `fd`, resolved by the kernel without following `name`'s parents again. */
function at(fd: number, name: string): string {
  return `/proc/self/fd/${fd}/${name}`;
}

function lstatAt(fd: number, name: string): Stats | undefined {
  try {
    return lstatSync(at(fd, name));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/** The refusal for a link at `rel` (site-relative): names it and its target, never a byte of what it points at. */
export function symlinkRefusal(rel: string, target: string): FlkError {
  return new FlkError(
    `${rel} is a symbolic link (to ${target}): flk never follows links under secrets/, since one could point at a private key or a file outside the site. ` +
      `Nothing was read or written. Replace it with a real file or directory (\`rm ${rel}\`, then run the command again).`,
    "E_SYMLINK",
  );
}

function refuseLink(fd: number, name: string, rel: string): never {
  let target = "?";
  try {
    target = readlinkSync(at(fd, name));
  } catch {
    // The link vanished meanwhile: still refuse, it was there.
  }
  throw symlinkRefusal(rel, target);
}

/** A checked directory of the site, open as `fd`; `rel` is site-relative ("" for the root). */
export interface SiteDir {
  fd: number;
  rel: string;
  close(): void;
}

function join(rel: string, name: string): string {
  return rel === "" ? name : `${rel}/${name}`;
}

function components(rel: string): string[] {
  const parts = rel.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw new FlkError(`expected a path inside the site, got '${rel}'`, "E_SITE_PATH");
  return parts;
}

/**
 * Open `relDir` under `siteRoot`, checking each component. A missing
 * component is created (0755) with `create`, else the result is undefined.
 */
export function openSiteDir(siteRoot: string, relDir: string, options: { create?: boolean } = {}): SiteDir | undefined {
  let fd = openSync(siteRoot, O_RDONLY | O_DIRECTORY);
  let rel = "";
  try {
    checkSiteOwned(siteRoot, fstatSync(fd));
    for (const name of components(relDir)) {
      const next = join(rel, name);
      let stat = lstatAt(fd, name);
      if (!stat && options.create) {
        try {
          mkdirSync(at(fd, name), { mode: 0o755 });
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        }
        stat = lstatAt(fd, name);
      }
      if (!stat) {
        closeSync(fd);
        return undefined;
      }
      if (stat.isSymbolicLink()) refuseLink(fd, name, next);
      if (!stat.isDirectory()) throw new FlkError(`${next} is not a directory. Nothing was read or written.`, "E_SITE_PATH");
      const child = openChecked(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, next);
      closeSync(fd);
      fd = child;
      rel = next;
      checkSiteOwned(joinPath(siteRoot, rel), fstatSync(fd));
    }
  } catch (error) {
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
    throw error;
  }
  const dirFd = fd;
  return { fd: dirFd, rel, close: () => closeSync(dirFd) };
}

/** open(2) relative to `dirFd`; ELOOP/ENOTDIR from O_NOFOLLOW (a link swapped in after the lstat) is the link refusal. */
function openChecked(dirFd: number, name: string, flags: number, rel: string, mode?: number): number {
  try {
    return openSync(at(dirFd, name), flags, mode);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if ((code === "ELOOP" || code === "ENOTDIR") && lstatAt(dirFd, name)?.isSymbolicLink()) refuseLink(dirFd, name, rel);
    throw error;
  }
}

function splitFile(rel: string): { dir: string; name: string } {
  const parts = components(rel);
  const name = parts.pop();
  if (!name) throw new FlkError(`expected a file path inside the site, got '${rel}'`, "E_SITE_PATH");
  return { dir: parts.join("/"), name };
}

/** Read a site file through checked fds; undefined when it (or a parent) does not exist. */
export function readSiteFile(siteRoot: string, rel: string): string | undefined {
  const { dir, name } = splitFile(rel);
  const parent = openSiteDir(siteRoot, dir);
  if (!parent) return undefined;
  try {
    const stat = lstatAt(parent.fd, name);
    if (!stat) return undefined;
    if (stat.isSymbolicLink()) refuseLink(parent.fd, name, rel);
    const fd = openChecked(parent.fd, name, O_RDONLY | O_NOFOLLOW, rel);
    try {
      const opened = fstatSync(fd);
      if (!opened.isFile()) throw new FlkError(`${rel} is not a regular file. Nothing was read or written.`, "E_SITE_PATH");
      checkSiteOwned(joinPath(siteRoot, rel), opened);
      if (opened.size > MAX_SITE_FILE_BYTES) throw new FlkError(`${rel} is ${opened.size} bytes, over the ${MAX_SITE_FILE_BYTES}-byte limit for a key file: refused unread.`, "E_SITE_PATH");
      return readAll(fd, opened.size);
    } finally {
      closeSync(fd);
    }
  } finally {
    parent.close();
  }
}

function readAll(fd: number, size: number): string {
  const buffer = Buffer.alloc(Math.min(size + 1, MAX_SITE_FILE_BYTES + 1));
  let length = 0;
  for (let n; length < buffer.length && (n = readSync(fd, buffer, length, buffer.length - length, null)) > 0; ) length += n;
  if (length > MAX_SITE_FILE_BYTES) throw new FlkError(`a site file grew past ${MAX_SITE_FILE_BYTES} bytes while flk read it: refused.`, "E_SITE_PATH");
  return buffer.subarray(0, length).toString("utf8");
}

/**
 * Replace a site file atomically (temp file in the same checked directory,
 * fsync, rename, fsync the directory), creating missing directories. A link
 * at the file's place is refused, not replaced: the user should see it.
 */
export function writeSiteFile(siteRoot: string, rel: string, data: string | Uint8Array, mode = 0o644): void {
  const { dir, name } = splitFile(rel);
  const parent = openSiteDir(siteRoot, dir, { create: true })!;
  try {
    const stat = lstatAt(parent.fd, name);
    if (stat?.isSymbolicLink()) refuseLink(parent.fd, name, rel);
    if (stat && !stat.isFile()) throw new FlkError(`${rel} is not a regular file. Nothing was written.`, "E_SITE_PATH");
    const temp = `.${name}.${randomSuffix()}.tmp`;
    const fd = openSync(at(parent.fd, temp), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode);
    try {
      const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
      for (let off = 0; off < bytes.length; ) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
    } catch (error) {
      closeSync(fd);
      unlinkSync(at(parent.fd, temp));
      throw error;
    }
    closeSync(fd);
    renameSync(at(parent.fd, temp), at(parent.fd, name));
    fsyncSync(parent.fd);
  } finally {
    parent.close();
  }
}

/** Remove a site file durably; a link at its place (or in its path) is refused. Returns false when it did not exist. */
export function removeSiteFile(siteRoot: string, rel: string): boolean {
  const { dir, name } = splitFile(rel);
  const parent = openSiteDir(siteRoot, dir);
  if (!parent) return false;
  try {
    const stat = lstatAt(parent.fd, name);
    if (!stat) return false;
    if (stat.isSymbolicLink()) refuseLink(parent.fd, name, rel);
    unlinkSync(at(parent.fd, name));
    fsyncSync(parent.fd);
    return true;
  } finally {
    parent.close();
  }
}

/** What a checked directory holds: names of regular files; a link among them is refused, naming it. */
export function listSiteDir(siteRoot: string, relDir: string, accept: (name: string) => boolean): string[] {
  const dir = openSiteDir(siteRoot, relDir);
  if (!dir) return [];
  try {
    const names: string[] = [];
    for (const name of readdirSync(at(dir.fd, ".")).sort()) {
      if (!accept(name)) continue;
      const stat = lstatAt(dir.fd, name);
      if (stat?.isSymbolicLink()) refuseLink(dir.fd, name, join(dir.rel, name));
      if (stat?.isFile()) names.push(name);
    }
    return names;
  } finally {
    dir.close();
  }
}

/** Whether a site path exists (checked like a read: a link on the way is refused). */
export function siteFileExists(siteRoot: string, rel: string): boolean {
  const { dir, name } = splitFile(rel);
  const parent = openSiteDir(siteRoot, dir);
  if (!parent) return false;
  try {
    const stat = lstatAt(parent.fd, name);
    if (stat?.isSymbolicLink()) refuseLink(parent.fd, name, rel);
    return stat !== undefined;
  } finally {
    parent.close();
  }
}

function randomSuffix(): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(6)), (b) => b.toString(16).padStart(2, "0")).join("");
}
