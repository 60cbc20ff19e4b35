// The generation loop: prompt ids -> prefill -> sample/decode until EOS, a stop string,
// max_tokens or the end of the context. Yields each piece of text as soon as it is safe to show.
import type { Tokenizer } from '../model/tokenizer/index.js';
import { SequenceDecoder, type FinishReason, type SequenceOptions } from './sequence.js';

export { PromptTooLongError, type FinishReason } from './sequence.js';
export { StopMatcher } from './stop-matcher.js';

type MaybePromise<T> = T | Promise<T>;

/**
 * What the loop and the scheduler need from an engine: one forward step per token over a
 * per-sequence state. Steps may return promises (the forward pass over ONNX Runtime, any optimized
 * engine) or values (the reference engine); every caller awaits them.
 */
export interface TokenModel<S = unknown> {
  readonly config: { contextLength: number; vocabSize: number };
  /** The most positions one state can hold, when less than config.contextLength (memory planned at load). */
  readonly contextSize?: number;
  newState(maxSeq?: number): S;
  forward(state: S, token: number, pos: number): MaybePromise<Float32Array>;
  /** Many prompt tokens at once (batched matmuls); returns the last token's logits. */
  prefill?(state: S, tokens: readonly number[], pos0: number): MaybePromise<Float32Array>;
  /** Gives a state's resources (a KV cache slot) back. */
  releaseState?(state: S): void;
  /** One decode step for several sequences, sharing the weight reads; returns each one's logits (copies). */
  decodeBatch?(states: readonly S[], tokens: readonly number[], positions: readonly number[]): MaybePromise<Float32Array[]>;
  /** The most sequences one decodeBatch call takes. */
  readonly maxBatch?: number;
  /** The most states that can be held at once (KV cache slots). */
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
export function contextSizeOf(model: TokenModel<unknown>, wanted?: number): number {
  const limit = Math.min(model.contextSize ?? model.config.contextLength, model.config.contextLength);
  return Math.min(wanted ?? limit, limit);
}

/** Generates from prompt ids: prefill, then sample and decode until a finish; yields text as soon as it is final. */
export async function* generate<S>(
  model: TokenModel<S>,
  tokenizer: Tokenizer,
  promptIds: readonly number[],
  opts: GenerateOptions,
): AsyncGenerator<GenerateStep, GenerateResult> {
  const contextSize = contextSizeOf(model as TokenModel<unknown>, opts.contextSize);
  const seq = new SequenceDecoder(tokenizer, promptIds, opts, contextSize);
  const state = model.newState(contextSize);
  try {
    return yield* decode(model, state, seq, opts.signal);
  } finally {
    model.releaseState?.(state);
  }
}

/** Runs a prompt from position 0 (prefill when the model has it); the last token's logits. */
export async function runPrompt<S>(model: TokenModel<S>, state: S, ids: readonly number[]): Promise<Float32Array> {
  if (model.prefill) return model.prefill(state, ids, 0);
  let logits = await model.forward(state, ids[0], 0);
  for (let pos = 1; pos < ids.length; pos++) logits = await model.forward(state, ids[pos], pos);
  return logits;
}

async function* decode<S>(model: TokenModel<S>, state: S, seq: SequenceDecoder, signal?: AbortSignal): AsyncGenerator<GenerateStep, GenerateResult> {
  const promptIds = seq.promptIds;
  const t0 = performance.now();
  let logits = await runPrompt(model, state, promptIds);
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

/** Runs generate to the end and returns its result. */
export async function runToEnd<S>(model: TokenModel<S>, tokenizer: Tokenizer, promptIds: readonly number[], opts: GenerateOptions): Promise<GenerateResult> {
  const run = generate(model, tokenizer, promptIds, opts);
  let r = await run.next();
  while (!r.done) r = await run.next();
  return r.value;
}
