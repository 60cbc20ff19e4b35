// The wasm engine against llama.cpp's own outputs (goldens recorded by scripts/golden/llamacpp_logits.mjs
// with node-llama-cpp 3.22.1, 1 thread, F32 KV cache, no flash attention), on random-weight models
// regenerated from their spec (test/helpers/fidelity-models.ts, cached; the golden's sha256 checked),
// with the default activations (ggml's 8-bit ones, `--activations q8`):
//  - greedy: on the small dim-256 llama and qwen2 models of each type in GREEDY_TYPES, the 32 greedy
//    ids after the prompt are llama.cpp's;
//  - teacher-forced on the 110M-shaped model of each type in TEACHER_TYPES, fed the golden's 200 ids:
//    the logits after position 0 (where attention is v itself: no f32 sum in an order of its own) are
//    llama.cpp's within 1e-4 (the 16-bit path misses by ~1e-2), and the argmax agrees with
//    llama.cpp's at least as often as llama.cpp's own build for another CPU does (the golden's
//    crossCpu: the AVX2 build, and the arm64 build as a Raspberry Pi 4 or 5 runs it, recorded by
//    scripts/oracle/cpu-variants.mjs). Not 99%: these random-weight 110M models are chaotic (a
//    last-bit difference in an f32 sum flips some 8-bit activation's rounding, and the difference grows
//    over the layers and positions), so llama.cpp itself, its f32 steps summed in another CPU's order,
//    agrees with these goldens on 92–98.5% of the steps (docs/MODELS.md, "Fidelity").
// The type lists are this harness's input: a type joins by recording its goldens
// (`llamacpp_logits.mjs --teacher <type> --greedy <type>`) and adding it here. A teacher type whose
// default activations are not ggml's (a format with a `q8Path` of x16; none today) is skipped. The
// q4_K golden is recorded one token per call (`--one-by-one`): llama.cpp's batched path quantizes
// K-quant activations four rows at a time with another rounding (docs/MEASUREMENTS.md).
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { argmax } from '../host/engine/sampler.js';
import { activationPath, type ActivationChoice, type FormatName } from '../host/model/block-formats.js';
import { openWasm } from './helpers/engines.js';
import { fidelityModel, type FidelitySpec } from './helpers/fidelity-models.js';
import { ROOT } from './helpers/paths.js';

/** Weight types compared teacher-forced on 110M-shaped models (goldens test/golden/llamacpp/teacher-110m-<type>.json). */
export const TEACHER_TYPES = ['q8_0', 'q4_0', 'q4_K'];
/** The teacher types that run on ggml's 8-bit activations by default (the others are skipped). */
const TEACHER_X8 = TEACHER_TYPES.filter((t) => activationPath(t as FormatName) === 'x8');
/** Weight types compared by greedy ids on the small models, for each of GREEDY_ARCHS. */
export const GREEDY_TYPES = ['f32', 'f16', 'q8_0', 'q4_0'];
export const GREEDY_ARCHS = ['llama', 'qwen2'] as const;

const GOLDEN = join(ROOT, 'test', 'golden', 'llamacpp');

interface TeacherGolden {
  sha256: string;
  /** llama.cpp with flash attention on against these goldens: argmax agreement */
  selfAgreement: { agree: number; of: number };
  /** llama.cpp's builds for other CPUs against these goldens: argmax agreement per build (and a note) */
  crossCpu: Record<string, { agree: number; of: number } | string>;
  ids: number[];
  /** per position: llama.cpp's top logits, [id, logit], best first */
  top: Array<Array<[number, number]>>;
}
interface GreedyGolden {
  model: { small: { seed: number } };
  sha256: string;
  prompt: number[];
  ids: number[];
  /** llama.cpp's top logits after each position of prompt and ids, [id, logit], best first */
  top: Array<Array<[number, number]>>;
}

function golden<T>(file: string): T {
  const path = join(GOLDEN, file);
  if (!existsSync(path)) throw new Error(`${path} missing: record it with scripts/golden/llamacpp_logits.mjs`);
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

async function model(spec: FidelitySpec, sha256: string): Promise<string> {
  const m = await fidelityModel(spec, sha256);
  assert.is(m.sha256, sha256, `${m.path}: written from its spec it is not the file the golden was recorded on (the synth or quantizer output changed: record the goldens again)`);
  return m.path;
}

interface TeacherRun {
  share: number;
  misses: string[];
  /** per position, the largest |wisp − llama.cpp| over llama.cpp's top logits */
  logitDiff: number[];
}

/** Teacher-forced over the golden's ids (the first `steps`): argmax agreement, misses (with llama.cpp's top-1 − top-2 margin), logit differences. */
async function teacherForced(path: string, g: TeacherGolden, activations?: ActivationChoice, steps = g.ids.length): Promise<TeacherRun> {
  const engine = await openWasm(path, { contextSize: 256, activations });
  const misses: string[] = [];
  const logitDiff: number[] = [];
  try {
    const state = engine.newState(256);
    for (let pos = 0; pos < steps; pos++) {
      const logits = await engine.forward(state, g.ids[pos], pos);
      const got = argmax(logits);
      const [[want, l1], [, l2]] = g.top[pos];
      if (got !== want) misses.push(`pos ${pos}: ${got} vs llama.cpp's ${want} (its margin ${(l1 - l2).toFixed(4)})`);
      logitDiff.push(Math.max(...g.top[pos].map(([id, v]) => Math.abs(logits[id] - v))));
    }
    engine.releaseState(state);
  } finally {
    await engine.close();
  }
  return { share: 1 - misses.length / steps, misses, logitDiff };
}

for (const type of TEACHER_TYPES) {
  const name = `110M ${type}, teacher-forced over 200 positions: llama.cpp's logits after position 0 within 1e-4, its argmax as often as llama.cpp's build for another CPU agrees with it`;
  if (!TEACHER_X8.includes(type)) {
    test.skip(`${name} (waits for ${type}'s 8-bit activations as the default)`, () => {});
    continue;
  }
  test(name, async () => {
    const g = golden<TeacherGolden>(`teacher-110m-${type}.json`);
    const path = await model({ kind: 'teacher', type }, g.sha256);
    const { share, misses, logitDiff } = await teacherForced(path, g);
    const builds = Object.entries(g.crossCpu).flatMap(([build, a]) => (typeof a === 'string' ? [] : [{ build, share: a.agree / a.of }]));
    assert.ok(builds.length > 0, `teacher-110m-${type}.json has no crossCpu: record it with scripts/oracle/cpu-variants.mjs --record`);
    const worst = builds.reduce((a, b) => (b.share < a.share ? b : a));
    const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
    console.log(`  110M ${type}: argmax agreement ${pct(share)} (llama.cpp's other CPU builds: ${builds.map((b) => `${b.build} ${pct(b.share)}`).join(', ')}), logits after position 0 within ${logitDiff[0].toExponential(1)}`);
    assert.ok(logitDiff[0] <= 1e-4, `logits after position 0 differ from llama.cpp's by ${logitDiff[0]}`);
    assert.ok(share >= worst.share, `agreement ${pct(share)}, below llama.cpp's ${worst.build} build (${pct(worst.share)}): ${misses.join('; ')}`);
  });
}

test('the 16-bit activations (--activations q16) miss llama.cpp\'s logits after position 0 by more than 1e-3 (what the 8-bit default fixes)', async () => {
  for (const type of TEACHER_X8) {
    const g = golden<TeacherGolden>(`teacher-110m-${type}.json`);
    const path = await model({ kind: 'teacher', type }, g.sha256);
    const { logitDiff } = await teacherForced(path, g, 'q16', 1);
    assert.ok(logitDiff[0] > 1e-3, `${type}: q16 within ${logitDiff[0]}`);
  }
});

/**
 * How far the logits after position 0 may be from llama.cpp's: its f16 matmuls round x to f16 first
 * (ggml's vec_dot_type), wisp's f16 kernels take x in f32 (so ~1e-3); the rest is f32 rounding.
 */
const POS0_TOL: Record<string, number> = { f16: 3e-3 };

for (const arch of GREEDY_ARCHS) {
  for (const type of GREEDY_TYPES) {
    test(`small ${arch} ${type} (dim 256): the 32 greedy ids after the prompt are llama.cpp's, the logits after position 0 within ${POS0_TOL[type] ?? 1e-4}`, async () => {
      const g = golden<GreedyGolden>(`greedy-${arch}-${type}.json`);
      const path = await model({ kind: 'greedy', arch, type, seed: g.model.small.seed }, g.sha256);
      const engine = await openWasm(path, { contextSize: 128 });
      try {
        const state = engine.newState(128);
        const first = await engine.forward(state, g.prompt[0], 0);
        const pos0 = Math.max(...g.top[0].map(([id, v]) => Math.abs(first[id] - v)));
        let logits = await engine.prefill(state, g.prompt.slice(1), 1);
        const ids: number[] = [];
        for (let pos = g.prompt.length; ids.length < g.ids.length; pos++) {
          ids.push(argmax(logits));
          logits = await engine.forward(state, ids[ids.length - 1], pos);
        }
        engine.releaseState(state);
        assert.equal(ids, g.ids);
        assert.ok(pos0 <= (POS0_TOL[type] ?? 1e-4), `logits after position 0 differ from llama.cpp's by ${pos0}`);
      } finally {
        await engine.close();
      }
    });
  }
}

test.run();
