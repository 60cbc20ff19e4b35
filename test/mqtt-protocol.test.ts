// The protocol's single source of truth: the JSON Schemas. docs/PROTOCOL.md's examples validate
// against them, their defaults are the engine's, and any payload gives a result or a ProtocolError.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DEFAULT_SAMPLING } from '../host/engine/sampler.js';
import { DEFAULT_MAX_TOKENS, ProtocolError, parseCancel, parseInferRequest, schemaPath, sequenceOptions, validator } from '../host/mqtt/protocol.js';
import { ROOT } from './helpers/paths.js';

test('every JSON example in docs/PROTOCOL.md is valid against the schema it shows', () => {
  const doc = readFileSync(join(ROOT, 'docs', 'PROTOCOL.md'), 'utf8');
  const blocks = [...doc.matchAll(/```json\n([\s\S]*?)```/g)].map((m) => JSON.parse(m[1].replace(/"…"/g, '"x"')));
  assert.ok(blocks.length >= 6, `found ${blocks.length} examples`);
  for (const b of blocks) {
    const which = ['infer-request', 'reply', 'status', 'cancel', 'kernel-control', 'kernel-control-reply'] as const;
    const ok = which.filter((w) => validator(w)(b));
    assert.ok(ok.length > 0, `example ${JSON.stringify(b).slice(0, 100)} matches no schema: ${JSON.stringify(validator('reply').errors)}`);
  }
});

test('the error table in docs/PROTOCOL.md lists exactly the codes of reply.schema.json', () => {
  const doc = readFileSync(join(ROOT, 'docs', 'PROTOCOL.md'), 'utf8');
  const table = doc.slice(doc.indexOf('| code | when |'));
  const documented = [...table.slice(0, table.indexOf('\n\n')).matchAll(/^\| `(\w+)` \|/gm)].map((m) => m[1]);
  const schema = JSON.parse(readFileSync(schemaPath('reply'), 'utf8')).definitions.error.properties.error.properties.code.enum as string[];
  assert.equal(documented.sort(), [...schema].sort());
});

test('schema defaults are the engine defaults', () => {
  const props = JSON.parse(readFileSync(schemaPath('infer-request'), 'utf8')).properties;
  assert.is(props.temperature.default, DEFAULT_SAMPLING.temperature);
  assert.is(props.top_k.default, DEFAULT_SAMPLING.topK);
  assert.is(props.top_p.default, DEFAULT_SAMPLING.topP);
  assert.is(props.min_p.default, DEFAULT_SAMPLING.minP);
  assert.is(props.repeat_penalty.default, DEFAULT_SAMPLING.repeatPenalty);
  assert.is(props.max_tokens.default, DEFAULT_MAX_TOKENS);
  const o = sequenceOptions({ id: 'x', prompt: 'p' });
  assert.equal([o.maxTokens, o.temperature, o.topK, o.topP, o.minP, o.repeatPenalty], [DEFAULT_MAX_TOKENS, 0.8, 40, 0.95, 0.05, 1]);
});

test('errors name the field', () => {
  const cases: Array<[unknown, RegExp]> = [
    [{ id: 'a', prompt: 'x', temperature: 'hot' }, /temperature: must be number/],
    [{ id: 'a', prompt: 'x', stop: ['a', 7] }, /stop\[1\]: must be string/],
    [{ id: 'a/b', prompt: 'x' }, /id: must match pattern/],
    [{ prompt: 'x' }, /missing field 'id'/],
    [{ id: 'a', prompt: 'x', top_p: 0 }, /top_p: must be > 0/],
    [{ id: 'a', prompt: 'x', seed: 1.5 }, /seed: must be integer/],
    [{ id: 'a', prompt: 'x', reply_to: 'a/#' }, /reply_to: must match pattern/],
    [[1, 2], /request: must be a JSON object/],
  ];
  for (const [body, message] of cases) {
    assert.throws(() => parseInferRequest(JSON.stringify(body)), (e: Error) => e instanceof ProtocolError && e.code === 'invalid_request' && message.test(e.message));
  }
  assert.throws(() => parseCancel('{"id":"a","client":"b"}'), /exactly one of 'id' or 'client'/);
  assert.equal(parseCancel('{"client":"b"}'), { client: 'b' });
});

test('fuzz: any payload gives a request or a ProtocolError, never anything else', () => {
  fc.assert(
    fc.property(fc.oneof(fc.json(), fc.string(), fc.jsonValue().map((v) => JSON.stringify({ id: 'x', prompt: 'p', ...(typeof v === 'object' && v && !Array.isArray(v) ? v : { v }) }))), (payload) => {
      try {
        const r = parseInferRequest(payload);
        assert.type(r.id, 'string');
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
        assert.ok(err.message.length > 0);
      }
    }),
    { numRuns: 2000 },
  );
});

test.run();
