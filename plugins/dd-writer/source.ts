/**
 * The bytes that go to the device: the image file itself, or the output of
 * its decompressor (`zstd -dc`, `gzip -dc`, `xz -dc`) streamed while writing,
 * so a compressed image never needs its full size on disk. The decompressor
 * runs in its own process, on the second core.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { FlkError, requireProgram } from "../../core/index.ts";
import type { ImageFormat, ImageInfo } from "./image.ts";

/** A sequential reader of the image's (decompressed) bytes. */
export interface ImageSource {
  /** Fill `into` completely unless the image ends; returns the bytes read (0 at the end). */
  read(into: Uint8Array): Promise<number>;
  /** Release the file or stop the decompressor. */
  close(): void;
}

const DECOMPRESSOR: Record<Exclude<ImageFormat, "raw">, string> = { zstd: "zstd", gzip: "gzip", xz: "xz" };

/** Open the image for streaming from its first byte. */
export function openSource(image: ImageInfo): ImageSource {
  return image.format === "raw" ? fileSource(image.path) : decompressSource(image.path, DECOMPRESSOR[image.format]);
}

function fileSource(path: string): ImageSource {
  const fd = openSync(path, "r");
  let position = 0;
  let closed = false;
  return {
    async read(into) {
      let n = 0;
      while (n < into.length) {
        const got = readSync(fd, into, n, into.length - n, position + n);
        if (got === 0) break;
        n += got;
      }
      position += n;
      return n;
    },
    close() {
      if (!closed) closeSync(fd);
      closed = true;
    },
  };
}

function decompressSource(path: string, program: string): ImageSource {
  const binary = requireProgram(program, `decompressing ${path}`);
  const child = Bun.spawn([binary, "-dc", "--", path], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
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
            await checkExit(child, program, path);
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
    close() {
      if (child.exitCode === null) child.kill("SIGTERM");
      try {
        reader.releaseLock();
      } catch {
        // a read still pending (interrupted mid-stream): the killed child ends it
      }
    },
  };
}

async function checkExit(child: Bun.Subprocess<"ignore", "pipe", "pipe">, program: string, path: string): Promise<void> {
  const code = await child.exited;
  if (code === 0) return;
  const stderr = (await new Response(child.stderr).text()).trim().split("\n").slice(-3).join(" ");
  throw new FlkError(`\`${program} -dc ${path}\` failed (exit ${code}${stderr ? `: ${stderr}` : ""}): the image is corrupt or truncated.`, "E_DECOMPRESS", 1);
}

/** The first `length` (decompressed) bytes of the image, for the signature check. */
export async function readHead(image: ImageInfo, length: number): Promise<Uint8Array> {
  const source = openSource(image);
  try {
    const buf = new Uint8Array(length);
    return buf.subarray(0, await source.read(buf));
  } catch {
    return new Uint8Array(0);
  } finally {
    source.close();
  }
}
