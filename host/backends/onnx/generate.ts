// The generation loop for models whose forward pass is asynchronous (ONNX Runtime's session.run):
// the same steps as host/engine/generate.ts (prefill, sample, stream decode, stop strings,
// timings), awaiting each forward. The engine's loop is synchronous today; see docs/ARCHITECTURE.md.
import { PromptTooLongError, StopMatcher, type FinishReason, type GenerateOptions, type GenerateResult, type GenerateStep } from '../../engine/generate.js';
import { Sampler } from '../../engine/sampler.js';
import type { Tokenizer } from '../../model/tokenizer/index.js';

/** TokenModel (host/engine/generate.ts) with asynchronous forward and prefill. */
export interface AsyncTokenModel<S = unknown> {
  readonly config: { contextLength: number; vocabSize: number };
  readonly contextSize?: number;
  newState(maxSeq?: number): S;
  forward(state: S, token: number, pos: number): Promise<Float32Array>;
  prefill?(state: S, tokens: readonly number[], pos0: number): Promise<Float32Array>;
  releaseState?(state: S): void;
}

export async function* generateAsync<S>(
  model: AsyncTokenModel<S>,
  tokenizer: Tokenizer,
  promptIds: readonly number[],
  opts: GenerateOptions,
): AsyncGenerator<GenerateStep, GenerateResult> {
  const limit = Math.min(model.contextSize ?? model.config.contextLength, model.config.contextLength);
  const contextSize = Math.min(opts.contextSize ?? limit, limit);
  if (promptIds.length === 0) throw new RangeError('prompt has no tokens');
  if (promptIds.length >= contextSize) throw new PromptTooLongError(promptIds.length, contextSize);
  if (!Number.isInteger(opts.maxTokens) || opts.maxTokens < 0) throw new RangeError(`maxTokens must be an integer >= 0, got ${opts.maxTokens}`);

  const sampler = new Sampler(opts);
  const state = model.newState(contextSize);
  try {
    const history = [...promptIds];
    const decoder = tokenizer.streamDecoder();
    const stops = new StopMatcher(opts.stop ?? []);
    const ids: number[] = [];
    let text = '';
    let finishReason: FinishReason = 'length';

    const t0 = performance.now();
    let logits: Float32Array;
    if (model.prefill) {
      logits = await model.prefill(state, promptIds, 0);
    } else {
      logits = await model.forward(state, promptIds[0], 0);
      for (let pos = 1; pos < promptIds.length; pos++) logits = await model.forward(state, promptIds[pos], pos);
    }
    const t1 = performance.now();

    let pos = promptIds.length;
    let decodeMs = 0; // sampling and forward passes only, not the consumer's time between yields
    let forwards = 0;
    let tStep = performance.now();
    while (ids.length < opts.maxTokens) {
      if (opts.signal?.aborted) {
        finishReason = 'cancelled';
        break;
      }
      const id = sampler.sample(logits, history);
      if (!opts.ignoreEos && tokenizer.isEog(id)) {
        finishReason = 'stop';
        break;
      }
      ids.push(id);
      history.push(id);
      const { emit, stopped } = stops.push(decoder.push(id));
      text += emit;
      decodeMs += performance.now() - tStep;
      yield { id, text: emit };
      tStep = performance.now();
      if (stopped) {
        finishReason = 'stop';
        break;
      }
      if (ids.length >= opts.maxTokens) break;
      if (pos >= contextSize) break;
      logits = await model.forward(state, id, pos++);
      forwards++;
    }
    decodeMs += performance.now() - tStep;
    const rest = stops.flush(decoder.flush());
    if (rest) {
      text += rest;
      yield { id: -1, text: rest };
    }
    const prefillMs = t1 - t0;
    return {
      ids,
      text,
      finishReason,
      usage: { promptTokens: promptIds.length, completionTokens: ids.length },
      timings: {
        prefillMs,
        decodeMs,
        prefillTokensPerSecond: prefillMs > 0 ? (promptIds.length * 1000) / prefillMs : 0,
        decodeTokensPerSecond: decodeMs > 0 && forwards > 0 ? (forwards * 1000) / decodeMs : 0,
      },
    };
  } finally {
    model.releaseState?.(state);
  }
}

/** Runs generateAsync to the end and returns its result. */
export async function runToEnd<S>(model: AsyncTokenModel<S>, tokenizer: Tokenizer, promptIds: readonly number[], opts: GenerateOptions): Promise<GenerateResult> {
  const run = generateAsync(model, tokenizer, promptIds, opts);
  let r = await run.next();
  while (!r.done) r = await run.next();
  return r.value;
}
