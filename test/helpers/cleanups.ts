/**
 * A stack of releases: each resource (temp dir, loop device, namespace,
 * daemon, user) registers how to release it the moment it exists, so a
 * failure or a signal at any point releases exactly what was made, newest
 * first. Used by the demo (scripts/demo.ts) and the story test through the
 * live-installer module.
 */

/** One registered release and what it releases (for the report of failures). */
interface Release {
  what: string;
  fn: () => unknown;
}

/** Releases run newest first, each once; run() is idempotent and single-flight. */
export class Cleanups {
  private readonly stack: Release[] = [];
  private running: Promise<string[]> | undefined;

  /** Register the release of something that now exists. */
  add(what: string, fn: () => unknown): void {
    if (this.running) throw new Error(`cannot register "${what}": clean-up has started`);
    this.stack.push({ what, fn });
  }

  /** True once run() was called. */
  get started(): boolean {
    return this.running !== undefined;
  }

  /**
   * Run every release, newest first; a failing release does not stop the
   * others. Resolves to "what: error" for each that failed. A second call
   * (a second Ctrl-C) gets the same promise.
   */
  run(): Promise<string[]> {
    this.running ??= (async () => {
      const failed: string[] = [];
      for (const { what, fn } of this.stack.splice(0).reverse()) {
        try {
          await fn();
        } catch (error) {
          failed.push(`${what}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      return failed;
    })();
    return this.running;
  }
}
