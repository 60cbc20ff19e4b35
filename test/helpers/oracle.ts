// The llama.cpp oracle of the architectures (issue 16): the cases (a `wisp synth` shape, a weight type,
// a seed, a vocabulary), the token ids both engines are fed, wisp's side of the comparison, and the
// golden files scripts/oracle/arch-matrix.mjs records from llama.cpp (test/golden/oracle/). The test
// suite (test/arch-oracle.test.ts) rebuilds each file from its recipe, checks its sha256 against the
// golden's, and holds wisp to llama.cpp's ids without llama.cpp.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TokenModel } from '../../host/engine/generate.js';
import { argmax } from '../../host/engine/sampler.js';
import { traitsOf } from '../../host/model/ggml-types.js';
import { GGUFHeaderView } from '../../host/model/gguf/index.js';
import { quantizeModel } from '../../host/model/quantize-model.js';
import { SYNTH_SHAPES, synthModel } from '../../host/model/synth.js';
import { parseQuantizeTarget, WRITABLE_TYPES } from '../../host/model/type-names.js';
import { TOKEN_TYPE, type TokenizerVocab } from '../../host/model/tokenizer/index.js';
import { ROOT } from './paths.js';

export const ORACLE_GOLDEN_DIR = join(ROOT, 'test', 'golden', 'oracle');

/** Positions per sequence both engines run with: past tiny-phi's 32-position original context (its long RoPE factors), tiny-gemma3's 16-position window, tiny-llama3's and YaRN's 64. */
export const ORACLE_CONTEXT = 256;
export const PROMPT_TOKENS = 8;
export const GREEDY_TOKENS = 32;
export const FORCED_TOKENS = 100;

/** One file of the matrix: `wisp synth --shape shape --type type --seed seed` over a vocabulary. */
export interface OracleCase {
  shape: string;
  type: string;
  seed: number;
}

export function caseName(c: OracleCase): string {
  return `${c.shape}-${c.type}`;
}

/** wisp cannot write the case's type yet (a type or mix of issue 16 item 2): the matrix shows "not yet". */
export class NotYetError extends Error {}

/** A case's type is one of llama.cpp's mixes (several types in one file) rather than one type. */
const isMix = (type: string): boolean => !(type in WRITABLE_TYPES);

/** How a case's file is made, as commands. */
export function oracleRecipe(c: OracleCase): string {
  return isMix(c.type)
    ? `\`wisp synth --shape ${c.shape} --type f32 --seed ${c.seed}\` re-encoded by \`wisp quantize --type ${c.type}\``
    : `\`wisp synth --shape ${c.shape} --type ${c.type} --seed ${c.seed}\``;
}

/**
 * Writes a case's file: `wisp synth` in the type; for one of llama.cpp's mixes (q4_k_m, …) the f32
 * file re-encoded by `wisp quantize`'s per-tensor rules. nLayers overrides the shape's layer count.
 */
export function writeOracleFile(path: string, c: OracleCase, vocab: TokenizerVocab, nLayers?: number): void {
  const { describe: _d, vocabPackage: _v, ...shape } = SYNTH_SHAPES[c.shape];
  if (nLayers !== undefined) shape.nLayers = nLayers;
  let target: ReturnType<typeof parseQuantizeTarget>;
  try {
    target = parseQuantizeTarget(c.type);
  } catch (err) {
    throw new NotYetError((err as Error).message);
  }
  const single = !isMix(c.type);
  const synthPath = single ? path : `${path}.f32.tmp`;
  synthModel(synthPath, { shape, vocab, type: single ? WRITABLE_TYPES[c.type] : WRITABLE_TYPES.f32, seed: c.seed, name: `synth-${c.shape}-${single ? c.type : 'f32'}` });
  if (single) return;
  try {
    quantizeModel(synthPath, path, target);
  } finally {
    rmSync(synthPath, { force: true });
  }
}

/** The types of a file's matrices, by ggml name (a mix has several). */
export function matrixTypes(path: string): string[] {
  const names = GGUFHeaderView.read(path).tensors.filter((t) => t.dims.length === 2).map((t) => traitsOf(t.type).name);
  return [...new Set(names)].sort();
}

/** What llama.cpp gave on one file (a golden file holds one). */
export interface OracleGolden {
  note: string;
  case: OracleCase;
  /** The vocabulary file the recipe used (a path relative to the shared test data) and its sha256. */
  vocab: { file: string; sha256: string };
  /** The synthesized file; types: its matrices' (recorded for llama.cpp's mixes, which hold several). */
  file: { sha256: string; bytes: number; types?: string[] };
  contextSize: number;
  llamaCpp: { nodeLlamaCpp: string; release: string; threads: number; kvCache: string; flashAttention: boolean };
  prompt: number[];
  /** llama.cpp's greedy continuation of the prompt. */
  greedy: number[];
  /** Fed after the prompt, one at a time; top1[i] is llama.cpp's argmax after prompt + forced[0..i]. */
  forced: number[];
  top1: number[];
  /** llama.cpp's top-1 minus top-2 logit at each forced step (how near a tie it was). */
  margin: number[];
}

export function readOracleGoldens(): OracleGolden[] {
  if (!existsSync(ORACLE_GOLDEN_DIR)) return [];
  return readdirSync(ORACLE_GOLDEN_DIR)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(ORACLE_GOLDEN_DIR, f), 'utf8')) as OracleGolden);
}

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** A deterministic stream of ordinary tokens (no control, byte or unused ones), so no engine treats a fed id specially. */
export function oracleIds(vocab: TokenizerVocab, n: number, seed: number): number[] {
  const normal: number[] = [];
  for (let i = 0; i < vocab.tokens.length; i++) if ((vocab.tokenTypes?.[i] ?? TOKEN_TYPE.NORMAL) === TOKEN_TYPE.NORMAL) normal.push(i);
  let s = seed >>> 0 || 1;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return normal[(s >>> 8) % normal.length];
  });
}

/** The prompt (BOS when the vocab has one, then ordinary tokens) and the forced tokens of a case. */
export function oracleInputs(vocab: TokenizerVocab, seed: number): { prompt: number[]; forced: number[] } {
  const body = oracleIds(vocab, PROMPT_TOKENS + FORCED_TOKENS, 7919 * seed + 17);
  const bos = vocab.bosId !== undefined && vocab.bosId >= 0 ? [vocab.bosId] : [];
  const prompt = [...bos, ...body.slice(0, PROMPT_TOKENS - bos.length)];
  return { prompt, forced: body.slice(PROMPT_TOKENS, PROMPT_TOKENS + FORCED_TOKENS) };
}

/** An engine's side: the greedy continuation (prompt through prefill), and its argmax after each forced token (one decode step each). */
export async function wispRun<S>(model: TokenModel<S>, prompt: readonly number[], forced: readonly number[], greedyTokens: number): Promise<{ greedy: number[]; top1: number[] }> {
  const start = async (): Promise<{ state: S; logits: Float32Array }> => {
    const state = model.newState(ORACLE_CONTEXT);
    return { state, logits: model.prefill ? await model.prefill(state, prompt, 0) : await lastOf(model, state, prompt) };
  };
  const g = await start();
  const greedy: number[] = [];
  let logits = g.logits;
  for (let i = 0; i < greedyTokens; i++) {
    greedy.push(argmax(logits));
    if (i + 1 < greedyTokens) logits = await model.forward(g.state, greedy[i], prompt.length + i);
  }
  model.releaseState?.(g.state);
  const f = await start();
  const top1: number[] = [];
  for (let i = 0; i < forced.length; i++) top1.push(argmax(await model.forward(f.state, forced[i], prompt.length + i)));
  model.releaseState?.(f.state);
  return { greedy, top1 };
}

async function lastOf<S>(model: TokenModel<S>, state: S, ids: readonly number[]): Promise<Float32Array> {
  let logits: Float32Array | undefined;
  for (let i = 0; i < ids.length; i++) logits = await model.forward(state, ids[i], i);
  return Float32Array.from(logits!);
}

/** How many of wisp's forced-step argmaxes equal llama.cpp's, and the steps that differ (with llama.cpp's margin there). */
export function agreement(golden: OracleGolden, top1: readonly number[]): { agree: number; steps: number; misses: Array<{ step: number; want: number; got: number; margin: number }> } {
  const misses = golden.top1.flatMap((want, step) => (top1[step] === want ? [] : [{ step, want, got: top1[step], margin: golden.margin[step] }]));
  return { agree: golden.top1.length - misses.length, steps: golden.top1.length, misses };
}
