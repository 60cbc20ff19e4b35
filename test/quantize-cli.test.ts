// `wisp quantize` as a user runs it: the built CLI on stories260K for every type, the types the output
// really holds (read back with the GGUF reader), and a summary that says so, fallbacks included.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType, traitsOf } from '../host/model/ggml-types.js';
import { GGUFFile } from '../host/model/gguf/index.js';
import { foldLayerNames } from '../host/model/quantize-model.js';
import { CLI, sharedModel } from './helpers/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'wisp-quantize-cli-'));
const stories = sharedModel('stories260K.gguf');

function wisp(args: string[]) {
  // pipes, not a terminal: progress comes as plain lines on stderr
  const res = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: res.status, out: res.stdout, err: res.stderr };
}

const typeName = (t: GGMLType) => traitsOf(t).name;

// stories260K: every matrix has rows of 64 values (dims[0]) except ffn_down's 172; 11 f32 norms.
// What each --type must write for a row length, stated here rather than computed by the code under test.
const CASES: Array<{ arg: string; type: GGMLType; rows64: GGMLType; rows172: GGMLType }> = [
  { arg: 'q8_0', type: GGMLType.Q8_0, rows64: GGMLType.Q8_0, rows172: GGMLType.F32 },
  { arg: 'q4_0', type: GGMLType.Q4_0, rows64: GGMLType.Q4_0, rows172: GGMLType.F32 },
  { arg: 'q4_1', type: GGMLType.Q4_1, rows64: GGMLType.Q4_1, rows172: GGMLType.F32 },
  { arg: 'q5_0', type: GGMLType.Q5_0, rows64: GGMLType.Q5_0, rows172: GGMLType.F32 },
  { arg: 'q5_1', type: GGMLType.Q5_1, rows64: GGMLType.Q5_1, rows172: GGMLType.F32 },
  // llama.cpp's fallbacks for rows that are not a multiple of 256
  { arg: 'q2_k', type: GGMLType.Q2_K, rows64: GGMLType.Q4_0, rows172: GGMLType.F32 },
  { arg: 'q3_k', type: GGMLType.Q3_K, rows64: GGMLType.Q4_0, rows172: GGMLType.F32 },
  { arg: 'q4_k', type: GGMLType.Q4_K, rows64: GGMLType.Q5_0, rows172: GGMLType.F32 },
  { arg: 'q5_k', type: GGMLType.Q5_K, rows64: GGMLType.Q5_1, rows172: GGMLType.F32 },
  { arg: 'q6_k', type: GGMLType.Q6_K, rows64: GGMLType.Q8_0, rows172: GGMLType.F32 },
  { arg: 'f16', type: GGMLType.F16, rows64: GGMLType.F16, rows172: GGMLType.F16 },
];

for (const c of CASES) {
  test(`wisp quantize --type ${c.arg} on stories260K writes the types its summary reports`, () => {
    const out = join(dir, `stories-${c.arg}.gguf`);
    const r = wisp(['quantize', stories, out, '--type', c.arg]);
    assert.is(r.code, 0, r.err);

    const src = GGUFFile.open(stories);
    const got = GGUFFile.open(out);
    assert.is(got.tensors.length, 48);
    const counts: Record<string, number> = {};
    for (const t of src.tensors) {
      const want = t.dims.length === 1 ? GGMLType.F32 : t.dims[0] === 64 ? c.rows64 : c.rows172;
      assert.ok(t.dims.length === 1 || t.dims[0] === 64 || t.dims[0] === 172, `${t.name} ${t.dims}`);
      const written = got.tensorInfo(t.name).type;
      assert.is(typeName(written), typeName(want), t.name);
      counts[typeName(written)] = (counts[typeName(written)] ?? 0) + 1;
      // and the data reads back as the same weights, within the type's rounding
      if (t.dims.length === 2 && t.name.endsWith('attn_q.weight')) {
        const a = src.tensorF32(t.name), b = got.tensorF32(t.name);
        const amax = a.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
        let err = 0;
        for (let i = 0; i < a.length; i++) err = Math.max(err, Math.abs(a[i] - b[i]));
        const tolerance: Partial<Record<GGMLType, number>> = { [GGMLType.Q4_0]: 0.1, [GGMLType.Q4_1]: 0.1, [GGMLType.Q5_0]: 0.07, [GGMLType.Q5_1]: 0.04 };
        assert.ok(err <= amax * (tolerance[c.rows64] ?? 0.01), `${t.name}: max error ${err} of ${amax}`);
      }
    }

    // the summary counts what was written, per type, never the requested type in its place
    const line = r.out.split('\n')[0];
    const listed = Object.entries(counts).sort((a, b) => b[1] - a[1]).map(([t, n]) => `${n} ${t}`).join(', ');
    assert.match(line, `: 48 tensors: ${listed} (`);
    assert.not.match(r.out, /re-encoded as/);
    const requested = typeName(c.type);
    const fallbacks = (c.rows64 !== c.type ? 32 : 0) + (c.rows172 !== c.type ? 5 : 0);
    if (fallbacks === 0) {
      assert.match(r.out, `all 37 matrices are ${requested}`);
    } else {
      assert.match(r.out, `${fallbacks} of 37 matrices are not ${requested}:`);
      // each fallback group names its tensors and the row length that made it fall back
      if (c.rows64 !== c.type) {
        assert.match(r.out, `  32 ${typeName(c.rows64)}: rows of 64 values are not a multiple of ${requested}'s 256-value blocks (llama.cpp's fallback): token_embd.weight, output.weight, blk.0-4.attn_q.weight,`);
      }
      assert.match(r.out, new RegExp(`\\n  5 f32: rows of 172 values are not a multiple of ${requested}'s \\d+-value blocks.*; kept f32: blk\\.0-4\\.ffn_down\\.weight\\n`));
    }

    // stdout is not a terminal here: progress is plain lines (on stderr), ending at 100%
    assert.match(r.err, /^quantize: 100% \(/m);
    assert.not.match(r.err, /\x1b\[/);
  });
}

test('a matrix no block tiles keeps its f16 (an f16 model quantized to q4_0 keeps ffn_down f16, not doubled to f32)', () => {
  const f16 = join(dir, 'stories-f16-in.gguf');
  assert.is(wisp(['quantize', stories, f16, '--type', 'f16']).code, 0);
  const out = join(dir, 'stories-f16-q4_0.gguf');
  const r = wisp(['quantize', f16, out, '--type', 'q4_0']);
  assert.is(r.code, 0, r.err);
  const got = GGUFFile.open(out);
  for (let l = 0; l < 5; l++) {
    assert.is(typeName(got.tensorInfo(`blk.${l}.ffn_down.weight`).type), 'f16');
    assert.is(typeName(got.tensorInfo(`blk.${l}.ffn_up.weight`).type), 'q4_0');
  }
  assert.match(r.out, ': 48 tensors: 32 q4_0, 11 f32, 5 f16 (32 re-encoded, 16 copied)');
  assert.match(r.out, "  5 f16: rows of 172 values are not a multiple of q4_0's 32-value blocks; kept f16: blk.0-4.ffn_down.weight");
});

test('an unknown --type is a one-line error naming the choices', () => {
  const r = wisp(['quantize', stories, join(dir, 'x.gguf'), '--type', 'iq4_nl']);
  assert.is(r.code, 1);
  assert.match(r.err, /unknown weight type or mix 'iq4_nl'; choose one of .*q4_k.* or a mix: .*q4_k_m/);
  assert.not.match(r.err, /\n\s+at /);
});

test('foldLayerNames folds layer numbers into ranges, keeping first-appearance order', () => {
  assert.equal(
    foldLayerNames(['token_embd.weight', 'blk.0.a.weight', 'blk.0.b.weight', 'blk.1.a.weight', 'blk.2.a.weight', 'blk.5.a.weight', 'blk.10.b.weight', 'output.weight']),
    ['token_embd.weight', 'blk.0-2,5.a.weight', 'blk.0,10.b.weight', 'output.weight'],
  );
});

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
