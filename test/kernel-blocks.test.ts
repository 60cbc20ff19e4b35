// asm/lib/blocks.ts, the kernels' mirror of the block layouts, held to the host's block-format table:
// every format's values and bytes per block as the host states them, the repacked layouts' row groups, and
// each block's field offsets adding up to its size. asm/lib/blocks.ts is compiled alone, its exported
// constants read back as wasm globals (what asc computed, not the source text).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BLOCK_FORMATS, groupBytes, type BlockFormat } from '../host/model/block-formats.js';
import { compileAsmProbe } from './helpers/asm-probe.js';

/**
 * The host's facts: its one block-format table (host/model/block-formats.ts), the formats the kernels
 * read or write: every weight format a kernel runs, every activation format, every layout made by a
 * repack kernel (bf16 has no kernel; f16f is f16's bytes on other kernels).
 */
function hostFormats(): { blocks: Record<string, { values: number; bytes: number }>; groups: Record<string, { rows: number; bytes: number }> } {
  const kernelFormat = (f: BlockFormat) => (f.pairs !== undefined || f.activation !== undefined) && (f.madeFrom === undefined || f.madeFrom.repackKernel !== undefined);
  const formats = Object.values(BLOCK_FORMATS).filter(kernelFormat);
  return {
    blocks: Object.fromEntries(formats.filter((f) => f.rows === 1).map((f) => [f.name, { values: f.blockValues, bytes: f.blockBytes }])),
    groups: Object.fromEntries(formats.filter((f) => f.rows > 1).map((f) => [f.name, { rows: f.rows, bytes: groupBytes(f) }])),
  };
}

const exported = compileAsmProbe('lib/blocks.ts');
/** The mirror's constants: name -> value. */
const mirror: Record<string, number> = Object.fromEntries(
  Object.entries(exported).filter(([, v]) => v instanceof WebAssembly.Global).map(([k, v]) => [k, (v as WebAssembly.Global).value as number]),
);
const host = hostFormats();
const NAME = (format: string) => format.toUpperCase(); // q4_K -> Q4_K, q16_0s -> Q16_0S, q4_0r8 -> Q4_0R8

test('the mirror states values and bytes per block of every format the kernels use, as the host\'s table states them', () => {
  assert.equal(Object.keys(host.blocks).sort(), [
    'f16', 'f32', 'q16_0', 'q16_0s', 'q16_K', 'q2_K', 'q3_K', 'q4_0', 'q4_1', 'q4_K', 'q5_0', 'q5_1', 'q5_K', 'q6_K', 'q8_0', 'q8_0e', 'q8_0s', 'q8_0w', 'q8_1', 'q8_K', 'q8_Kp',
  ]);
  for (const [format, { values, bytes }] of Object.entries(host.blocks)) {
    assert.is(mirror[`${NAME(format)}_BLOCK`], values, `${format}: values per block`);
    assert.is(mirror[`${NAME(format)}_BYTES`], bytes, `${format}: bytes per block`);
  }
});

test('the repacked layouts interleave the host\'s row group: rows and bytes per group block', () => {
  assert.equal(Object.keys(host.groups).sort(), ['q2_Kr4', 'q3_Kr4', 'q4_0r8', 'q4_Kr4', 'q5_0r4', 'q5_1r4', 'q6_Kr4']);
  for (const [layout, { rows, bytes }] of Object.entries(host.groups)) {
    assert.is(mirror[`${NAME(layout)}_ROWS`], rows, `${layout}: rows per group`);
    assert.is(mirror[`${NAME(layout)}_BYTES`], bytes, `${layout}: bytes per group block`);
  }
  assert.is(mirror.Q4_0R8_HALF * 2, mirror.Q4_0R8_BYTES);
});

test('the mirror has nothing the host does not know: every block format and layout is one of the host\'s', () => {
  const known = new Set([...Object.keys(host.blocks), ...Object.keys(host.groups)].map(NAME));
  const formats = new Set(Object.keys(mirror).filter((k) => /_(BLOCK|ROWS)$/.test(k)).map((k) => k.replace(/_(BLOCK|ROWS)$/, '')));
  assert.equal([...formats].sort(), [...known].sort());
});

test('each block\'s field offsets follow ggml\'s and wisp\'s structs and add up to the block size', () => {
  const m = mirror;
  // block_q8_0 { f16 d; i8 qs[32] }, block_q4_0 { f16 d; u8 qs[16] }
  assert.is(m.Q8_0_QS, 2);
  assert.is(m.Q8_0_QS + m.Q8_0_BLOCK, m.Q8_0_BYTES);
  assert.is(m.Q4_0_QS + m.Q4_0_BLOCK / 2, m.Q4_0_BYTES);
  // block_q4_1 { f16 d; f16 m; u8 qs[16] }, block_q5_0 { f16 d; u8 qh[4]; u8 qs[16] }, block_q5_1 { f16 d; f16 m; u8 qh[4]; u8 qs[16] }
  assert.equal([m.Q4_1_M, m.Q4_1_QS, m.Q4_1_BYTES], [2, 4, 4 + m.Q4_1_BLOCK / 2]);
  assert.equal([m.Q5_0_QH, m.Q5_0_QS, m.Q5_0_BYTES], [2, 6, 6 + m.Q5_0_BLOCK / 2]);
  assert.equal([m.Q5_1_M, m.Q5_1_QH, m.Q5_1_QS, m.Q5_1_BYTES], [2, 4, 8, 8 + m.Q5_1_BLOCK / 2]);
  // block_q8_1 { f16 d; f16 s; i8 qs[32] }; q8_0e { f16 d; i16 e; i8 qs[32] }
  assert.equal([m.Q8_1_S, m.Q8_1_QS, m.Q8_1_BYTES], [2, 4, 4 + m.Q8_1_BLOCK]);
  assert.equal([m.Q8_0E_SUM, m.Q8_0E_QS, m.Q8_0E_BYTES], [2, 4, 4 + m.Q8_0E_BLOCK]);
  // block_q2_K { u8 scales[16]; u8 qs[64]; f16 d; f16 dmin }, block_q3_K { u8 hmask[32]; u8 qs[64]; u8 scales[12]; f16 d }
  assert.equal([m.Q2_K_QS, m.Q2_K_D, m.Q2_K_DMIN, m.Q2_K_BYTES], [16, 16 + 64, 80 + 2, 82 + 2]);
  assert.equal([m.Q3_K_QS, m.Q3_K_SCALES, m.Q3_K_D, m.Q3_K_BYTES], [32, 32 + 64, 96 + 12, 108 + 2]);
  // block_q5_K { f16 d; f16 dmin; u8 scales[12]; u8 qh[32]; u8 qs[128] }
  assert.equal([m.Q5_K_DMIN, m.Q5_K_SCALES, m.Q5_K_QH, m.Q5_K_QS, m.Q5_K_BYTES], [2, 4, 16, 16 + 32, 48 + m.Q5_K_BLOCK / 2]);
  // block_q4_K { f16 d; f16 dmin; u8 scales[12]; u8 qs[128] }
  assert.equal([m.Q4_K_DMIN, m.Q4_K_SCALES, m.Q4_K_QS, m.Q4_K_BYTES], [2, 4, 4 + 12, 16 + m.Q4_K_BLOCK / 2]);
  // block_q6_K { u8 ql[128]; u8 qh[64]; i8 scales[16]; f16 d }
  assert.equal([m.Q6_K_QH, m.Q6_K_SCALES, m.Q6_K_D, m.Q6_K_BYTES], [128, 128 + 64, 192 + 16, 208 + 2]);
  // block_q8_K { f32 d; i8 qs[256]; i16 bsums[16] }
  assert.equal([m.Q8_K_QS, m.Q8_K_BSUMS, m.Q8_K_BYTES], [4, 4 + m.Q8_K_BLOCK, 260 + 2 * 16]);
  // q16_0 { f32 d; i16 q[32] }, q16_0s = q16_0 then i32 e, q16_K { f32 d; i16 q[256]; i32 bsums[16] }
  assert.is(m.Q16_0_Q + 2 * m.Q16_0_BLOCK, m.Q16_0_BYTES);
  assert.equal([m.Q16_0S_SUM, m.Q16_0S_BYTES], [m.Q16_0_BYTES, m.Q16_0_BYTES + 4]);
  assert.equal([m.Q16_K_Q, m.Q16_K_BSUMS, m.Q16_K_BYTES], [4, 4 + 2 * m.Q16_K_BLOCK, 516 + 4 * 16]);
  // q8_0w = q16_0's layout; q8_0s = q16_0s's bytes then i8 qr[32]
  assert.equal([m.Q8_0W_Q, m.Q8_0W_BYTES], [m.Q16_0_Q, m.Q16_0_BYTES]);
  assert.equal([m.Q8_0S_Q, m.Q8_0S_SUM, m.Q8_0S_QR, m.Q8_0S_BYTES], [m.Q16_0S_Q ?? m.Q16_0_Q, m.Q16_0S_SUM, m.Q16_0S_BYTES, m.Q16_0S_BYTES + 32]);
  // q4_Kr4: d and dmin of four rows, their re-encoded scales, mins and high bits, then 8 sub-blocks of four 16-byte chunks
  assert.equal([m.Q4_KR4_DMIN, m.Q4_KR4_SCALES, m.Q4_KR4_MINS, m.Q4_KR4_HIGH, m.Q4_KR4_QS], [8, 16, 32, 48, 64]);
  assert.is(m.Q4_KR4_QS + 8 * 4 * 16, m.Q4_KR4_BYTES);
  // q6_Kr4: 16 groups of four rows' 16 quants (48 bytes each), their 64 scales, their four d
  assert.equal([m.Q6_KR4_SCALES, m.Q6_KR4_D, m.Q6_KR4_BYTES], [16 * 48, 16 * 48 + 64, 16 * 48 + 64 + 8]);
  // q5_0r4: four d, then five 16-byte vectors of levels; q5_1r4: four d, four m, then the same
  assert.equal([m.Q5_0R4_QS, m.Q5_0R4_BYTES], [4 * 2, 8 + 5 * 16]);
  assert.equal([m.Q5_1R4_M, m.Q5_1R4_QS, m.Q5_1R4_BYTES], [4 * 2, 8 + 4 * 2, 16 + 5 * 16]);
  // q2_Kr4: 4 units of four group vectors of four rows' 2-bit quants, their 16 scales and 16 mins (nibbles), four d, four dmin
  assert.equal([m.Q2_KR4_UNIT_SCALES, m.Q2_KR4_UNIT_MINS, m.Q2_KR4_UNIT, m.Q2_KR4_D, m.Q2_KR4_DMIN, m.Q2_KR4_BYTES], [64, 72, 80, 320, 328, 336]);
  // q3_Kr4: 8 pairs of groups of four rows' 3-bit levels (48 bytes each), 64 6-bit scales (32 + 16 bytes), four d
  assert.equal([m.Q3_KR4_SCALES, m.Q3_KR4_SCALES_HIGH, m.Q3_KR4_D, m.Q3_KR4_BYTES], [8 * 48, 8 * 48 + 32, 8 * 48 + 48, 8 * 48 + 56]);
});

test.run();
