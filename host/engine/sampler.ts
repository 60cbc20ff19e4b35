// Token sampling: greedy, or temperature with top-k, top-p, min-p and a repetition penalty,
// from a seeded generator so a request with a seed is reproducible.

export interface SamplingOptions {
  /** 0 means greedy (argmax). */
  temperature?: number;
  /** Keep the k most likely tokens (0 = off). */
  topK?: number;
  /** Keep the smallest set whose probability mass reaches p (1 = off). */
  topP?: number;
  /** Drop tokens less likely than minP times the most likely one (0 = off). */
  minP?: number;
  /** >1 discourages tokens seen in the last repeatLastN tokens (1 = off), as llama.cpp does. */
  repeatPenalty?: number;
  repeatLastN?: number;
  seed?: number;
}

export const DEFAULT_SAMPLING: Required<SamplingOptions> = {
  temperature: 0.8,
  topK: 40,
  topP: 0.95,
  minP: 0.05,
  repeatPenalty: 1.0,
  repeatLastN: 64,
  seed: 0,
};

/** A small, fast, seedable PRNG (mulberry32); uniform in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function argmax(x: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

export function validateSampling(o: SamplingOptions): void {
  const check = (name: keyof SamplingOptions, ok: boolean, what: string) => {
    if (o[name] !== undefined && !ok) throw new RangeError(`sampling: ${name} ${what}, got ${o[name]}`);
  };
  check('temperature', (o.temperature ?? 0) >= 0 && Number.isFinite(o.temperature ?? 0), 'must be a finite number >= 0');
  check('topK', Number.isInteger(o.topK ?? 0) && (o.topK ?? 0) >= 0, 'must be an integer >= 0');
  check('topP', (o.topP ?? 1) > 0 && (o.topP ?? 1) <= 1, 'must be in (0, 1]');
  check('minP', (o.minP ?? 0) >= 0 && (o.minP ?? 0) <= 1, 'must be in [0, 1]');
  check('repeatPenalty', (o.repeatPenalty ?? 1) > 0 && Number.isFinite(o.repeatPenalty ?? 1), 'must be a finite number > 0');
  check('repeatLastN', Number.isInteger(o.repeatLastN ?? 0) && (o.repeatLastN ?? 0) >= 0, 'must be an integer >= 0');
  check('seed', Number.isInteger(o.seed ?? 0), 'must be an integer');
}

export class Sampler {
  private readonly opts: Required<SamplingOptions>;
  private readonly random: () => number;

  constructor(options: SamplingOptions = {}) {
    validateSampling(options);
    // an option given as undefined means "the default", not "unset"
    const given = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
    this.opts = { ...DEFAULT_SAMPLING, ...given };
    this.random = mulberry32(this.opts.seed);
  }

  get greedy(): boolean {
    return this.opts.temperature === 0;
  }

  /** Picks the next token from logits; history is the ids so far (for the repetition penalty). */
  sample(logits: Float32Array, history: readonly number[] = []): number {
    const o = this.opts;
    const penalized = o.repeatPenalty !== 1 && o.repeatLastN > 0 ? this.applyRepeatPenalty(logits, history) : logits;
    if (o.temperature === 0) return argmax(penalized);

    // candidates sorted by logit, cut by top-k
    let ids = Array.from(penalized.keys());
    ids.sort((a, b) => penalized[b] - penalized[a]);
    if (o.topK > 0 && o.topK < ids.length) ids = ids.slice(0, o.topK);

    // probabilities at temperature 1 for the top-p / min-p cuts (llama.cpp applies temperature last)
    const probs = softmaxOf(ids.map((id) => penalized[id]));
    let keep = ids.length;
    if (o.topP < 1) {
      let mass = 0;
      for (let i = 0; i < ids.length; i++) {
        mass += probs[i];
        if (mass >= o.topP) {
          keep = i + 1;
          break;
        }
      }
    }
    if (o.minP > 0) {
      const floor = probs[0] * o.minP;
      let n = 1;
      while (n < keep && probs[n] >= floor) n++;
      keep = n;
    }
    ids = ids.slice(0, keep);

    const final = softmaxOf(ids.map((id) => penalized[id] / o.temperature));
    let r = this.random();
    for (let i = 0; i < ids.length; i++) {
      r -= final[i];
      if (r < 0) return ids[i];
    }
    return ids[ids.length - 1];
  }

  private applyRepeatPenalty(logits: Float32Array, history: readonly number[]): Float32Array {
    const out = Float32Array.from(logits);
    const seen = new Set(history.slice(-this.opts.repeatLastN));
    for (const id of seen) {
      if (id < 0 || id >= out.length) continue;
      out[id] = out[id] > 0 ? out[id] / this.opts.repeatPenalty : out[id] * this.opts.repeatPenalty;
    }
    return out;
  }
}

function softmaxOf(xs: number[]): number[] {
  let max = -Infinity;
  for (const x of xs) if (x > max) max = x; // no spread: a 150k vocabulary overflows the call stack
  const e = xs.map((x) => Math.exp(x - max));
  const sum = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / sum);
}
