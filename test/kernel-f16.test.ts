// asm/lib/f16.ts, the one half <-> single conversion every kernel uses, held to the host's
// (host/model/ggml-types.ts: ggml's table, NaN payloads kept; GGML_FP32_TO_FP16 rounding) in every form
// a kernel calls: scalar, four lanes from zero- or sign-extended halves, with constants passed in, and
// the finite-only forms (on every finite half). All 65536 halves, through asm/lib/f16-probe.ts.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { dequantize, f16ToF32, f32ToF16, GGMLType } from '../host/model/ggml-types.js';
import { mulberry32 } from '../host/engine/sampler.js';
import { compileAsmProbe } from './helpers/asm-probe.js';

const probe = compileAsmProbe('lib/f16-probe.ts');
const scalar = probe.scalar as (src: number, dst: number, n: number) => void;
const lanes = probe.lanes as (form: number, src: number, dst: number, n: number) => void;
const toHalves = probe.to_halves as (src: number, dst: number, n: number) => void;
const FORMS = ['halves_to_f32x4', 'halves_to_f32x4_k', 'halves_s_to_f32x4', 'finite_halves_s_to_f32x4', 'finite_halves_s_to_f32x4_k', 'finite_halves_s_to_f32x4_ns_k', 'finite split_low..placed_high × 2^112', 'split_low..placed_high with placed_to_f32x4_k'];

const N = 65536;
const SRC = 1 << 16; // the probe's own memory: halves, then floats
const DST = SRC + 2 * N;
if (probe.memory.buffer.byteLength < DST + 4 * N) probe.memory.grow(Math.ceil((DST + 4 * N - probe.memory.buffer.byteLength) / 65536));
new Uint16Array(probe.memory.buffer, SRC, N).set(Uint16Array.from({ length: N }, (_, h) => h));

/** The host's f32 bits of every half: its F16 dequantizer, which copies ggml's table bit for bit (a JS number would quiet NaNs). */
const want = new Uint32Array(dequantize(GGMLType.F16, new Uint8Array(Uint16Array.from({ length: N }, (_, h) => h).buffer), N).buffer);
const finite = (h: number) => (h & 0x7c00) !== 0x7c00;

function mismatches(got: Uint32Array, which: (h: number) => boolean): string[] {
  const bad: string[] = [];
  for (let h = 0; h < N; h++) if (which(h) && got[h] !== want[h]) bad.push(`0x${h.toString(16)}: 0x${got[h].toString(16)} vs 0x${want[h].toString(16)}`);
  return bad;
}

test('f16_to_f32 gives the host\'s bits for all 65536 halves (subnormals, ±0, infinities, NaN payloads)', () => {
  scalar(SRC, DST, N);
  assert.equal(mismatches(new Uint32Array(probe.memory.buffer, DST, N), () => true).slice(0, 5), []);
});

for (const [form, name] of FORMS.entries()) {
  const finiteOnly = name.startsWith('finite');
  test(`${name} gives the host's bits for ${finiteOnly ? 'every finite half' : 'all 65536 halves'}`, () => {
    new Uint32Array(probe.memory.buffer, DST, N).fill(0xdeadbeef);
    lanes(form, SRC, DST, N);
    assert.equal(mismatches(new Uint32Array(probe.memory.buffer, DST, N), finiteOnly ? finite : () => true).slice(0, 5), []);
  });
}

test('f32_to_f16 rounds as the host (nearest even, overflow to infinity, subnormals, NaN) over every half\'s value, its neighbours and random floats', () => {
  const rnd = mulberry32(16);
  const values: number[] = [];
  const bits = new Uint32Array(1);
  const asFloat = new Float32Array(bits.buffer);
  for (let h = 0; h < N; h++) {
    const f = f16ToF32(h);
    asFloat[0] = f;
    const b = bits[0];
    values.push(f);
    for (const d of [-1, 1, 0x1000, -0x1000]) {
      bits[0] = b + d;
      values.push(asFloat[0]);
    }
  }
  for (let i = 0; i < 200_000; i++) {
    bits[0] = Math.floor(rnd() * 2 ** 32);
    values.push(asFloat[0]);
  }
  const n = values.length;
  const src = 1 << 16, dst = src + 4 * n;
  if (probe.memory.buffer.byteLength < dst + 2 * n) probe.memory.grow(Math.ceil((dst + 2 * n - probe.memory.buffer.byteLength) / 65536));
  new Float32Array(probe.memory.buffer, src, n).set(values);
  toHalves(src, dst, n);
  const got = new Uint16Array(probe.memory.buffer, dst, n);
  const input = new Float32Array(probe.memory.buffer, src, n);
  const bad: string[] = [];
  for (let i = 0; i < n && bad.length < 5; i++) {
    const w = f32ToF16(input[i]);
    if (got[i] !== w) bad.push(`${input[i]}: 0x${got[i].toString(16)} vs 0x${w.toString(16)}`);
  }
  assert.equal(bad, []);
});

test.run();
