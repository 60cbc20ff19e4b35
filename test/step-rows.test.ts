// A device profile's batch.maxBatchTokens caps the rows of one step (a prefill chunk, a decode
// batch): `wisp serve --profile` passes it, so a long prompt joining a batch stalls the other
// streams for at most one such step. The cap changes the chunking, never the tokens.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { openModel } from '../host/engine/open.js';
import { runToEnd } from '../host/engine/generate.js';
import { ROOT, sharedModel } from './helpers/paths.js';

const STORIES = sharedModel('stories260K.gguf');
const golden = JSON.parse(readFileSync(join(ROOT, 'test', 'golden', 'stories260K-greedy.json'), 'utf8')) as { promptIds: number[]; ids: number[] };

for (const engine of ['wasm', 'routed'] as const) {
  test(`${engine}: maxBatchTokens 3 prefills a 41-token prompt in steps of 3 rows and continues with the golden ids`, async () => {
    const m = await openModel(STORIES, { engine, threads: 1, contextSize: 256, maxBatchTokens: 3, providers: ['cpu'], routing: { default: 'wasm' }, log: () => {} });
    try {
      assert.is(m.model.maxBatch, 3);
      const prompt = [...golden.promptIds, ...golden.ids.slice(0, 40)];
      const r = await runToEnd(m.model, m.tokenizer, prompt, { maxTokens: 20, temperature: 0, ignoreEos: true });
      assert.equal(r.ids, golden.ids.slice(40, 60));
    } finally {
      await m.close();
    }
  });
}

test('without a cap the rows of a step are the backend\'s own; a cap above them changes nothing', async () => {
  const plain = await openModel(STORIES, { threads: 1, contextSize: 256, log: () => {} });
  const high = await openModel(STORIES, { threads: 1, contextSize: 256, maxBatchTokens: 100_000, log: () => {} });
  try {
    assert.ok((plain.model.maxBatch ?? 0) > 3);
    assert.is(high.model.maxBatch, plain.model.maxBatch);
  } finally {
    await plain.close();
    await high.close();
  }
});

test.run();
