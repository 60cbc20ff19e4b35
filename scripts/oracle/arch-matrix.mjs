#!/usr/bin/env node
// The architecture matrix against llama.cpp itself (issue 16's acceptance): every architecture wisp
// runs × weight types, on random-weight files `wisp synth` writes, fed the same token ids. For each
// file: llama.cpp's greedy continuation of a prompt beside wisp's (equal over 32 tokens is the bar for
// F32/F16), and llama.cpp's argmax after each of 100 forced tokens beside wisp's (≥ 99% is the bar for
// the quantized types). Prints the table; --record also writes each file's llama.cpp ids as a golden
// under test/golden/oracle/ (test/arch-oracle.test.ts holds wisp to them without llama.cpp).
//
// llama.cpp is node-llama-cpp (3.22.1, prebuilt CPU binaries), outside the project:
//   WISP_LLAMACPP=/work/oracle/node_modules node scripts/oracle/arch-matrix.mjs [options]
// (or NODE_PATH=…; see host/bench/llamacpp.ts). Run `node build.mjs` first.
//
// Options:
//   --shapes a,b     wisp synth shapes (default: the small test shapes, tiny-*)
//   --types a,b      f32, f16, q8_0, q4_0, q4_k_m, q5_k_m, q5_0, q3_k, q2_k (default: all of them);
//                    a type wisp cannot write yet shows as "not yet"
//   --vocab PATH     the vocabulary (default: the shared tok512.bin, 512 tokens)
//   --seed N         (default 1)
//   --layers N       override the shapes' layer counts (real widths, fewer layers: a quicker run; not recorded)
//   --threads N      threads of both engines (default 1)
//   --engine NAME    wisp's engine: wasm (default) or reference
//   --record         write test/golden/oracle/<shape>-<type>.json for every file both engines ran
//   --dir PATH       where the files are written (default $TMPDIR/wisp-oracle)
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const dist = (p) => join(root, 'dist', p);
const { SYNTH_SHAPES } = await import(dist('host/model/synth.js'));
const { readVocabFile } = await import(dist('host/model/vocab-file.js'));
const { openModel } = await import(dist('host/engine/open.js'));
const { loadNodeLlamaCpp } = await import(dist('host/bench/llamacpp.js'));
const O = await import(dist('test/helpers/oracle.js'));

const ALL_TYPES = ['f32', 'f16', 'q8_0', 'q4_0', 'q4_k_m', 'q5_k_m', 'q5_0', 'q3_k', 'q2_k'];

const { values: opt } = parseArgs({
  options: {
    shapes: { type: 'string' }, types: { type: 'string' }, vocab: { type: 'string' }, seed: { type: 'string' },
    threads: { type: 'string' }, engine: { type: 'string' }, record: { type: 'boolean' }, dir: { type: 'string' }, layers: { type: 'string' },
  },
});
const shapes = opt.shapes ? opt.shapes.split(',') : Object.keys(SYNTH_SHAPES).filter((s) => s.startsWith('tiny-'));
const types = opt.types ? opt.types.split(',') : ALL_TYPES;
for (const s of shapes) if (!SYNTH_SHAPES[s]) throw new Error(`unknown shape '${s}'; wisp synth has ${Object.keys(SYNTH_SHAPES).join(', ')}`);
const seed = Number(opt.seed ?? 1);
const threads = Number(opt.threads ?? 1);
const engine = opt.engine ?? 'wasm';
const layers = opt.layers === undefined ? undefined : Number(opt.layers);
if (layers !== undefined && opt.record) throw new Error('--record writes goldens of the shapes as they are: drop --layers');
const sharedModels = process.env.WISP_MODEL_PATH?.split(':')[0] ?? join(root, '..', 'shared', 'models');
const vocabPath = resolve(opt.vocab ?? join(sharedModels, 'tok512.bin'));
const vocab = readVocabFile(vocabPath);
// a Hugging Face tokenizer folder: the digest of its tokenizer.json
const vocabSha256 = O.sha256File(statSync(vocabPath).isDirectory() ? join(vocabPath, 'tokenizer.json') : vocabPath);
const dir = resolve(opt.dir ?? join(tmpdir(), 'wisp-oracle'));
mkdirSync(dir, { recursive: true });

const nlc = await loadNodeLlamaCpp();
if (!nlc) throw new Error('node-llama-cpp not found: set WISP_LLAMACPP to the node_modules folder it is installed in');
const nlcVersion = JSON.parse(readFileSync(join(dirname(nlc.getLlama ? resolveNlc() : ''), '..', 'package.json'), 'utf8')).version;
const llama = await nlc.getLlama({ gpu: false, build: 'never', logLevel: nlc.LlamaLogLevel.error });
const release = llama.llamaCppRelease?.release ?? 'unknown';

function resolveNlc() {
  for (const base of [process.env.WISP_LLAMACPP, ...(process.env.NODE_PATH ?? '').split(':')].filter(Boolean)) {
    const p = join(base, 'node-llama-cpp', 'dist', 'index.js');
    if (existsSync(p)) return p;
  }
  return join(root, 'node_modules', 'node-llama-cpp', 'dist', 'index.js');
}

/** The file of a case, written once (test/helpers/oracle.ts writeOracleFile: synth, or synth f32 + wisp quantize for a mix). Throws NotYetError when wisp cannot write the type. */
function fileOf(shape, type) {
  const path = join(dir, `${shape}${layers === undefined ? '' : `-l${layers}`}-${type}-s${seed}-${basename(vocabPath).replace(/\W+/g, '_')}.gguf`);
  if (!existsSync(path)) O.writeOracleFile(path, { shape, type, seed }, vocab, layers);
  return path;
}

/** The token of the highest logit (the lowest id among equal ones, as wisp's argmax). */
function argmaxOf(logits) {
  let best = -1;
  let bestLogit = -Infinity;
  for (const [t, l] of logits) if (l > bestLogit || (l === bestLogit && t < best)) [best, bestLogit] = [t, l];
  return best;
}

/** llama.cpp's greedy ids and forced-step argmaxes (and margins) on the file. */
async function llamaCppRun(path, prompt, forced) {
  const model = await llama.loadModel({ modelPath: path });
  try {
    const ctxOptions = { contextSize: O.ORACLE_CONTEXT, threads, flashAttention: false, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32' };
    const context = await model.createContext(ctxOptions);
    try {
      // greedy by the logits, one token at a time: node-llama-cpp's evaluate() would stop at an end-of-generation token
      const seq = context.getSequence();
      const greedy = [];
      let step = await seq.controlledEvaluate(prompt.map((t, i) => (i === prompt.length - 1 ? [t, { generateNext: { logits: true } }] : t)));
      for (;;) {
        greedy.push(argmaxOf(step.at(-1).next.logits));
        if (greedy.length >= O.GREEDY_TOKENS) break;
        step = await seq.controlledEvaluate([[greedy.at(-1), { generateNext: { logits: true } }]]);
      }
      await seq.clearHistory();
      const items = [...prompt, ...forced].map((t, i) => (i >= prompt.length ? [t, { generateNext: { logits: true } }] : t));
      const out = await seq.controlledEvaluate(items);
      const top1 = [];
      const margin = [];
      for (let i = prompt.length; i < items.length; i++) {
        const it = out[i].next.logits.entries();
        const [t1, l1] = it.next().value;
        const [, l2] = it.next().value;
        top1.push(t1);
        margin.push(Number((l1 - l2).toPrecision(4)));
      }
      return { greedy, top1, margin };
    } finally {
      await context.dispose();
    }
  } finally {
    await model.dispose();
  }
}

const rows = new Map(); // shape -> type -> cell text
let failures = 0;
for (const shape of shapes) {
  const row = new Map();
  rows.set(shape, row);
  for (const type of types) {
    const c = { shape, type, seed };
    let path;
    try {
      path = fileOf(shape, type);
    } catch (err) {
      row.set(type, err instanceof O.NotYetError ? 'not yet' : `synth: ${err.message}`);
      if (!(err instanceof O.NotYetError)) failures++;
      continue;
    }
    const { prompt, forced } = O.oracleInputs(vocab, seed);
    let ref;
    try {
      ref = await llamaCppRun(path, prompt, forced);
    } catch (err) {
      row.set(type, 'llama.cpp refuses');
      console.error(`${O.caseName(c)}: llama.cpp: ${err.message}`);
      continue;
    }
    let ours;
    try {
      const m = await openModel(path, { engine, threads, contextSize: O.ORACLE_CONTEXT, log: () => {} });
      try {
        ours = await O.wispRun(m.model, prompt, forced, O.GREEDY_TOKENS);
      } finally {
        await m.close();
      }
    } catch (err) {
      row.set(type, 'not yet (wisp)');
      console.error(`${O.caseName(c)}: wisp: ${err.message.split('\n')[0]}`);
      continue;
    }
    const golden = {
      note: `llama.cpp (node-llama-cpp ${nlcVersion}, prebuilt CPU build, llama.cpp ${release}) on ${O.oracleRecipe(c)} over ${basename(vocabPath)}: ` +
        `greedy ids after the prompt (temperature 0), and the argmax after each forced token; context ${O.ORACLE_CONTEXT}, F32 KV cache, no flash attention, ${threads} thread(s); made by scripts/oracle/arch-matrix.mjs --record`,
      case: c,
      vocab: { file: relative(join(root, '..', 'shared'), vocabPath), sha256: vocabSha256 },
      file: { sha256: O.sha256File(path), bytes: statSync(path).size, types: O.matrixTypes(path) },
      contextSize: O.ORACLE_CONTEXT,
      llamaCpp: { nodeLlamaCpp: nlcVersion, release, threads, kvCache: 'f32', flashAttention: false },
      prompt, greedy: ref.greedy, forced, top1: ref.top1, margin: ref.margin,
    };
    let same = 0;
    while (same < ref.greedy.length && ours.greedy[same] === ref.greedy[same]) same++;
    const a = O.agreement(golden, ours.top1);
    const pct = (100 * a.agree) / a.steps;
    const exact = type === 'f32' || type === 'f16';
    const pass = exact ? same === ref.greedy.length && a.agree === a.steps : pct >= 99;
    if (!pass) failures++;
    row.set(type, `${same === ref.greedy.length ? 'ids =' : `ids ≠@${same}`} ${pct.toFixed(0)}%${pass ? '' : ' ✗'}`);
    if (a.misses.length > 0) console.error(`${O.caseName(c)}: forced steps where wisp's argmax differs: ${a.misses.map((m) => `${m.step} (margin ${m.margin})`).join(', ')}`);
    if (opt.record) {
      mkdirSync(O.ORACLE_GOLDEN_DIR, { recursive: true });
      // numbers of an array on one line
      const text = JSON.stringify(golden, null, 1).replace(/\[\n\s*([-\d.e,\s]+?)\n\s*\]/g, (_, inner) => `[${inner.replace(/\s+/g, ' ')}]`);
      writeFileSync(join(O.ORACLE_GOLDEN_DIR, `${O.caseName(c)}.json`), `${text}\n`);
    }
  }
}

// the table: one row per shape, one column per type
const w0 = Math.max(5, ...shapes.map((s) => s.length));
const cells = types.map((t) => Math.max(t.length, ...shapes.map((s) => (rows.get(s).get(t) ?? '').length)));
console.log(`\nwisp (${engine}, ${threads} thread${threads === 1 ? '' : 's'}${layers === undefined ? '' : `, ${layers} layers per shape`}) against llama.cpp ${release} (node-llama-cpp ${nlcVersion}): greedy ids over ${O.GREEDY_TOKENS} tokens equal (ids =) or first differing at step k (ids ≠@k); forced-step top-1 agreement over ${O.FORCED_TOKENS} steps`);
console.log(['shape'.padEnd(w0), ...types.map((t, i) => t.padEnd(cells[i]))].join(' | '));
console.log(['-'.repeat(w0), ...cells.map((n) => '-'.repeat(n))].join('-|-'));
for (const s of shapes) console.log([s.padEnd(w0), ...types.map((t, i) => (rows.get(s).get(t) ?? '').padEnd(cells[i]))].join(' | '));
console.log(`\nbar: F32/F16 ids equal over ${O.GREEDY_TOKENS} tokens and every forced step; quantized ≥ 99% of forced steps. ${failures === 0 ? 'All cases that ran meet it.' : `${failures} case(s) below it (✗).`}`);
await llama.dispose();
process.exitCode = failures === 0 ? 0 : 1;
