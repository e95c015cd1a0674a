/**
 * Fixtures for dd-writer tests: temp dirs, images, loop devices (always
 * detached in `cleanup`), mounts and swaps (always undone), and a flk
 * instance with only dd-writer for library-level tests.
 */
import { closeSync, fsyncSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { afterAll, afterEach, beforeAll, beforeEach } from "bun:test";
import { FLK } from "../../helpers/binary.ts";
import { testFlk as sharedTestFlk } from "../../helpers/flk.ts";
import { mustSync } from "../../helpers/sh.ts";
import { join } from "node:path";
import type { Flk } from "../../../core/index.ts";
import ddWriter from "../../../plugins/dd-writer/index.ts";

/** Run a program; throws with its stderr when it fails. */
export function sh(argv: string[], input?: Uint8Array): string {
  return mustSync(argv, { input }).trim();
}

/** sha256 of the first `length` bytes of a file or device, by `head | sha256sum` (the oracle, not flk's hasher). */
export function sha256Of(path: string, length?: number): string {
  const cmd = length === undefined ? `sha256sum < '${path}'` : `head -c ${length} '${path}' | sha256sum`;
  return sh(["bash", "-c", cmd]).split(" ")[0]!;
}

/** `cmp -n LENGTH a b` exit code: 0 equal, 1 different. */
export function cmp(a: string, b: string, length: number): number {
  return Bun.spawnSync(["cmp", "-n", String(length), a, b], { stdout: "pipe", stderr: "pipe" }).exitCode;
}

/** Random bytes; with `mbr` the boot signature 0x55AA at 510 so flk takes it for a hybrid image. */
export function randomBytes(size: number, mbr = true): Uint8Array {
  const out = new Uint8Array(size);
  const block = new Uint8Array(1 << 20);
  for (let i = 0; i < block.length; i += 65536) crypto.getRandomValues(block.subarray(i, i + 65536));
  // One random MiB, changed in one more byte for each following MiB (so no two MiBs are equal): fast for 512 MiB images.
  for (let at = 0, k = 0; at < size; at += block.length, k++) {
    block[k % block.length] = block[k % block.length]! ^ 0x5a;
    out.set(block.subarray(0, Math.min(block.length, size - at)), at);
  }
  if (mbr && size >= 512) out.set([0x55, 0xaa], 510);
  return out;
}

/** Write `data` to `path`. */
export function writeFile(path: string, data: Uint8Array): string {
  const fd = openSync(path, "w");
  for (let at = 0; at < data.length; ) at += writeSync(fd, data, at, data.length - at);
  closeSync(fd);
  return path;
}

/** A scratch area whose loop devices, mounts, swaps and files go away in `cleanup()`. */
export class Scratch {
  readonly dir = mkdtempSync("/tmp/flk-ddw-");
  #undo: Array<() => void> = [];

  path(name: string): string {
    return join(this.dir, name);
  }

  /** A sparse backing file of `size` bytes attached to a fresh loop device. */
  loop(size: number, options: { readOnly?: boolean; partscan?: boolean; backing?: string } = {}): { device: string; backing: string } {
    const backing = options.backing ?? this.path(`disk-${this.#undo.length}.img`);
    if (!options.backing) sh(["truncate", "-s", String(size), backing]);
    const device = sh(["losetup", "-f", "--show", ...(options.readOnly ? ["-r"] : []), ...(options.partscan ? ["-P"] : []), backing]);
    this.#undo.push(() => void Bun.spawnSync(["losetup", "-d", device]));
    return { device, backing };
  }

  /** mkfs.ext4 `device` and mount it on a fresh directory. */
  mountExt4(device: string): string {
    sh(["mkfs.ext4", "-q", "-F", device]);
    const at = mkdtempSync(join(this.dir, "mnt-"));
    sh(["mount", device, at]);
    this.#undo.push(() => void Bun.spawnSync(["umount", "-l", at]));
    return at;
  }

  /** mkswap + swapon `device`. */
  swapOn(device: string): void {
    sh(["mkswap", device]);
    sh(["swapon", device]);
    this.#undo.push(() => void Bun.spawnSync(["swapoff", device]));
  }

  /** Run `fn` at cleanup (before the temp dir is removed). */
  defer(fn: () => void): void {
    this.#undo.push(fn);
  }

  cleanup(): void {
    for (const undo of this.#undo.reverse()) {
      try {
        undo();
      } catch {
        // keep undoing the rest
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A flk with only dd-writer enabled (library-level tests, no argv). */
export function testFlk(options: { yes?: boolean; json?: boolean; cwd?: string } = {}): Flk {
  return sharedTestFlk({ plugins: [ddWriter], options: { "dd-writer": { verify: true } }, cwd: options.cwd, flags: { yes: options.yes ?? false, json: options.json ?? false } });
}

/** Read `length` bytes at `offset` of a file or device. */
export function bytesAt(path: string, offset: number, length: number): Uint8Array {
  const fd = openSync(path, "r");
  const out = new Uint8Array(length);
  try {
    readSync(fd, out, 0, length, offset);
  } finally {
    closeSync(fd);
  }
  return out;
}

/** Overwrite the byte at `offset` of `path` with its complement (buffered, no O_DIRECT). */
export function flipByte(path: string, offset: number): void {
  const fd = openSync(path, "r+");
  try {
    const b = new Uint8Array(1);
    readSync(fd, b, 0, 1, offset);
    b[0] = ~b[0]! & 0xff;
    writeSync(fd, b, 0, 1, offset);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Resolve once `backing` has at least `bytes` allocated (the loop device has written that far). */
export async function whenAllocated(backing: string, bytes: number, timeoutMs = 20000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (statSync(backing).blocks * 512 < bytes) {
    if (Date.now() > deadline) throw new Error(`${backing} did not reach ${bytes} allocated bytes in ${timeoutMs} ms`);
    await Bun.sleep(1);
  }
}

/** A zram disk (hot-added, so no existing one is touched): a real non-removable disk. Removed at cleanup. */
export function zramDisk(scratch: Scratch, size: number): string {
  const id = readFileSync("/sys/class/zram-control/hot_add", "utf8").trim();
  scratch.defer(() => writeFileSync("/sys/class/zram-control/hot_remove", id));
  writeFileSync(`/sys/block/zram${id}/disksize`, String(size));
  return `/dev/zram${id}`;
}

/** A program running on a pseudo-terminal (util-linux `script`): read what it shows, type into it. */
export interface Pty {
  /** Everything the terminal showed so far, ANSI escapes removed. */
  screen(): string;
  /** Resolve with the screen once `pattern` appears in it; reject after `timeoutMs`, naming what was shown. */
  waitFor(pattern: RegExp | string, timeoutMs?: number): Promise<string>;
  /** Type `keys` (raw bytes: "\r" is Enter, "\x1b" Escape, "\x1b[B" arrow down, "\x03" Ctrl-C). */
  type(keys: string): void;
  /** The program's exit code (script -e passes it through; 128+N for a death by signal N) and the screen. */
  done: Promise<{ code: number; screen: string }>;
}

/** Remove ANSI escape sequences (colours, cursor moves, erases) from terminal output. */
export function stripAnsi(text: string): string {
  return text.replace(/\x1b\[[0-9;?]*[ -\/]*[@-~]/g, "").replace(/\x1b[()][0-9A-Za-z]/g, "").replace(/\x1b[=>78]/g, "").replace(/\r/g, "");
}

/**
 * Run `argv` under `script -qfec` so its stdin, stdout and stderr are a
 * terminal of `rows`×`cols`. Killed (with `script`) after `killAfterMs`.
 */
export function onPty(argv: string[], options: { env?: Record<string, string>; rows?: number; cols?: number; killAfterMs?: number; cwd?: string } = {}): Pty {
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = `stty rows ${options.rows ?? 60} cols ${options.cols ?? 200} && exec ${argv.map(quote).join(" ")}`;
  const child = Bun.spawn(["script", "-qfec", command, "/dev/null"], {
    cwd: options.cwd,
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, SHELL: "/bin/sh", TERM: "xterm-256color", NO_COLOR: "1", ...options.env },
  });
  let raw = "";
  const waiters = new Set<() => void>();
  const decoder = new TextDecoder();
  const reading = (async () => {
    for await (const chunk of child.stdout) {
      raw += decoder.decode(chunk, { stream: true });
      for (const wake of waiters) wake();
    }
  })();
  const killer = setTimeout(() => child.kill("SIGKILL"), options.killAfterMs ?? 20000);
  const screen = () => stripAnsi(raw);
  const done = Promise.all([child.exited, reading]).then(([code]) => {
    clearTimeout(killer);
    for (const wake of waiters) wake();
    return { code, screen: screen() };
  });
  let exited = false;
  void done.then(() => (exited = true));
  return {
    screen,
    done,
    type(keys) {
      child.stdin.write(keys);
      void child.stdin.flush();
    },
    waitFor(pattern, timeoutMs = 15000) {
      const found = () => (typeof pattern === "string" ? screen().includes(pattern) : pattern.test(screen()));
      return new Promise((resolve, reject) => {
        const check = () => {
          if (found()) return finish(() => resolve(screen()));
          if (exited) return finish(() => reject(new Error(`exited before showing ${pattern}; the terminal showed:\n${screen()}`)));
        };
        const timer = setTimeout(() => finish(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms; the terminal showed:\n${screen()}`))), timeoutMs);
        const finish = (then: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          then();
        };
        waiters.add(check);
        void done.then(check);
        check();
      });
    },
  };
}

/**
 * The scratch space of a dd-writer system test file: one shared random image
 * of `bigBytes` (made once per file) and a fresh Scratch per test, each
 * cleaned up by bun:test's hooks. Call it at the top level of a test file.
 */
export function scratchPerTest(bigBytes: number): { readonly s: Scratch; readonly bigImage: string } {
  let shared: Scratch | undefined;
  let bigImage = "";
  let current: Scratch | undefined;
  beforeAll(() => {
    shared = new Scratch();
    bigImage = writeFile(shared.path("big.iso"), randomBytes(bigBytes));
  });
  afterAll(() => shared?.cleanup());
  beforeEach(() => (current = new Scratch()));
  afterEach(() => current?.cleanup());
  return {
    get s() {
      if (!current) throw new Error("scratchPerTest: used outside a test");
      return current;
    },
    get bigImage() {
      return bigImage;
    },
  };
}

/**
 * `dist/flk ARGS` as a child (stdin closed, no colour): its stderr is read as
 * it comes (`stderr()` so far, for tests that wait for a line), `done` gives
 * stdout, all of stderr and the exit code.
 */
export function spawnFlk(args: string[]) {
  const child = Bun.spawn([FLK, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, NO_COLOR: "1" } });
  const stderr: string[] = [];
  const decoder = new TextDecoder();
  const reading = (async () => {
    for await (const chunk of child.stderr) stderr.push(decoder.decode(chunk, { stream: true }));
  })();
  return {
    child,
    stderr: () => stderr.join(""),
    done: Promise.all([new Response(child.stdout).text(), child.exited, reading]).then(([stdout, code]) => ({ stdout, stderr: stderr.join(""), code })),
  };
}
