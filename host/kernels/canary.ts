// The canary: golden inputs through a candidate kernel module, compared with the family's trusted
// module (the baseline flavour as built: every flavour and every swapped module must give its bits
// for the same inputs, docs/KERNEL-ABI.md) and with the JS reference (host/kernels/reference/) where
// one exists: bit for bit where the reference is exact (quantizers, get_row), within 1e-5 of the
// output's scale where it sums in f64 (matvec, matmul, the float ops). Each case is checked on its
// first call (V8's baseline tier, Liftoff), then called until V8's tiering budget is spent
// (--wasm-tiering-budget: about 1.8 MB of code executed per function) and, after a pause for the
// background TurboFan compile, checked again: Liftoff once miscompiled the relaxed dot.
//
// Cases come from the export names and the block-format table (host/model/block-formats.ts), so a
// new weight layout or activation format is covered when the table names it; an export no case
// covers is reported (`uncovered`), and test/kernel-choose.test.ts holds every built export covered.
// Each module runs over a small shared memory of its own: nothing a candidate does reaches the
// serving memory.
import { mulberry32 } from '../engine/sampler.js';
import { BLOCK_FORMATS, formatRowBytes, type BlockFormat, type FormatName } from '../model/block-formats.js';
import { type GGMLType, f32ToF16 } from '../model/ggml-types.js';
import { quantize } from '../model/quantize/index.js';
import { createSharedMemory, instantiateKernel } from './load.js';
import { MATMUL_REFERENCE, type ReferenceExport } from './reference/matmul.js';
import * as opsRef from './reference/ops.js';

/** Where host buffers start in a kernel memory (below: the modules' static data). */
const HOST_BASE = 1 << 20;
/** Canary shapes: one K-quant super-block per row, 16 rows (two q4_0r8 groups), a matmul tile of 4 tokens. */
export const CANARY_SHAPE = { cols: 256, rows: 16, nTok: 4 } as const;
/** Calls of each case between its first check and its second (with the sizes above, past V8's tiering budget). */
const WARM_CALLS = 96;

type Fn = (...args: number[]) => unknown;

/** One call's inputs and outputs, laid out from HOST_BASE; written the same into every module's memory. */
interface CaseData {
  inputs: Array<{ ptr: number; bytes: Uint8Array }>;
  /** Output regions compared between modules (bytes), zero-filled before each call. */
  outputs: Array<{ ptr: number; bytes: number; f32?: boolean }>;
  /** Calls (each an argument list) that together make the outputs, e.g. a row split in two. */
  calls: number[][];
  /** Bytes of memory the case uses from 0. */
  top: number;
  /** How the JS reference checks the trusted module's outputs: exact bytes, or within tol of the scale. */
  reference?: { run: (mem: Uint8Array) => void; tol: number };
}

export interface CanaryCase {
  export: string;
  /** Timed when choosing between flavours (the kernels the engine spends its time in). */
  timed: boolean;
  /** Builds the inputs; `trusted` runs kernels of the trusted module (a quantizer, a repack) to make them. */
  data(trusted: TrustedRunner): CaseData;
}

/** Runs the trusted module's kernels on bytes, for inputs only it can make (repacked weights, 16-bit activations). */
export interface TrustedRunner {
  run(name: string, inputs: Array<{ ptr: number; bytes: Uint8Array }>, args: number[], out: { ptr: number; bytes: number }): Uint8Array;
}

// ---- inputs ----------------------------------------------------------------------------------

class Layout {
  top = HOST_BASE;
  readonly inputs: Array<{ ptr: number; bytes: Uint8Array }> = [];
  alloc(n: number): number {
    const p = this.top;
    this.top = (p + n + 63) & ~63;
    return p;
  }
  put(bytes: Uint8Array): number {
    const p = this.alloc(bytes.length);
    this.inputs.push({ ptr: p, bytes });
    return p;
  }
}

function randomF32(n: number, seed: number, scale = 1): Float32Array {
  const rnd = mulberry32(seed);
  // a spread of magnitudes per block, as real activations and weights have
  return Float32Array.from({ length: n }, (_, i) => (rnd() * 2 - 1) * scale * (1 + ((i >> 5) % 7)));
}

const f32Bytes = (x: Float32Array) => new Uint8Array(x.buffer, x.byteOffset, x.byteLength);

const storedCache = new Map<string, Uint8Array>();

/** Rows of random weights in a stored format (ggml's quantizers, bit-identical to ggml's); made once per process. */
function storedWeights(format: FormatName, rows: number, cols: number, seed: number): Uint8Array {
  const key = `${format} ${rows} ${cols} ${seed}`;
  let w = storedCache.get(key);
  if (!w) storedCache.set(key, (w = makeStoredWeights(format, rows, cols, seed)));
  return w;
}

function makeStoredWeights(format: FormatName, rows: number, cols: number, seed: number): Uint8Array {
  const values = randomF32(rows * cols, seed, 0.5);
  if (format === 'f32') return f32Bytes(values);
  if (format === 'f16') return Uint8Array.from(new Uint8Array(Uint16Array.from(values, (v) => f32ToF16(v)).buffer));
  const ggml = BLOCK_FORMATS[format].ggml;
  if (ggml === undefined) throw new Error(`no stored weights in ${format}`);
  return quantize(ggml as GGMLType, values, cols);
}

/** Weights in a weight format: stored, or a load-time layout made from stored rows by the trusted module. */
function weights(f: BlockFormat, rows: number, cols: number, seed: number, trusted: TrustedRunner): Uint8Array {
  const made = f.madeFrom;
  if (!made) return storedWeights(f.name, rows, cols, seed);
  const src = storedWeights(made.format, rows, cols, seed);
  if (!made.repackKernel) return src;
  const l = new Layout();
  const s = l.put(src);
  const d = l.alloc(src.length);
  return trusted.run(made.repackKernel, l.inputs, [s, d, rows, cols], { ptr: d, bytes: src.length });
}

/** nTok activation rows in format a (f32 as is; otherwise by the trusted module's quantizer). */
function activations(a: BlockFormat, nTok: number, cols: number, seed: number, trusted: TrustedRunner): Uint8Array {
  const x = randomF32(nTok * cols, seed);
  if (!a.activation?.quantizer) return f32Bytes(x);
  const l = new Layout();
  const xp = l.put(f32Bytes(x));
  const n = formatRowBytes(a, cols) * nTok;
  const o = l.alloc(n);
  return trusted.run(a.activation.quantizer, l.inputs, [xp, o, nTok * cols], { ptr: o, bytes: n });
}

/** The matmul family's JS reference of an export, called with the kernel's arguments (none: no reference). */
function jsReference(name: string, args: number[], tol: number): CaseData['reference'] {
  const ref: ReferenceExport | undefined = MATMUL_REFERENCE[name];
  return ref ? { run: (mem) => ref(mem, ...args), tol } : undefined;
}

// ---- the cases -------------------------------------------------------------------------------

/** The weight and activation formats of a matvec_/matmul_ export name, from the block-format table. */
function matmulFormats(rest: string): { w: BlockFormat; a: BlockFormat } | undefined {
  for (const w of Object.values(BLOCK_FORMATS)) {
    for (const an of [...Object.values(w.pairs ?? {}), ...(w.ggmlPair ? [w.ggmlPair] : [])]) {
      const a = BLOCK_FORMATS[an as FormatName];
      if (a.activation && rest === `${w.name}${a.activation.kernelSuffix}`) return { w, a };
    }
  }
  return undefined;
}

function matmulCase(name: string, timed: (w: BlockFormat, a: BlockFormat) => boolean): CanaryCase | undefined {
  const { cols, rows, nTok } = CANARY_SHAPE;
  const m = /^(matvec|matmul)_(.+)$/.exec(name);
  if (m) {
    const f = matmulFormats(m[2]);
    if (!f) return undefined;
    const many = m[1] === 'matmul';
    const tokens = many ? nTok : 1;
    const half = rows / 2; // a split on a group boundary (q4_0r8: 8 rows)
    return {
      export: name,
      timed: timed(f.w, f.a),
      data(trusted) {
        const l = new Layout();
        const w = l.put(weights(f.w, rows, cols, 11, trusted));
        const x = l.put(activations(f.a, tokens, cols, 12, trusted));
        const ybytes = 4 * rows * tokens;
        const y = l.alloc(ybytes);
        const calls = many
          ? [[w, x, y, cols, rows, tokens, 0, half], [w, x, y, cols, rows, tokens, half, rows]]
          : [[w, x, y, cols, 0, half], [w, x, y, cols, half, rows]];
        const out = { ptr: y, bytes: ybytes, f32: true };
        const full = many ? [w, x, y, cols, rows, tokens, 0, rows] : [w, x, y, cols, 0, rows];
        return { inputs: l.inputs, outputs: [out], calls, top: l.top, reference: jsReference(name, full, 1e-5) };
      },
    };
  }
  const q = Object.values(BLOCK_FORMATS).find((f) => f.activation?.quantizer === name);
  if (q) {
    return {
      export: name,
      timed: false,
      data() {
        const l = new Layout();
        const n = 2 * cols;
        const x = l.put(f32Bytes(randomF32(n, 13, 3)));
        const o = { ptr: l.alloc(formatRowBytes(q, n)), bytes: formatRowBytes(q, n) };
        return { inputs: l.inputs, outputs: [o], calls: [[x, o.ptr, n]], top: l.top, reference: jsReference(name, [x, o.ptr, n], 0) };
      },
    };
  }
  const g = /^get_row_(.+)$/.exec(name);
  if (g && g[1] in BLOCK_FORMATS) {
    const f = BLOCK_FORMATS[g[1] as FormatName];
    return {
      export: name,
      timed: false,
      data(trusted) {
        const l = new Layout();
        const w = l.put(weights(f, 8, cols, 14, trusted));
        const o = { ptr: l.alloc(4 * cols), bytes: 4 * cols, f32: true };
        return { inputs: l.inputs, outputs: [o], calls: [[w, o.ptr, cols, 5]], top: l.top, reference: jsReference(name, [w, o.ptr, cols, 5], 0) };
      },
    };
  }
  const r = Object.values(BLOCK_FORMATS).find((f) => f.madeFrom?.repackKernel === name);
  if (r) {
    return {
      export: name,
      timed: false,
      data() {
        const l = new Layout();
        const src = storedWeights(r.madeFrom!.format, rows, cols, 15);
        const s = l.put(src);
        const o = { ptr: l.alloc(src.length), bytes: src.length };
        return { inputs: l.inputs, outputs: [o], calls: [[s, o.ptr, rows, cols]], top: l.top };
      },
    };
  }
  return undefined;
}

/** attn: a small GQA shape (4 heads over 2 KV heads of 16), 5 cached positions, 3 query rows. */
function attnCase(name: string): CanaryCase | undefined {
  const nHeads = 4, nKv = 2, headDim = 16, cap = 8, nTok = 3, pos0 = 5;
  const f16 = name.endsWith('_f16');
  const elt = f16 ? 2 : 4;
  const cacheBytes = nKv * cap * headDim * elt;
  const cache = (seed: number) => (f16 ? Uint8Array.from(new Uint8Array(Uint16Array.from(randomF32(cacheBytes / 2, seed), (v) => f32ToF16(v)).buffer)) : f32Bytes(randomF32(cacheBytes / 4, seed)));
  if (name === 'rope_many') {
    return {
      export: name,
      timed: true,
      data() {
        const l = new Layout();
        const rnd = mulberry32(21);
        const x = l.put(f32Bytes(randomF32(nTok * nHeads * headDim, 22)));
        const cs = l.put(f32Bytes(Float32Array.from({ length: nTok * headDim }, () => rnd() * 2 - 1)));
        // rope works in place: the compared output is x itself
        return { inputs: l.inputs, outputs: [{ ptr: x, bytes: 4 * nTok * nHeads * headDim, f32: true }], calls: [[x, cs, nTok, nHeads, headDim, headDim, 0]], top: l.top };
      },
    };
  }
  if (name === 'kv_append_f32' || name === 'kv_append_f16') {
    return {
      export: name,
      timed: false,
      data() {
        const l = new Layout();
        const src = l.put(f32Bytes(randomF32(nKv * headDim, 23)));
        const c = l.put(cache(24));
        return { inputs: l.inputs, outputs: [{ ptr: c, bytes: cacheBytes }], calls: [[src, c, 3, nKv, headDim, cap]], top: l.top };
      },
    };
  }
  if (name === 'attention_many_f32' || name === 'attention_many_f16') {
    return {
      export: name,
      timed: true,
      data() {
        const l = new Layout();
        const q = l.put(f32Bytes(randomF32(nTok * nHeads * headDim, 25)));
        const k = l.put(cache(26));
        const v = l.put(cache(27));
        const out = { ptr: l.alloc(4 * nTok * nHeads * headDim), bytes: 4 * nTok * nHeads * headDim, f32: true };
        const items = nTok * nHeads;
        const scale = 1 / Math.sqrt(headDim);
        const call = (w0: number, w1: number) => [q, k, v, out.ptr, nTok, pos0 - 2, nHeads, nKv, headDim, cap, scale, w0, w1];
        return { inputs: l.inputs, outputs: [out], calls: [call(0, 5), call(5, items)], top: l.top };
      },
    };
  }
  if (name === 'attention_window_f32' || name === 'attention_window_f16') {
    // a window of 4 over positions up to pos0 + nTok − 1 = 7: every row drops its first positions
    return {
      export: name,
      timed: false,
      data() {
        const l = new Layout();
        const q = l.put(f32Bytes(randomF32(nTok * nHeads * headDim, 28)));
        const k = l.put(cache(29));
        const v = l.put(cache(30));
        const out = { ptr: l.alloc(4 * nTok * nHeads * headDim), bytes: 4 * nTok * nHeads * headDim, f32: true };
        const items = nTok * nHeads;
        const call = (w0: number, w1: number) => [q, k, v, out.ptr, nTok, pos0, nHeads, nKv, headDim, cap, 1 / Math.sqrt(headDim), 4, w0, w1];
        return { inputs: l.inputs, outputs: [out], calls: [call(0, 7), call(7, items)], top: l.top };
      },
    };
  }
  return undefined;
}

function opsCase(name: string): CanaryCase | undefined {
  const n = 300, nTok = 3;
  const f32 = (p: { ptr: number; bytes: number }, mem: Uint8Array) => new Float32Array(mem.buffer, mem.byteOffset + p.ptr, p.bytes / 4);
  if (name === 'rmsnorm_many') {
    return {
      export: name,
      timed: true,
      data() {
        const l = new Layout();
        const x = l.put(f32Bytes(randomF32(n * nTok, 31)));
        const w = l.put(f32Bytes(randomF32(n, 32)));
        const o = { ptr: l.alloc(4 * n * nTok), bytes: 4 * n * nTok, f32: true };
        const run = (mem: Uint8Array) => {
          const view = (p: number, k: number) => new Float32Array(mem.buffer, mem.byteOffset + p, k);
          opsRef.rmsnormMany(view(x, n * nTok), view(w, n), f32(o, mem), n, nTok, 1e-5);
        };
        return { inputs: l.inputs, outputs: [o], calls: [[x, w, o.ptr, n, nTok, 1e-5]], top: l.top, reference: { run, tol: 1e-5 } };
      },
    };
  }
  if (name === 'silu_mul' || name === 'add') {
    return {
      export: name,
      timed: false,
      data() {
        const l = new Layout();
        const a = l.put(f32Bytes(randomF32(n, 33, 4)));
        const b = l.put(f32Bytes(randomF32(n, 34)));
        const o = { ptr: l.alloc(4 * n), bytes: 4 * n, f32: true };
        const run = (mem: Uint8Array) => {
          const view = (p: number) => new Float32Array(mem.buffer, mem.byteOffset + p, n);
          (name === 'add' ? opsRef.add : opsRef.siluMul)(view(a), view(b), f32(o, mem), n);
        };
        return { inputs: l.inputs, outputs: [o], calls: [[a, b, o.ptr, n]], top: l.top, reference: { run, tol: 1e-5 } };
      },
    };
  }
  if (name === 'gelu_mul') {
    return {
      export: name,
      timed: false,
      data() {
        const l = new Layout();
        const a = l.put(f32Bytes(randomF32(n, 35, 2)));
        const b = l.put(f32Bytes(randomF32(n, 36)));
        const o = { ptr: l.alloc(4 * n), bytes: 4 * n, f32: true };
        const run = (mem: Uint8Array) => {
          const view = (p: number) => new Float32Array(mem.buffer, mem.byteOffset + p, n);
          opsRef.geluMul(view(a), view(b), f32(o, mem), n);
        };
        // GELU through f16: a rare tie of tanh's last bits lands half an f16 step (2^-12 of the value) off the reference
        return { inputs: l.inputs, outputs: [o], calls: [[a, b, o.ptr, n]], top: l.top, reference: { run, tol: 1e-3 } };
      },
    };
  }
  if (name === 'scale' || name === 'softcap') {
    const factor = name === 'scale' ? Math.fround(33.941125) : 30;
    return {
      export: name,
      timed: false,
      data() {
        const l = new Layout();
        const x = l.put(f32Bytes(randomF32(n, 37, 8)));
        const o = { ptr: l.alloc(4 * n), bytes: 4 * n, f32: true };
        const run = (mem: Uint8Array) => {
          const view = (p: number) => new Float32Array(mem.buffer, mem.byteOffset + p, n);
          (name === 'scale' ? opsRef.scale : opsRef.softcap)(view(x), f32(o, mem), n, factor);
        };
        return { inputs: l.inputs, outputs: [o], calls: [[x, o.ptr, n, factor]], top: l.top, reference: { run, tol: 1e-5 } };
      },
    };
  }
  return undefined;
}

/**
 * The canary cases of a family's exports (`_start`, the self-test, is not one), and the exports no
 * case covers. `timedPath`: matmul cases on this activation path are the timed ones.
 */
export function canaryCases(family: string, exports: Iterable<string>, timedPath: 'x16' | 'x8'): { cases: CanaryCase[]; uncovered: string[] } {
  const cases: CanaryCase[] = [];
  const uncovered: string[] = [];
  const timed = (w: BlockFormat, a: BlockFormat) => w.pairs?.[timedPath] === a.name;
  for (const name of exports) {
    if (name === '_start') continue;
    const c = family === 'matmul' ? matmulCase(name, timed) : family === 'attn' ? attnCase(name) : family === 'ops' ? opsCase(name) : undefined;
    if (c) cases.push(c);
    else uncovered.push(name);
  }
  return { cases, uncovered };
}

// ---- running -----------------------------------------------------------------------------------

/** A module instantiated over a small memory of its own. */
class Sandbox {
  readonly memory: WebAssembly.Memory;
  readonly exports: Record<string, Fn>;
  constructor(module: WebAssembly.Module, bytes: number) {
    this.memory = createSharedMemory(Math.ceil(bytes / 65536) + 1);
    this.exports = instantiateKernel(module, this.memory) as Record<string, Fn>;
  }
  get mem(): Uint8Array {
    return new Uint8Array(this.memory.buffer);
  }
  fn(name: string): Fn {
    const f = this.exports[name];
    if (typeof f !== 'function') throw new CanaryFailure(name, `the module does not export ${name}`);
    return f;
  }
  load(d: CaseData): void {
    const mem = this.mem;
    for (const { ptr, bytes } of d.inputs) mem.set(bytes, ptr);
    for (const o of d.outputs) mem.fill(0, o.ptr, o.ptr + o.bytes);
  }
  call(name: string, d: CaseData): void {
    const f = this.fn(name);
    this.load(d);
    try {
      for (const args of d.calls) f(...args);
    } catch (err) {
      throw new CanaryFailure(name, `trapped: ${(err as Error).message}`);
    }
  }
}

export class CanaryFailure extends Error {
  constructor(readonly kernel: string, detail: string) {
    super(`${kernel}: ${detail}`);
  }
}

export interface CanaryResult {
  /** The exports checked, and those no case covers. */
  checked: string[];
  uncovered: string[];
  /** Milliseconds the canary took. */
  ms: number;
}

const MAX_CASE_BYTES = 4 << 20;

/** A memory big enough for every case (they are laid out from HOST_BASE again each time). */
function casesTop(data: CaseData[]): number {
  return Math.max(HOST_BASE + 65536, ...data.map((d) => d.top));
}

function trustedRunner(module: WebAssembly.Module): TrustedRunner {
  let box: Sandbox | undefined;
  return {
    run(name, inputs, args, out) {
      box ??= new Sandbox(module, HOST_BASE + MAX_CASE_BYTES);
      const mem = box.mem;
      for (const { ptr, bytes } of inputs) mem.set(bytes, ptr);
      box.fn(name)(...args);
      return box.mem.slice(out.ptr, out.ptr + out.bytes);
    },
  };
}

/** The cases' inputs, made once per trusted module and family (they are deterministic). */
const dataCache = new WeakMap<WebAssembly.Module, Map<string, CaseData>>();

function caseData(c: CanaryCase, trusted: WebAssembly.Module): CaseData {
  let m = dataCache.get(trusted);
  if (!m) dataCache.set(trusted, (m = new Map()));
  let d = m.get(c.export);
  if (!d) m.set(c.export, (d = c.data(trustedRunner(trusted))));
  return d;
}

function sameBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return i;
  return -1;
}

function describeMismatch(o: CaseData['outputs'][number], got: Uint8Array, want: Uint8Array, at: number, what: string): string {
  if (o.f32) {
    const i = at >> 2;
    const g = new DataView(got.buffer, got.byteOffset).getFloat32(i * 4, true);
    const w = new DataView(want.buffer, want.byteOffset).getFloat32(i * 4, true);
    return `output ${i} is ${g}, ${what} gives ${w} (not the same bits)`;
  }
  return `byte ${at} of the output is ${got[at]}, ${what} gives ${want[at]}`;
}

/** Largest |got − want| / max|want| over an f32 output. */
function relativeError(got: Float32Array, want: Float32Array): number {
  let scale = 0, err = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]));
    err = Math.max(err, Math.abs(got[i] - want[i]));
  }
  if (want.some((v, i) => Number.isNaN(v) !== Number.isNaN(got[i]))) return Infinity;
  return scale > 0 ? err / scale : err;
}

/** Checks the candidate's outputs of one case against the trusted module's and the JS reference. */
function checkCase(name: string, d: CaseData, cand: Sandbox, trusted: Sandbox, pass: string): void {
  cand.call(name, d);
  const ref = d.reference;
  for (const o of d.outputs) {
    const got = cand.mem.subarray(o.ptr, o.ptr + o.bytes);
    const want = trusted.mem.subarray(o.ptr, o.ptr + o.bytes);
    const at = sameBytes(got, want);
    if (at >= 0) throw new CanaryFailure(name, `${pass}: ${describeMismatch(o, got, want, at, 'the trusted module')}`);
  }
  if (!ref) return;
  const wants = referenceOutputs(d);
  d.outputs.forEach((o, i) => {
    const got = cand.mem.subarray(o.ptr, o.ptr + o.bytes);
    const want = wants[i];
    if (ref.tol === 0 || !o.f32) {
      const at = sameBytes(got, want);
      if (at >= 0) throw new CanaryFailure(name, `${pass}: ${describeMismatch(o, got, want, at, 'the JS reference')}`);
    } else {
      const e = relativeError(new Float32Array(got.buffer, got.byteOffset, o.bytes / 4), new Float32Array(want.buffer, want.byteOffset, o.bytes / 4));
      if (!(e <= ref.tol)) throw new CanaryFailure(name, `${pass}: off the JS reference by ${e.toExponential(2)} of the output's scale (tolerance ${ref.tol})`);
    }
  });
}

const referenceCache = new WeakMap<CaseData, Uint8Array[]>();
/** The memory the JS reference runs on (its pointers are the kernels'), reused by every case. */
let referenceMemory = new Uint8Array(0);

/** The JS reference's outputs of a case, computed once. */
function referenceOutputs(d: CaseData): Uint8Array[] {
  let out = referenceCache.get(d);
  if (!out) {
    if (referenceMemory.length < d.top) referenceMemory = new Uint8Array(d.top);
    const mem = referenceMemory;
    for (const { ptr, bytes } of d.inputs) mem.set(bytes, ptr);
    for (const o of d.outputs) mem.fill(0, o.ptr, o.ptr + o.bytes);
    d.reference!.run(mem);
    out = d.outputs.map((o) => mem.slice(o.ptr, o.ptr + o.bytes));
    referenceCache.set(d, out);
  }
  return out;
}

const pause = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs the canary of `candidate` (a family's module) against `trusted` (the family's trusted module:
 * its built baseline). Throws CanaryFailure naming the first kernel whose bits differ, that is off the
 * JS reference, or that traps.
 */
export async function runCanary(family: string, candidate: WebAssembly.Module, trusted: WebAssembly.Module, exports: Iterable<string>, path: 'x16' | 'x8'): Promise<CanaryResult> {
  const t0 = performance.now();
  const { cases, uncovered } = canaryCases(family, exports, path);
  const data = cases.map((c) => caseData(c, trusted));
  const top = casesTop(data);
  const cand = new Sandbox(candidate, top);
  const ref = new Sandbox(trusted, top);
  // the trusted module's outputs, once: it runs first so a case's memory holds its results
  const expected = data.map((d, i) => {
    ref.call(cases[i].export, d);
    return d.outputs.map((o) => ref.mem.slice(o.ptr, o.ptr + o.bytes));
  });
  const withExpected = (i: number) => {
    const d = data[i];
    d.outputs.forEach((o, j) => ref.mem.set(expected[i][j], o.ptr));
  };
  for (let i = 0; i < cases.length; i++) {
    withExpected(i);
    checkCase(cases[i].export, data[i], cand, ref, 'first call');
  }
  for (let i = 0; i < cases.length; i++) {
    const f = cand.fn(cases[i].export);
    cand.load(data[i]);
    try {
      for (let k = 0; k < WARM_CALLS; k++) for (const args of data[i].calls) f(...args);
    } catch (err) {
      throw new CanaryFailure(cases[i].export, `trapped after ${WARM_CALLS} calls: ${(err as Error).message}`);
    }
  }
  await pause(2); // the background TurboFan compiles land
  for (let i = 0; i < cases.length; i++) {
    withExpected(i);
    checkCase(cases[i].export, data[i], cand, ref, 'after tier-up');
  }
  return { checked: cases.map((c) => c.export), uncovered, ms: performance.now() - t0 };
}

/**
 * Seconds per round of the timed cases on each module, interleaved (A B A B …) and the best round of
 * each kept, for at most `budgetMs` in all. Each module runs over its own memory.
 */
export function timeModules(family: string, modules: WebAssembly.Module[], trusted: WebAssembly.Module, exports: Iterable<string>, path: 'x16' | 'x8', budgetMs = 60): number[] {
  const { cases } = canaryCases(family, exports, path);
  const timed = cases.filter((c) => c.timed);
  const data = timed.map((c) => caseData(c, trusted));
  const top = casesTop(data);
  const boxes = modules.map((m) => new Sandbox(m, top));
  const best = modules.map(() => Infinity);
  const round = (b: Sandbox) => {
    const t = performance.now();
    for (let i = 0; i < timed.length; i++) {
      const f = b.fn(timed[i].export);
      b.load(data[i]);
      for (let k = 0; k < 16; k++) for (const args of data[i].calls) f(...args);
    }
    return performance.now() - t;
  };
  const t0 = performance.now();
  for (let r = 0; r < 500 && (r < 3 || performance.now() - t0 < budgetMs); r++) {
    boxes.forEach((b, i) => (best[i] = Math.min(best[i], round(b))));
  }
  return best.map((ms) => ms / 1000);
}
