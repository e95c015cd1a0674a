/** xorshift32: deterministic, so a finding reproduces from its seed. */
export function rng(seed: number) {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
  };
}

/** A random source. */
export type Rng = ReturnType<typeof rng>;

/** What one fuzz target found. */
export interface FuzzReport {
  target: string;
  /** Inputs tried. */
  inputs: number;
  /** Inputs the code under test accepted (and the oracle checked). */
  accepted: number;
  /** Slowest single input, milliseconds. */
  slowestMs: number;
  elapsedMs: number;
  /** Crashes, hangs and accepted-invalid inputs; each names the input (hex/JSON) to reproduce it. */
  findings: string[];
}

/**
 * Findings grouped by kind (the message without the input), so one bug met
 * a thousand times does not end a run before the other inputs are tried:
 * a run stops early only at `limit` distinct kinds.
 */
export class Findings {
  readonly #kinds = new Map<string, { count: number; example: string }>();
  constructor(readonly limit = 20) {}

  /** Record one finding of `kind`, with the input that shows it. */
  add(kind: string, input: string): void {
    const seen = this.#kinds.get(kind);
    if (seen) seen.count++;
    else this.#kinds.set(kind, { count: 1, example: input });
  }

  /** True once `limit` distinct kinds were found. */
  get full(): boolean {
    return this.#kinds.size >= this.limit;
  }

  /** `kind (×N): example input` per kind. */
  list(): string[] {
    return [...this.#kinds].map(([kind, { count, example }]) => `${kind}${count > 1 ? ` (×${count})` : ""}: ${example}`);
  }
}
