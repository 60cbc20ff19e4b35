// `wisp bench serve` smoke test: a short run on stories260K gives a sane report (no timing thresholds).
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { loadNodeLlamaCpp } from '../host/bench/llamacpp.js';
import { benchServe, percentiles } from '../host/bench/serve.js';
import { sharedModel } from './helpers/paths.js';

test('percentiles', () => {
  assert.equal(percentiles([]), { p50: 0, p95: 0, mean: 0 });
  const p = percentiles(Array.from({ length: 100 }, (_, i) => 100 - i));
  assert.is(p.p50, 50);
  assert.is(p.p95, 95);
  assert.is(p.mean, 50.5);
});

test('1 and 2 streams over MQTT, the direct baseline and the engine alone: every request answered, tokens counted', async () => {
  const r = await benchServe({ modelPath: sharedModel('stories260K.gguf'), threads: 1, streams: [1, 2], maxSequences: 2, maxTokens: 16, seconds: 0.3, directRequests: 4 });
  assert.is(r.model, 'stories260K.gguf');
  assert.is(r.direct.requests, 4);
  assert.ok(r.direct.tokens > 0 && r.direct.tokensPerSecond > 0);
  assert.equal(r.engineBatch.map((e) => e.sequences), [1, 2]);
  assert.equal(r.levels.map((l) => l.streams), [1, 2]);
  for (const l of r.levels) {
    assert.ok(l.requests >= l.streams, `${l.streams} streams: ${l.requests} requests`);
    assert.is(l.errors, 0);
    assert.ok(l.tokens > 0 && l.tokens <= l.requests * 16);
    assert.ok(l.ttftClientMs.p50 > 0 && l.ttftClientMs.p95 >= l.ttftClientMs.p50);
    assert.ok(l.ttftDeviceMs.p50 > 0);
    const st = l.serviceThread;
    assert.ok(st.steps > 0 && st.prefills > 0, `${l.streams} streams: ${st.steps} steps, ${st.prefills} prompts counted`);
    assert.ok(st.meanBatch >= 1 && st.meanBatch <= l.streams, `${l.streams} streams: mean batch ${st.meanBatch}`);
    for (const share of [st.decode, st.prefill, st.other, st.idle]) assert.ok(share >= 0 && share <= 1);
    assert.ok(Math.abs(st.decode + st.prefill + st.other + st.idle - 1) < 1e-9);
  }
  assert.is(r.scaling['1'], 1);
  assert.ok(Number.isFinite(r.mqttOverhead.tokensPerSecondRatio));
  // llama.cpp's rows only when node-llama-cpp is found (WISP_LLAMACPP); nothing else depends on it
  if (await loadNodeLlamaCpp()) {
    assert.equal(r.llamaCppBatch?.map((b) => b.sequences), [1, 2]);
    assert.is(r.llamaCppBatch![0].ratio, 1);
    for (const b of r.llamaCppBatch!) assert.ok(b.generatedTokens > 0 && b.generatedTokens <= b.sequences * 16 && b.tokensPerSecond > 0);
  } else {
    assert.is(r.llamaCppBatch, undefined);
  }
});

test('llamaCpp: false leaves llama.cpp out even when node-llama-cpp is installed', async () => {
  const r = await benchServe({ modelPath: sharedModel('stories260K.gguf'), threads: 1, streams: [1], maxSequences: 1, maxTokens: 4, seconds: 0.1, directRequests: 1, llamaCpp: false });
  assert.is(r.llamaCppBatch, undefined);
  assert.equal(r.levels.map((l) => l.streams), [1]);
});

test.run();
