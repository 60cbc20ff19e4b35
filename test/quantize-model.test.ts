// `wisp quantize` re-encodes weight matrices with the reference quantizers, tensor by tensor.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { GGMLType } from '../host/model/ggml-types.js';
import { GGUFFile } from '../host/model/gguf/index.js';
import { readLlama2cTokenizer } from '../host/model/llama2c-tokenizer.js';
import { quantizeModel } from '../host/model/quantize-model.js';
import { synthModel } from '../host/model/synth.js';
import { sharedModel } from './helpers/paths.js';

const dir = mkdtempSync(join(tmpdir(), 'wisp-quantize-'));
const vocab = readLlama2cTokenizer(sharedModel('tok512.bin'));
const shape = { dim: 256, nLayers: 2, nHeads: 4, nKvHeads: 2, ffnDim: 512, contextLength: 64 };

for (const [name, type] of [['q8_0', GGMLType.Q8_0], ['q4_0', GGMLType.Q4_0], ['q4_K', GGMLType.Q4_K], ['q6_K', GGMLType.Q6_K], ['f16', GGMLType.F16]] as const) {
  test(`quantizing an f32 model to ${name} gives the tensors synth writes in ${name} from the same weights`, () => {
    const f32 = join(dir, 'f32.gguf');
    const direct = join(dir, `direct-${name}.gguf`);
    const requantized = join(dir, `requantized-${name}.gguf`);
    synthModel(f32, { shape, vocab, type: GGMLType.F32, seed: 4 });
    synthModel(direct, { shape, vocab, type, seed: 4 });
    const r = quantizeModel(f32, requantized, type);
    assert.is(r.changed, 2 + 7 * shape.nLayers); // token embeddings, output and 7 matrices per layer
    const a = GGUFFile.open(direct);
    const b = GGUFFile.open(requantized);
    assert.is(b.number('general.file_type'), a.number('general.file_type'));
    for (const t of a.tensors) {
      assert.is(b.tensorInfo(t.name).type, t.type, t.name);
      assert.ok(Buffer.from(b.tensorBytes(t.name)).equals(Buffer.from(a.tensorBytes(t.name))), `${t.name} bytes differ`);
    }
  });
}

test.after(() => rmSync(dir, { recursive: true, force: true }));
test.run();
