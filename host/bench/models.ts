// Whole-model speed on the wasm engine: prefill tok/s (time to the first token) and decode tok/s,
// greedy, from fixed prompt token ids so llama.cpp can be fed exactly the same.
import { openModel } from '../engine/open.js';
import type { ActivationChoice } from '../model/block-formats.js';
import { argmax, mulberry32 } from '../engine/sampler.js';
import { speedResult, type SpeedResult } from './llamacpp.js';

/** Deterministic prompt ids: BOS then ordinary tokens drawn from the vocabulary's middle. */
export function benchPrompt(vocabSize: number, n: number, bos = 1, seed = 5): number[] {
  const r = mulberry32(seed);
  const lo = Math.min(300, vocabSize - 1);
  return [bos, ...Array.from({ length: n - 1 }, () => lo + Math.floor(r() * (vocabSize - lo)))];
}

/**
 * kvType: wisp's KV cache type (f32 by default, as `wisp run`; llama.cpp keeps its f16 default);
 * activations: the quantized matmuls' (default q8, ggml's: llama.cpp's math).
 */
export async function wasmSpeed(path: string, promptIds: number[], genTokens: number, threads: number, spinLimit?: number, kvType: 'f32' | 'f16' = 'f32', activations?: ActivationChoice): Promise<SpeedResult> {
  // WISP_REPACK=0: q4_0 and q4_K weights in ggml's layout and f16 on the exact kernels (the A/B
  // baseline of the load-time repacking: q4_0r8, q4_Kr4, f16f)
  const repack = process.env.WISP_REPACK !== '0';
  const m = await openModel(path, { engine: 'wasm', threads, contextSize: promptIds.length + genTokens + 1, spinLimit, repack, kvType, activations, log: () => {} });
  try {
    const model = m.model;
    const state = model.newState();
    const t0 = performance.now();
    let token = argmax(await model.prefill!(state, promptIds, 0));
    const tFirst = performance.now();
    let pos = promptIds.length;
    for (let i = 1; i < genTokens; i++) token = argmax(await model.forward(state, token, pos++));
    const tEnd = performance.now();
    model.releaseState!(state);
    return speedResult(promptIds.length, genTokens, t0, tFirst, tEnd);
  } finally {
    await m.close();
  }
}
