// The random-weight models wisp's outputs are compared with llama.cpp's on (test/llamacpp-fidelity.test.ts;
// scripts/golden/llamacpp_logits.mjs records llama.cpp's side): regenerated from their spec, never
// stored in the repo, written once into a cache folder (userCacheDir()/fidelity) because a 110M model
// takes seconds to write. A golden names the file's sha256; the test compares it before trusting a
// cached file (a stale or damaged one is written again).
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { mulberry32 } from '../../host/engine/sampler.js';
import { userCacheDir } from '../../host/model/resolve.js';
import { sha256File } from '../../host/model/sha256.js';
import { SYNTH_SHAPES, synthModel } from '../../host/model/synth.js';
import { parseTypeName } from '../../host/model/type-names.js';
import type { TokenizerVocab } from '../../host/model/tokenizer/index.js';
import { readVocabFile } from '../../host/model/vocab-file.js';
import { sharedModel, sharedTokenizer } from './paths.js';
import { writeSmallModel } from './small-models.js';

/** Positions of a teacher-forced comparison (BOS, then ids from teacherIds). */
export const TEACHER_STEPS = 200;
/** The prompt ids of a greedy comparison (BOS, then a few ids of the tok512 vocabulary). */
export const GREEDY_PROMPT = [1, 403, 407, 261, 378, 300, 420];
/** Greedy ids compared after the prompt. */
export const GREEDY_STEPS = 32;

/** BOS then n − 1 ids from a seeded generator, none of them a control token (ids 0..2). */
export function teacherIds(vocabSize: number, n: number, seed = 13): number[] {
  const r = mulberry32(seed);
  return [1, ...Array.from({ length: n - 1 }, () => 3 + Math.floor(r() * (vocabSize - 3)))];
}

export type FidelitySpec =
  | { kind: 'teacher'; type: string }
  | { kind: 'greedy'; arch: 'llama' | 'qwen2'; type: string; seed?: number };

export interface FidelityModel {
  path: string;
  /** How the file is made, as the goldens record it. */
  spec: Record<string, unknown>;
  sha256: string;
  vocabSize: number;
}

function describe(s: FidelitySpec): { name: string; spec: Record<string, unknown>; vocab: TokenizerVocab; write: (path: string) => void } {
  const type = parseTypeName(s.type);
  if (s.kind === 'teacher') {
    const vocab = readVocabFile(sharedTokenizer('llama2/tokenizer.bin'));
    const name = `synth-110m-${s.type}`;
    return {
      name,
      spec: { synth: { shape: '110m', type: s.type, seed: 1, name }, vocabulary: 'llama2/tokenizer.bin' },
      vocab,
      write: (path) => synthModel(path, { shape: SYNTH_SHAPES['110m'], vocab, type, seed: 1, name }),
    };
  }
  const vocab = readVocabFile(sharedModel('tok512.bin'));
  const seed = s.seed ?? 5;
  return {
    name: `small-${s.arch}-${s.type}-${seed}`,
    spec: { small: { arch: s.arch, type: s.type, seed, shape: 'SMALL_SHAPE (test/helpers/small-models.ts)' }, vocabulary: 'tok512.bin' },
    vocab,
    write: (path) => writeSmallModel(path, vocab, { arch: s.arch, type, seed }),
  };
}

/**
 * The model of a spec, written into the cache if it is not there or its sha256 is not `want` (the
 * golden's; without one, a cached file is trusted). Returns its path and actual sha256.
 */
export async function fidelityModel(s: FidelitySpec, want?: string): Promise<FidelityModel> {
  const { name, spec, vocab, write } = describe(s);
  const dir = join(userCacheDir(), 'fidelity');
  const path = join(dir, `${name}.gguf`);
  const make = () => {
    mkdirSync(dir, { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    try {
      write(tmp);
      renameSync(tmp, path);
    } finally {
      rmSync(tmp, { force: true });
    }
  };
  if (!existsSync(path)) make();
  let sha256 = await sha256File(path);
  if (want !== undefined && sha256 !== want) {
    make();
    sha256 = await sha256File(path);
  }
  return { path, spec, sha256, vocabSize: vocab.tokens.length };
}
