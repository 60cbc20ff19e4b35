import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { StopMatcher } from '../host/engine/stop-matcher.js';
import { argmax, mulberry32, Sampler } from '../host/engine/sampler.js';

const logits = Float32Array.from([1, 3, 2, 0.5, 2.9]);

test('temperature 0 is argmax', () => {
  assert.is(new Sampler({ temperature: 0 }).sample(logits), 1);
  assert.is(argmax(logits), 1);
});

test('the same seed gives the same tokens; another seed differs', () => {
  const draw = (seed: number) => {
    const s = new Sampler({ temperature: 1.5, topK: 0, topP: 1, minP: 0, seed });
    return Array.from({ length: 50 }, () => s.sample(logits));
  };
  assert.equal(draw(42), draw(42));
  assert.not.equal(draw(42), draw(43));
});

test('options passed as undefined take their defaults', () => {
  const s = new Sampler({ temperature: 0, repeatPenalty: undefined, topK: undefined, seed: undefined });
  assert.is(s.sample(logits, [1, 1, 1]), 1);
});

test('top-k 1 is greedy at any temperature', () => {
  const s = new Sampler({ temperature: 5, topK: 1, seed: 1 });
  for (let i = 0; i < 20; i++) assert.is(s.sample(logits), 1);
});

test('top-p and min-p cut the unlikely tail', () => {
  const sharp = Float32Array.from([10, 9.5, 0, 0, 0]);
  const p = new Sampler({ temperature: 1, topK: 0, topP: 0.9, minP: 0, seed: 3 });
  const m = new Sampler({ temperature: 1, topK: 0, topP: 1, minP: 0.5, seed: 3 });
  for (let i = 0; i < 200; i++) {
    assert.ok(p.sample(sharp) <= 1);
    assert.ok(m.sample(sharp) <= 1);
  }
});

test('sampling frequencies follow the softmax at temperature 1', () => {
  const l = Float32Array.from([Math.log(0.5), Math.log(0.3), Math.log(0.2)]);
  const s = new Sampler({ temperature: 1, topK: 0, topP: 1, minP: 0, seed: 9 });
  const counts = [0, 0, 0];
  for (let i = 0; i < 20000; i++) counts[s.sample(l)]++;
  assert.ok(Math.abs(counts[0] / 20000 - 0.5) < 0.02 && Math.abs(counts[2] / 20000 - 0.2) < 0.02);
});

test('repetition penalty divides positive and multiplies negative logits of recent tokens', () => {
  const s = new Sampler({ temperature: 0, repeatPenalty: 2, repeatLastN: 4 });
  assert.is(s.sample(Float32Array.from([1, 3, 2]), [1]), 2); // 3/2 = 1.5 < 2
  assert.is(s.sample(Float32Array.from([-1, -0.6, -0.9]), [1]), 2); // -0.6*2 = -1.2
  assert.is(s.sample(Float32Array.from([1, 3, 2]), [1, 0, 0, 0, 0]), 1); // token 1 is older than the window
});

test('bad sampling options are refused with the field named', () => {
  assert.throws(() => new Sampler({ temperature: -1 }), /temperature/);
  assert.throws(() => new Sampler({ topP: 0 }), /topP/);
  assert.throws(() => new Sampler({ topK: 1.5 }), /topK/);
  assert.throws(() => new Sampler({ minP: 2 }), /minP/);
  assert.throws(() => new Sampler({ repeatPenalty: 0 }), /repeatPenalty/);
});

test('mulberry32 is uniform in [0, 1)', () => {
  const r = mulberry32(1);
  let sum = 0;
  for (let i = 0; i < 10000; i++) {
    const x = r();
    assert.ok(x >= 0 && x < 1);
    sum += x;
  }
  assert.ok(Math.abs(sum / 10000 - 0.5) < 0.02);
});

test('stop strings are cut and never streamed, however the text is split', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 30 }), (cuts) => {
      const text = 'The end.\n\nUser: hello';
      const m = new StopMatcher(['User:', '\n\n\n']);
      let out = '';
      let at = 0;
      for (const n of cuts) {
        if (at >= text.length) break;
        const { emit, stopped } = m.push(text.slice(at, at + n));
        out += emit;
        at += n;
        if (stopped) break;
      }
      if (!m.stopped) out += m.flush(text.slice(at));
      return out === 'The end.\n\n' && m.stopped;
    }),
  );
});

test('without a stop string in the text, everything is emitted by flush', () => {
  const m = new StopMatcher(['STOP']);
  let out = m.push('a ST').emit;
  out += m.push('O').emit;
  out += m.flush(' b');
  assert.is(out, 'a STO b');
});

test.run();
