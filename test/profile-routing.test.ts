// Routing plans: layer specs, rule precedence (later rule wins), provider fallback with the
// reason recorded, bounds errors at plan time, and the plan as plain data.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  describeRoutingPlan,
  entryBackend,
  loadProfiles,
  parseLayerSpec,
  parseProfile,
  planEntries,
  planRouting,
  ProfileError,
  selectLayers,
  sessionProvider,
  type RoutingPlan,
  type RoutingRule,
} from '../host/profiles/index.js';

function profile(routing: { default: string; rules?: RoutingRule[] }, providers = ['qnn', 'cuda', 'cpu']) {
  return parseProfile({
    name: 'test',
    description: 'routing test',
    match: {},
    threads: 2,
    simd: 'simd128',
    providers,
    providerOptions: providers.includes('cuda') ? { cuda: { deviceId: 1 } } : {},
    routing,
    memory: { budgetMiB: 512 },
    batch: { maxSequences: 1, maxBatchTokens: 64 },
  }, 'device-profiles/test.json');
}

const backends = (plan: RoutingPlan, op: 'attention' | 'ffn') => plan.layers.map((l) => entryBackend(l[op]));

test('layer specs: ranges, open ranges, even, odd, all, lists, spaces', () => {
  assert.equal(selectLayers('0-3', 8), [0, 1, 2, 3]);
  assert.equal(selectLayers('5-', 8), [5, 6, 7]);
  assert.equal(selectLayers('even', 5), [0, 2, 4]);
  assert.equal(selectLayers('odd', 5), [1, 3]);
  assert.equal(selectLayers('all', 3), [0, 1, 2]);
  assert.equal(selectLayers('6, 0,2 ,4', 8), [0, 2, 4, 6]);
  assert.equal(selectLayers('0-1,odd', 6), [0, 1, 3, 5]);
  assert.equal(selectLayers('3 - 4', 5), [3, 4]);
  assert.equal(parseLayerSpec('2-'), [{ kind: 'range', from: 2, to: null, text: '2-' }]);
  assert.throws(() => parseLayerSpec('1-2-3'), /not a layer spec/);
  assert.throws(() => parseLayerSpec(''), /not a layer spec/);
  assert.throws(() => parseLayerSpec('-3'), /not a layer spec/);
});

test('a layer range past the model is a ProfileError at plan time naming the file, rule and layer count', () => {
  const p = profile({ default: 'wasm', rules: [{ layers: '0-7', backend: 'wasm' }, { layers: '0-99', ops: ['ffn'], backend: 'onnx:qnn' }, { layers: '1,12', backend: 'wasm' }, { layers: '12-', backend: 'wasm' }] });
  planRouting(p, { nLayers: 100 }, ['cpu']);
  try {
    planRouting(p, { nLayers: 12 }, ['cpu']);
    assert.unreachable('expected a ProfileError');
  } catch (err) {
    assert.instance(err, ProfileError);
    const lines = (err as Error).message.split('\n');
    assert.equal(lines, [
      'device-profiles/test.json: /routing/rules/1/layers: "0-99" is past the model\'s 12 layers (0-11)',
      'device-profiles/test.json: /routing/rules/2/layers: "1,12" (item 12) is past the model\'s 12 layers (0-11)',
      'device-profiles/test.json: /routing/rules/3/layers: "12-" is past the model\'s 12 layers (0-11)',
    ]);
  }
  assert.throws(() => planRouting(p, { nLayers: 0 }, ['cpu']), /nLayers must be a positive integer/);
});

test('the default covers every layer op and the head', () => {
  const plan = planRouting(profile({ default: 'wasm' }), { nLayers: 3 }, ['cpu']);
  assert.is(planEntries(plan).length, 7);
  for (const e of planEntries(plan)) {
    assert.equal({ backend: e.backend, rule: e.rule, reason: e.reason, fallbacks: e.fallbacks }, { backend: 'wasm', rule: null, reason: 'default → wasm', fallbacks: [] });
  }
  assert.is(plan.head.layer, null);
  assert.is(plan.head.op, 'head');
});

test('rules: layers and ops select; later rules win where they overlap', () => {
  const p = profile({
    default: 'wasm',
    rules: [
      { layers: '0-5', backend: 'onnx:cpu' },
      { layers: 'even', ops: ['ffn'], backend: 'onnx:cuda' },
      { layers: '4-', ops: ['attention'], backend: 'wasm' },
    ],
  });
  const plan = planRouting(p, { nLayers: 8 }, ['cpu', 'cuda']);
  assert.equal(backends(plan, 'attention'), ['onnx:cpu', 'onnx:cpu', 'onnx:cpu', 'onnx:cpu', 'wasm', 'wasm', 'wasm', 'wasm']);
  assert.equal(backends(plan, 'ffn'), ['onnx:cuda', 'onnx:cpu', 'onnx:cuda', 'onnx:cpu', 'onnx:cuda', 'onnx:cpu', 'onnx:cuda', 'wasm']);
  assert.is(plan.layers[4].attention.rule, 2);
  assert.is(plan.layers[2].ffn.reason, 'rules[1] (layers even, ffn) → onnx:cuda');
  assert.is(plan.layers[7].ffn.reason, 'default → wasm');
  // a rule with layers does not touch the head; one without layers or ops covers everything
  assert.is(entryBackend(plan.head), 'wasm');
  const all = planRouting(profile({ default: 'wasm', rules: [{ backend: 'onnx:cpu' }] }), { nLayers: 2 }, ['cpu']);
  assert.ok(planEntries(all).every((e) => entryBackend(e) === 'onnx:cpu'));
});

test('the head is routed by a rule naming "head"', () => {
  const plan = planRouting(profile({ default: 'wasm', rules: [{ ops: ['head'], backend: 'onnx:cuda' }] }), { nLayers: 2 }, ['cpu', 'cuda']);
  assert.equal(planEntries(plan).map(entryBackend), ['wasm', 'wasm', 'wasm', 'wasm', 'onnx:cuda']);
  assert.is(plan.head.reason, 'rules[0] (head) → onnx:cuda');
});

test('a cuda rule on a device without cuda falls back to cpu, and the reason says so', () => {
  const plan = planRouting(profile({ default: 'wasm', rules: [{ layers: '0-1', ops: ['ffn'], backend: 'onnx:cuda' }] }), { nLayers: 3 }, ['cpu']);
  const e = plan.layers[0].ffn;
  assert.equal({ backend: e.backend, provider: e.provider, fallbacks: e.fallbacks }, { backend: 'onnx', provider: 'cpu', fallbacks: ['wasm'] });
  assert.is(e.reason, 'rules[0] (layers 0-1, ffn) → onnx:cuda; cuda unavailable → onnx:cpu');
  assert.is(entryBackend(plan.layers[2].ffn), 'wasm');
});

test('fallback walks down the provider list from the named provider, skipping each unavailable one', () => {
  const p = profile({ default: 'onnx:qnn' });
  const viaCuda = planRouting(p, { nLayers: 1 }, ['cpu', 'cuda']).head;
  assert.equal([viaCuda.provider, viaCuda.fallbacks, viaCuda.reason], ['cuda', ['onnx:cpu', 'wasm'], 'default → onnx:qnn; qnn unavailable → onnx:cuda']);
  const viaCpu = planRouting(p, { nLayers: 1 }, ['cpu']).head;
  assert.is(viaCpu.reason, 'default → onnx:qnn; qnn, cuda unavailable → onnx:cpu');
  const none = planRouting(p, { nLayers: 1 }, []).head;
  assert.equal([none.backend, none.provider, none.fallbacks, none.reason], ['wasm', undefined, [], 'default → onnx:qnn; qnn, cuda, cpu unavailable → wasm']);
  const direct = planRouting(p, { nLayers: 1 }, ['qnn', 'cpu']).head;
  assert.equal([direct.provider, direct.fallbacks, direct.reason], ['qnn', ['onnx:cpu', 'wasm'], 'default → onnx:qnn']);
  // a provider is never tried before the one named: a cuda rule does not climb back to qnn
  const cuda = planRouting(profile({ default: 'onnx:cuda' }), { nLayers: 1 }, ['qnn']).head;
  assert.is(cuda.reason, 'default → onnx:cuda; cuda, cpu unavailable → wasm');
});

test('"onnx" alone takes the first available provider of the profile list', () => {
  const plan = planRouting(profile({ default: 'onnx' }), { nLayers: 1 }, ['cpu', 'cuda']);
  assert.equal([plan.head.provider, plan.head.reason], ['cuda', 'default → onnx; qnn unavailable → onnx:cuda']);
  assert.is(planRouting(profile({ default: 'onnx' }), { nLayers: 1 }, ['qnn']).head.reason, 'default → onnx → onnx:qnn');
});

test('a rule that decides nothing is a warning', () => {
  const plan = planRouting(profile({ default: 'wasm', rules: [{ layers: '0', backend: 'onnx:cpu' }, { layers: 'all', backend: 'wasm' }, { layers: 'odd', ops: ['ffn'], backend: 'onnx:cpu' }] }), { nLayers: 1 }, ['cpu']);
  assert.equal(plan.warnings, [
    'rules[0] (layers 0, attention+ffn) decides nothing: later rules override it everywhere',
    'rules[2] (layers odd, ffn) decides nothing: it selects no layer of a 1-layer model',
  ]);
});

test('the plan is plain data: JSON and structuredClone keep it whole', () => {
  const plan = planRouting(profile({ default: 'wasm', rules: [{ ops: ['ffn'], backend: 'onnx:cuda' }] }), { nLayers: 2 }, ['cpu', 'cuda']);
  assert.equal(JSON.parse(JSON.stringify(plan)), plan);
  assert.equal(structuredClone(plan), plan);
  assert.equal(plan.providerOptions, { cuda: { deviceId: 1 } });
  assert.equal(sessionProvider(plan, 'cuda'), { deviceId: 1, name: 'cuda' });
  assert.equal(sessionProvider(plan, 'cpu'), { name: 'cpu' });
  assert.is(plan.source, 'device-profiles/test.json');
});

test('describeRoutingPlan prints one line per entry, in execution order', () => {
  const plan = planRouting(profile({ default: 'wasm', rules: [{ layers: '1', ops: ['ffn'], backend: 'onnx:cuda' }] }), { nLayers: 2 }, ['cpu']);
  const lines = describeRoutingPlan(plan).split('\n');
  assert.is(lines.length, 5);
  assert.match(lines[0], /^layer 0 attention +wasm +default → wasm$/);
  assert.match(lines[3], /^layer 1 ffn +onnx:cpu +rules\[0\] \(layers 1, ffn\) → onnx:cuda; cuda unavailable → onnx:cpu$/);
  assert.match(lines[4], /^head +wasm +default → wasm$/);
});

test('shipped profiles: jetson-orin without cuda/tensorrt lands on cpu; qualcomm-npu keeps attention on wasm', () => {
  const byName = new Map(loadProfiles().map((p) => [p.name, p]));
  const jetson = planRouting(byName.get('jetson-orin')!, { nLayers: 4 }, ['cpu']);
  assert.ok(planEntries(jetson).every((e) => entryBackend(e) === 'onnx:cpu'));
  assert.is(jetson.layers[0].attention.reason, 'default → onnx:tensorrt; tensorrt, cuda unavailable → onnx:cpu');
  const orin = planRouting(byName.get('jetson-orin')!, { nLayers: 4 }, ['tensorrt', 'cuda', 'cpu']);
  assert.equal([entryBackend(orin.layers[3].ffn), entryBackend(orin.head), orin.head.fallbacks], ['onnx:tensorrt', 'onnx:cuda', ['onnx:cpu', 'wasm']]);
  const npu = planRouting(byName.get('qualcomm-npu')!, { nLayers: 4 }, ['qnn', 'cpu']);
  assert.equal(backends(npu, 'attention'), ['wasm', 'wasm', 'wasm', 'wasm']);
  assert.equal(backends(npu, 'ffn'), ['onnx:qnn', 'onnx:qnn', 'onnx:qnn', 'onnx:qnn']);
  assert.is(entryBackend(npu.head), 'onnx:qnn');
});

test.run();
