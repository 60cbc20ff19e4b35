// One sequence's decoding state outside the forward pass: sampling, the streaming text decoder,
// stop strings and the finish rules. The single-stream loop (generate.ts) and the batching
// scheduler (scheduler.ts) both drive it, so a request streams the same text either way.
import type { Tokenizer } from '../model/tokenizer/index.js';
import { Sampler, type SamplingOptions } from './sampler.js';
import { StopMatcher } from './stop-matcher.js';

export type FinishReason = 'stop' | 'length' | 'cancelled';

export interface SequenceOptions extends SamplingOptions {
  maxTokens: number;
  /** Generation ends when the text contains one of these; the stop string is not returned. */
  stop?: string[];
  /** Ignore end-of-generation tokens (for benchmarks and golden comparisons). */
  ignoreEos?: boolean;
}

export interface SequenceStep {
  /** The sampled token, when one was accepted into the output. */
  token?: number;
  /** Text that became final with this step (may be empty while a character or stop string is pending). */
  text: string;
  /** Set when the sequence is over: no forward pass is needed for `token`. */
  finish?: FinishReason;
  /** When the sequence goes on: the position to run `token` at. */
  pos?: number;
}

export class PromptTooLongError extends Error {
  readonly code = 'prompt_too_long';
  constructor(promptTokens: number, contextSize: number) {
    super(`prompt is ${promptTokens} tokens; the context holds ${contextSize} (at least one token must be left to generate)`);
  }
}

/** Checks a prompt against a context before any state is taken for it. */
export function checkPrompt(promptIds: readonly number[], contextSize: number, maxTokens: number): void {
  if (promptIds.length === 0) throw new RangeError('prompt has no tokens');
  if (promptIds.length >= contextSize) throw new PromptTooLongError(promptIds.length, contextSize);
  if (!Number.isInteger(maxTokens) || maxTokens < 0) throw new RangeError(`maxTokens must be an integer >= 0, got ${maxTokens}`);
}

export class SequenceDecoder {
  readonly ids: number[] = [];
  text = '';
  finishReason: FinishReason | undefined;
  /** The position the next accepted token will be run at. */
  pos: number;
  private readonly sampler: Sampler;
  private readonly history: number[];
  private readonly decoder;
  private readonly stops: StopMatcher;

  constructor(
    private readonly tokenizer: Tokenizer,
    readonly promptIds: readonly number[],
    private readonly opts: SequenceOptions,
    private readonly contextSize: number,
  ) {
    checkPrompt(promptIds, contextSize, opts.maxTokens);
    this.sampler = new Sampler(opts);
    this.history = [...promptIds];
    this.decoder = tokenizer.streamDecoder();
    this.stops = new StopMatcher(opts.stop ?? []);
    this.pos = promptIds.length;
  }

  get done(): boolean {
    return this.finishReason !== undefined;
  }

  /** Takes the logits of the last position; samples, decides whether the sequence goes on. */
  next(logits: Float32Array): SequenceStep {
    if (this.done) throw new Error('the sequence is finished');
    if (this.ids.length >= this.opts.maxTokens) return this.end('length');
    const id = this.sampler.sample(logits, this.history);
    if (!this.opts.ignoreEos && this.tokenizer.isEog(id)) return this.end('stop');
    this.ids.push(id);
    this.history.push(id);
    const { emit, stopped } = this.stops.push(this.decoder.push(id));
    this.text += emit;
    if (stopped) return { token: id, ...this.end('stop', emit) };
    if (this.ids.length >= this.opts.maxTokens || this.pos >= this.contextSize) return { token: id, ...this.end('length', emit) };
    return { token: id, text: emit, pos: this.pos++ };
  }

  /** Ends the sequence from outside (cancel); returns the text still held back. */
  cancel(): string {
    if (this.done) return '';
    return this.end('cancelled').text;
  }

  private end(reason: FinishReason, emitted = ''): SequenceStep {
    this.finishReason = reason;
    const rest = this.stops.flush(this.decoder.flush());
    this.text += rest;
    return { text: emitted + rest, finish: reason };
  }
}
