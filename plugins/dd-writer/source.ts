/**
 * The bytes that go to the device: the image file itself, or the output of
 * its decompressor (`zstd -dc`, `gzip -dc`, `xz -dc`) streamed while writing,
 * so a compressed image never needs its full size on disk. The decompressor
 * runs in its own process, on the second core.
 *
 * Every byte comes from the image's one fd (positioned reads, so several
 * sources over one fd do not disturb each other); a decompressor is fed
 * through a pipe by flk, not given the path. With `hash`, the source hashes
 * the image file's bytes exactly as it hands them on: for a raw image those
 * are the bytes written, for a compressed one the bytes decompressed — so
 * `--sha256` is proven on what was written, not on a second read.
 */
import { readSync } from "node:fs";
import { read } from "node:fs";
import { FlkError, requireProgram, spawn } from "../../core/index.ts";
import type { ImageFormat, ImageInfo } from "./image.ts";

/** A sequential reader of the image's (decompressed) bytes. */
export interface ImageSource {
  /** Fill `into` completely unless the image ends; returns the bytes read (0 at the end). */
  read(into: Uint8Array): Promise<number>;
  /** Hex sha256 of the image file's bytes consumed (with `hash`; complete once `read` returned 0). */
  digest(): string | undefined;
  /** Stop reading (and the decompressor). The image's fd stays open. */
  close(): void;
}

const DECOMPRESSOR: Record<Exclude<ImageFormat, "raw">, string> = { zstd: "zstd", gzip: "gzip", xz: "xz" };

/** Read the image from its first byte. */
export function openSource(image: ImageInfo, options: { hash?: boolean } = {}): ImageSource {
  const hasher = options.hash ? new Bun.CryptoHasher("sha256") : undefined;
  return image.format === "raw" ? fileSource(image.fd, hasher) : decompressSource(image, DECOMPRESSOR[image.format], hasher);
}

function fileSource(fd: number, hasher: Bun.CryptoHasher | undefined): ImageSource {
  let position = 0;
  let closed = false;
  return {
    async read(into) {
      let n = 0;
      while (!closed && n < into.length) {
        const got = readSync(fd, into, n, into.length - n, position + n);
        if (got === 0) break;
        n += got;
      }
      position += n;
      hasher?.update(into.subarray(0, n));
      return n;
    },
    digest: () => hasher?.digest("hex"),
    close() {
      closed = true;
    },
  };
}

/** Feed chunk: 1 MiB of compressed bytes per pipe write. */
const FEED = 1 << 20;

function decompressSource(image: ImageInfo, program: string, hasher: Bun.CryptoHasher | undefined): ImageSource {
  const binary = requireProgram(program, `decompressing ${image.path}`);
  const child = spawn([binary, "-dc"], { stdin: "pipe", stdout: "pipe", stderr: "pipe" }, [program, "-dc"]);
  let stopped = false;
  let fed = false;
  // flk reads the fd and pipes the bytes in: the decompressor never opens a path that may have changed.
  const feeding = (async () => {
    try {
      for (let position = 0; !stopped; ) {
        const chunk = new Uint8Array(FEED);
        const n = await pread(image.fd, chunk, position);
        if (n === 0) break;
        position += n;
        hasher?.update(chunk.subarray(0, n));
        // write() and flush() may return promises that reject with EPIPE: awaited here, so the catch below takes them.
        await child.stdin.write(chunk.subarray(0, n));
        await child.stdin.flush();
      }
      fed = !stopped;
      await child.stdin.end();
    } catch {
      // EPIPE: the decompressor stopped early (corrupt input, or closed); its exit status says which.
    }
  })();
  const reader = child.stdout.getReader();
  let pending: Uint8Array | undefined;
  let done = false;
  return {
    async read(into) {
      let n = 0;
      while (n < into.length) {
        if (!pending || pending.length === 0) {
          if (done) break;
          const chunk = await reader.read();
          if (chunk.done) {
            done = true;
            await feeding;
            await checkExit(child, program, image.path);
            if (!fed) throw new FlkError(`\`${program} -dc\` ended before reading all of ${image.path}: the image is corrupt (trailing data?).`, "E_IMAGE_CORRUPT", 1);
            break;
          }
          pending = chunk.value;
        }
        const take = Math.min(pending.length, into.length - n);
        into.set(pending.subarray(0, take), n);
        pending = pending.subarray(take);
        n += take;
      }
      return n;
    },
    digest: () => hasher?.digest("hex"),
    close() {
      stopped = true;
      if (child.exitCode === null) child.kill("SIGTERM");
      try {
        reader.releaseLock();
      } catch {
        // a read still pending (interrupted mid-stream): the killed child ends it
      }
    },
  };
}

function pread(fd: number, buf: Uint8Array, position: number): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buf, 0, buf.length, position, (err, n) => (err ? reject(err) : resolve(n))));
}

async function checkExit(child: Bun.Subprocess<"pipe", "pipe", "pipe">, program: string, path: string): Promise<void> {
  const code = await child.exited;
  if (code === 0) return;
  const stderr = (await new Response(child.stderr).text()).trim().split("\n").slice(-3).join(" ");
  throw new FlkError(`the image ${path} is corrupt or truncated: \`${program} -dc\` failed (exit ${code}${stderr ? `: ${stderr}` : ""}).`, "E_IMAGE_CORRUPT", 1);
}

/** The first `length` (decompressed) bytes of the image, for the signature check; a corrupt image throws E_IMAGE_CORRUPT. */
export async function readHead(image: ImageInfo, length: number): Promise<Uint8Array> {
  const source = openSource(image);
  try {
    const buf = new Uint8Array(length);
    return buf.subarray(0, await source.read(buf));
  } finally {
    source.close();
  }
}
