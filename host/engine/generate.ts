// The generation loop: prompt ids -> prefill -> sample/decode until EOS, a stop string,
// max_tokens or the end of the context. Yields each piece of text as soon as it is safe to show.
import type { Tokenizer } from '../model/tokenizer/index.js';
import { Sampler, type SamplingOptions } from './sampler.js';

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
}

export interface GenerateOptions extends SamplingOptions {
  maxTokens: number;
  /** Generation ends when the text contains one of these; the stop string is not returned. */
  stop?: string[];
  /** Ignore end-of-generation tokens (for benchmarks and golden comparisons). */
  ignoreEos?: boolean;
  /** Context size for this sequence (default: the model's). */
  contextSize?: number;
  /** Checked at every step boundary. */
  signal?: AbortSignal;
}

export type FinishReason = 'stop' | 'length' | 'cancelled';

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

export class PromptTooLongError extends Error {
  readonly code = 'prompt_too_long';
  constructor(promptTokens: number, contextSize: number) {
    super(`prompt is ${promptTokens} tokens; the context holds ${contextSize} (at least one token must be left to generate)`);
  }
}

export function* generate<S>(
  model: TokenModel<S>,
  tokenizer: Tokenizer,
  promptIds: readonly number[],
  opts: GenerateOptions,
): Generator<GenerateStep, GenerateResult> {
  const limit = Math.min(model.contextSize ?? model.config.contextLength, model.config.contextLength);
  const contextSize = Math.min(opts.contextSize ?? limit, limit);
  if (promptIds.length === 0) throw new RangeError('prompt has no tokens');
  if (promptIds.length >= contextSize) throw new PromptTooLongError(promptIds.length, contextSize);
  if (!Number.isInteger(opts.maxTokens) || opts.maxTokens < 0) throw new RangeError(`maxTokens must be an integer >= 0, got ${opts.maxTokens}`);

  const sampler = new Sampler(opts);
  const state = model.newState(contextSize);
  try {
    return yield* decode(model, state, tokenizer, sampler, promptIds, contextSize, opts);
  } finally {
    model.releaseState?.(state);
  }
}

function* decode<S>(
  model: TokenModel<S>,
  state: S,
  tokenizer: Tokenizer,
  sampler: Sampler,
  promptIds: readonly number[],
  contextSize: number,
  opts: GenerateOptions,
): Generator<GenerateStep, GenerateResult> {
  const history = [...promptIds];
  const decoder = tokenizer.streamDecoder();
  const stops = new StopMatcher(opts.stop ?? []);
  const ids: number[] = [];
  let text = '';
  let finishReason: FinishReason = 'length';

  const t0 = performance.now();
  let logits: Float32Array;
  if (model.prefill) {
    logits = model.prefill(state, promptIds, 0);
  } else {
    logits = model.forward(state, promptIds[0], 0);
    for (let pos = 1; pos < promptIds.length; pos++) logits = model.forward(state, promptIds[pos], pos);
  }
  const t1 = performance.now();

  let pos = promptIds.length;
  // decode time counts sampling and forward passes only, not the consumer's time between yields
  let decodeMs = 0;
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
    if (pos >= contextSize) {
      finishReason = 'length';
      break;
    }
    logits = model.forward(state, id, pos++);
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
}

/**
 * Holds back text that could still become a stop string, so a stop string never reaches the
 * client, and cuts the text where the first stop string begins.
 */
export class StopMatcher {
  private pending = '';
  stopped = false;
  constructor(private readonly stops: readonly string[]) {}

  push(piece: string): { emit: string; stopped: boolean } {
    if (this.stopped) return { emit: '', stopped: true };
    this.pending += piece;
    if (this.stops.length === 0) {
      const emit = this.pending;
      this.pending = '';
      return { emit, stopped: false };
    }
    let cut = -1;
    for (const s of this.stops) {
      const at = s ? this.pending.indexOf(s) : -1;
      if (at >= 0 && (cut < 0 || at < cut)) cut = at;
    }
    if (cut >= 0) {
      const emit = this.pending.slice(0, cut);
      this.pending = '';
      this.stopped = true;
      return { emit, stopped: true };
    }
    // keep the longest suffix that is a prefix of some stop string
    let hold = 0;
    for (const s of this.stops) {
      for (let n = Math.min(s.length - 1, this.pending.length); n > hold; n--) {
        if (this.pending.endsWith(s.slice(0, n))) {
          hold = n;
          break;
        }
      }
    }
    const emit = this.pending.slice(0, this.pending.length - hold);
    this.pending = this.pending.slice(this.pending.length - hold);
    return { emit, stopped: false };
  }

  flush(last: string): string {
    if (this.stopped) return '';
    const { emit, stopped } = this.push(last);
    if (stopped) return emit;
    const rest = this.pending;
    this.pending = '';
    return emit + rest;
  }
}
