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
