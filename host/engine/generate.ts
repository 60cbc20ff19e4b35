// The generation loop: prompt ids -> prefill -> sample/decode until EOS, a stop string,
// max_tokens or the end of the context. Yields each piece of text as soon as it is safe to show.
import type { Tokenizer } from '../model/tokenizer/index.js';
import { SequenceDecoder, type FinishReason, type SequenceOptions } from './sequence.js';

export { PromptTooLongError, type FinishReason } from './sequence.js';
export { StopMatcher } from './stop-matcher.js';

/** What the loop needs from an engine: one forward step per token over a per-sequence state. */
export interface TokenModel<S = unknown> {
  readonly config: { contextLength: number; vocabSize: number };
  /** The most positions one state can hold, when less than config.contextLength (memory planned at load). */
  readonly contextSize?: number;
  newState(maxSeq?: number): S;
  forward(state: S, token: number, pos: number): Float32Array;
  /** Many prompt tokens at once (batched matmuls); returns the last token's logits. */
  prefill?(state: S, tokens: readonly number[], pos0: number): Float32Array;
  /** Gives a state's resources (a KV cache slot) back. */
  releaseState?(state: S): void;
  /** One decode step for several sequences, sharing the weight reads; returns each one's logits (copies). */
  decodeBatch?(states: readonly S[], tokens: readonly number[], positions: readonly number[]): Float32Array[];
  /** The most sequences one decodeBatch call takes. */
  readonly maxBatch?: number;
  /** The most states that can be held at once (KV cache slots). */
  readonly maxSequences?: number;
}

type MaybePromise<T> = T | Promise<T>;

/**
 * A model whose forward pass may be asynchronous (ONNX Runtime's session.run, a routed engine).
 * Every TokenModel is one; the scheduler and generateAsync take this.
 */
export interface AsyncTokenModel<S = unknown> {
  readonly config: { contextLength: number; vocabSize: number };
  readonly contextSize?: number;
  newState(maxSeq?: number): S;
  forward(state: S, token: number, pos: number): MaybePromise<Float32Array>;
  prefill?(state: S, tokens: readonly number[], pos0: number): MaybePromise<Float32Array>;
  releaseState?(state: S): void;
  decodeBatch?(states: readonly S[], tokens: readonly number[], positions: readonly number[]): MaybePromise<Float32Array[]>;
  readonly maxBatch?: number;
  readonly maxSequences?: number;
}

export interface GenerateOptions extends SequenceOptions {
  /** Context size for this sequence (default: the model's). */
  contextSize?: number;
  /** Checked at every step boundary. */
  signal?: AbortSignal;
}

export interface GenerateResult {
  ids: number[];
  text: string;
  finishReason: FinishReason;
  usage: { promptTokens: number; completionTokens: number };
  timings: { prefillMs: number; decodeMs: number; prefillTokensPerSecond: number; decodeTokensPerSecond: number };
}

export interface GenerateStep {
  id: number;
  /** Text that became final with this token (may be empty while a character or a stop string is pending). */
  text: string;
}

/** The context a sequence of this model gets: the option, capped by what the model was loaded for. */
export function contextSizeOf(model: AsyncTokenModel<unknown>, wanted?: number): number {
  const limit = Math.min(model.contextSize ?? model.config.contextLength, model.config.contextLength);
  return Math.min(wanted ?? limit, limit);
}

export function* generate<S>(
  model: TokenModel<S>,
  tokenizer: Tokenizer,
  promptIds: readonly number[],
  opts: GenerateOptions,
): Generator<GenerateStep, GenerateResult> {
  const contextSize = contextSizeOf(model as AsyncTokenModel<unknown>, opts.contextSize);
  const seq = new SequenceDecoder(tokenizer, promptIds, opts, contextSize);
  const state = model.newState(contextSize);
  try {
    return yield* decode(model, state, seq, opts.signal);
  } finally {
    model.releaseState?.(state);
  }
}

function* decode<S>(model: TokenModel<S>, state: S, seq: SequenceDecoder, signal?: AbortSignal): Generator<GenerateStep, GenerateResult> {
  const promptIds = seq.promptIds;
  const t0 = performance.now();
  let logits: Float32Array;
  if (model.prefill) {
    logits = model.prefill(state, promptIds, 0);
  } else {
    logits = model.forward(state, promptIds[0], 0);
    for (let pos = 1; pos < promptIds.length; pos++) logits = model.forward(state, promptIds[pos], pos);
  }
  const t1 = performance.now();

  // decode time counts sampling and forward passes only, not the consumer's time between yields
  let decodeMs = 0;
  let forwards = 0;
  let tStep = performance.now();
  for (;;) {
    if (signal?.aborted) {
      const rest = seq.cancel();
      if (rest) yield { id: -1, text: rest };
      break;
    }
    const step = seq.next(logits);
    decodeMs += performance.now() - tStep;
    if (step.token !== undefined) yield { id: step.token, text: step.text };
    else if (step.text) yield { id: -1, text: step.text };
    tStep = performance.now();
    if (step.finish) break;
    logits = model.forward(state, step.token!, step.pos!);
    forwards++;
  }
  decodeMs += performance.now() - tStep;
  const prefillMs = t1 - t0;
  return {
    ids: seq.ids,
    text: seq.text,
    finishReason: seq.finishReason!,
    usage: { promptTokens: promptIds.length, completionTokens: seq.ids.length },
    timings: {
      prefillMs,
      decodeMs,
      prefillTokensPerSecond: prefillMs > 0 ? (promptIds.length * 1000) / prefillMs : 0,
      decodeTokensPerSecond: decodeMs > 0 && forwards > 0 ? (forwards * 1000) / decodeMs : 0,
    },
  };
}

/** generate() for a model whose forward pass may be asynchronous: the same steps, awaited. */
export async function* generateAsync<S>(
  model: AsyncTokenModel<S>,
  tokenizer: Tokenizer,
  promptIds: readonly number[],
  opts: GenerateOptions,
): AsyncGenerator<GenerateStep, GenerateResult> {
  const contextSize = contextSizeOf(model as AsyncTokenModel<unknown>, opts.contextSize);
  const seq = new SequenceDecoder(tokenizer, promptIds, opts, contextSize);
  const state = model.newState(contextSize);
  try {
    return yield* decodeAsync(model, state, seq, opts.signal);
  } finally {
    model.releaseState?.(state);
  }
}

/** Runs a prompt from position 0 (prefill when the model has it); the last token's logits. */
export async function runPromptAsync<S>(model: AsyncTokenModel<S>, state: S, ids: readonly number[]): Promise<Float32Array> {
  if (model.prefill) return model.prefill(state, ids, 0);
  let logits = await model.forward(state, ids[0], 0);
  for (let pos = 1; pos < ids.length; pos++) logits = await model.forward(state, ids[pos], pos);
  return logits;
}

// The same loop as decode() above with each forward awaited (a sync generator cannot await).
async function* decodeAsync<S>(model: AsyncTokenModel<S>, state: S, seq: SequenceDecoder, signal?: AbortSignal): AsyncGenerator<GenerateStep, GenerateResult> {
  const promptIds = seq.promptIds;
  const t0 = performance.now();
  let logits = await runPromptAsync(model, state, promptIds);
  const t1 = performance.now();

  // decode time counts sampling and forward passes only, not the consumer's time between yields
  let decodeMs = 0;
  let forwards = 0;
  let tStep = performance.now();
  for (;;) {
    if (signal?.aborted) {
      const rest = seq.cancel();
      if (rest) yield { id: -1, text: rest };
      break;
    }
    const step = seq.next(logits);
    decodeMs += performance.now() - tStep;
    if (step.token !== undefined) yield { id: step.token, text: step.text };
    else if (step.text) yield { id: -1, text: step.text };
    tStep = performance.now();
    if (step.finish) break;
    logits = await model.forward(state, step.token!, step.pos!);
    forwards++;
  }
  decodeMs += performance.now() - tStep;
  const prefillMs = t1 - t0;
  return {
    ids: seq.ids,
    text: seq.text,
    finishReason: seq.finishReason!,
    usage: { promptTokens: promptIds.length, completionTokens: seq.ids.length },
    timings: {
      prefillMs,
      decodeMs,
      prefillTokensPerSecond: prefillMs > 0 ? (promptIds.length * 1000) / prefillMs : 0,
      decodeTokensPerSecond: decodeMs > 0 && forwards > 0 ? (forwards * 1000) / decodeMs : 0,
    },
  };
}

/** Runs generateAsync to the end and returns its result. */
export async function runToEnd<S>(model: AsyncTokenModel<S>, tokenizer: Tokenizer, promptIds: readonly number[], opts: GenerateOptions): Promise<GenerateResult> {
  const run = generateAsync(model, tokenizer, promptIds, opts);
  let r = await run.next();
  while (!r.done) r = await run.next();
  return r.value;
}
