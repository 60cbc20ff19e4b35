// Top-1 agreement with a reference engine that runs once: referenceRun takes the reference's
// greedy continuation of a prompt and records its argmax (and top-1 minus top-2 margin) at every
// step in the same pass; teacherForced then feeds the same ids to another engine and compares its
// argmax per step. The same measure as agreement() in ./agreement.ts (both engines read the same
// tokens), without running the reference a second time over the ids it has just produced.
import type { TokenModel } from '../../host/engine/generate.js';
import type { ReferenceModel } from '../../host/engine/reference.js';
import { argmax } from '../../host/engine/sampler.js';

export interface ReferenceRun {
  /** The prompt then the reference's greedy choices: the token both engines read at each position. */
  ids: number[];
  /** The reference's argmax after reading ids[0..pos]. */
  top: number[];
  /** The reference's top-1 minus top-2 logit at that step (0 for an exact tie). */
  margin: number[];
}

function topMargin(logits: Float32Array, top: number): number {
  let second = -Infinity;
  for (let i = 0; i < logits.length; i++) if (i !== top && logits[i] > second) second = logits[i];
  return logits[top] - second;
}

export function referenceRun(ref: ReferenceModel, prompt: readonly number[], steps: number): ReferenceRun {
  if (prompt.length === 0 || prompt.length > steps) throw new RangeError(`prompt of ${prompt.length} tokens for ${steps} steps`);
  const state = ref.newState(steps);
  const ids = [...prompt];
  const top: number[] = [];
  const margin: number[] = [];
  for (let pos = 0; pos < steps; pos++) {
    const logits = ref.forward(state, ids[pos], pos);
    const t = argmax(logits);
    top.push(t);
    margin.push(topMargin(logits, t));
    if (pos === ids.length - 1 && ids.length < steps) ids.push(t);
  }
  return { ids, top, margin };
}

export interface Miss {
  pos: number;
  reference: number;
  got: number;
  /** the reference's top-1 minus top-2 logit at this step */
  margin: number;
}

export interface Agreement {
  steps: number;
  agree: number;
  share: number;
  /** every step whose argmax differs, near-ties included */
  misses: Miss[];
}

/** Feeds run.ids to the model from position 0 and counts the steps whose argmax is the reference's. */
export async function teacherForced(model: TokenModel<unknown>, run: ReferenceRun): Promise<Agreement> {
  const state = model.newState(run.ids.length);
  const misses: Miss[] = [];
  try {
    for (let pos = 0; pos < run.ids.length; pos++) {
      const got = argmax(await model.forward(state, run.ids[pos], pos));
      if (got !== run.top[pos]) misses.push({ pos, reference: run.top[pos], got, margin: run.margin[pos] });
    }
  } finally {
    model.releaseState?.(state);
  }
  const steps = run.ids.length;
  return { steps, agree: steps - misses.length, share: (steps - misses.length) / steps, misses };
}
