/**
 * dd-writer's own hooks: the `flk write` lifecycle. Only dd-writer calls
 * them, so dd-writer declares them (STYLE.md §2, webpack's
 * getCompilationHooks): another plugin taps `writerHooks(flk).afterWrite`
 * to print a next step, and core never learns what a write is.
 */
import { AsyncSeriesHook } from "tapable";
import { pluginHooks } from "../../core/index.ts";

/** What `flk write` is about to do, or did. */
export interface WriteContext {
  image: string;
  device: string;
  /** Bytes written to the device (decompressed size). */
  bytes: number;
  verified?: boolean;
}

/** dd-writer's hooks of one flk instance, made on first use. */
export const writerHooks = pluginHooks(() => ({
  /** Before the first byte goes to a device (after all safety checks), once per device. Taps may observe, or refuse by throwing: then nothing is written. */
  beforeWrite: new AsyncSeriesHook<[WriteContext]>(["write"]),
  /** After a device is written, synced and (unless --no-verify) verified. Taps may print a next step. */
  afterWrite: new AsyncSeriesHook<[WriteContext]>(["write"]),
}));
